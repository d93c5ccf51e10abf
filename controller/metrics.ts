/** Prometheus metrics of the DNS Service guardian, on the caller's registry. */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface GuardianMetrics {
  repairs: Counter<"kind">;
  drift: Gauge;
  driftDetected: Counter;
  restoreLatency: Histogram;
  conflict: Gauge;
  leader: Gauge;
  configError: Gauge;
}

/** The guardian's repair counters, drift gauge and restore-latency histogram, on `registry`. */
export function createGuardianMetrics(registry: Registry): GuardianMetrics {
  return {
    repairs: new Counter({
      name: "pod_dns_injector_guardian_repairs_total",
      help: "DNS Service repairs by kind: recreate (it was deleted), drift-recreate (it had another clusterIP).",
      labelNames: ["kind"],
      registers: [registry],
    }),
    drift: new Gauge({ name: "pod_dns_injector_guardian_drift", help: "1 while the DNS Service exists with a clusterIP other than the fixed one.", registers: [registry] }),
    driftDetected: new Counter({ name: "pod_dns_injector_guardian_drift_detected_total", help: "Times the DNS Service was seen with a clusterIP other than the fixed one.", registers: [registry] }),
    restoreLatency: new Histogram({
      name: "pod_dns_injector_guardian_restore_latency_seconds",
      help: "From observing the DNS Service's deletion to it being created again on its fixed IP.",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    conflict: new Gauge({ name: "pod_dns_injector_guardian_ip_conflict", help: "1 while another Service holds the DNS Service's fixed clusterIP.", registers: [registry] }),
    leader: new Gauge({ name: "pod_dns_injector_guardian_leader", help: "1 on the replica that holds the guardian's Lease.", registers: [registry] }),
    configError: new Gauge({ name: "pod_dns_injector_guardian_config_error", help: "1 while the fixed clusterIP cannot be used (e.g. not in the service CIDR).", registers: [registry] }),
  };
}
