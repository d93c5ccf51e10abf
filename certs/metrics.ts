/**
 * Certificate metrics, on the registry the caller owns (no global registry). Alert on
 * `pod_dns_injector_certificate_not_after_seconds - time() < 7 * 86400`: renewal normally
 * happens with a third of the lifetime left, so a week left means it has been failing.
 */
import { Counter, Gauge, type Registry } from "prom-client";

export type CertificateKind = "ca" | "serving";

export interface CertificateMetrics {
  /** Not-after of the signing CA and of the serving certificate this replica serves (Unix seconds). */
  notAfter: Gauge<"cert">;
  /** Certificates this replica issued to replace existing ones (serving renewals, CA rollovers started); summed over replicas, the cluster's rotations. */
  rotations: Counter<"cert">;
  /** New serving certificates loaded into this replica's HTTPS server without a restart. */
  reloads: Counter<"source">;
  /** caBundle writes that repaired a configuration (a reset by `kubectl apply`, or a new trusted set). */
  caBundleRepairs: Counter<"kind" | "name">;
  /** Failed certificate operations (Secret or caBundle I/O, unusable files), by operation. */
  errors: Counter<"operation">;
}

/** Registers the certificate metrics on `registry`. Call once per registry. */
export function createCertificateMetrics(registry: Registry): CertificateMetrics {
  return {
    notAfter: new Gauge({
      name: "pod_dns_injector_certificate_not_after_seconds",
      help: "Expiry (Unix seconds) of the signing CA (cert=ca) and of the serving certificate this replica serves (cert=serving).",
      labelNames: ["cert"],
      registers: [registry],
    }),
    rotations: new Counter({
      name: "pod_dns_injector_certificate_rotations_total",
      help: "Certificates this replica issued to replace existing ones: serving renewals and re-issues (cert=serving), CA rollovers started (cert=ca).",
      labelNames: ["cert"],
      registers: [registry],
    }),
    reloads: new Counter({
      name: "pod_dns_injector_certificate_reloads_total",
      help: "New serving certificates loaded into the running HTTPS server without a restart, by source (secret, files).",
      labelNames: ["source"],
      registers: [registry],
    }),
    caBundleRepairs: new Counter({
      name: "pod_dns_injector_ca_bundle_repairs_total",
      help: "Webhook configurations whose caBundle this replica rewrote to the trusted CA set.",
      labelNames: ["kind", "name"],
      registers: [registry],
    }),
    errors: new Counter({
      name: "pod_dns_injector_certificate_errors_total",
      help: "Failed certificate operations (reading or writing the Secrets, patching caBundles, loading certificate files), by operation.",
      labelNames: ["operation"],
      registers: [registry],
    }),
  };
}
