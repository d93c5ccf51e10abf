/** Prometheus metrics of the DNS Service guardian, on the caller's registry. */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** One guardian's view: its Service's series (label `service`) and the replica's leader gauge. */
export interface GuardianMetrics {
  repairs: { inc(labels: { kind: string }): void };
  drift: { set(value: number): void };
  driftDetected: { inc(): void };
  restoreLatency: { observe(seconds: number): void };
  conflict: { set(value: number): void };
  leader: { set(value: number): void };
  configError: { set(value: number): void };
}

/** The guardians' metric families; one set per registry, shared by every guardian of a process. */
export interface GuardianMetricFamilies {
  /** The series of one DNS Service (`namespace/name`); its gauges start at 0. */
  forService(service: string): GuardianMetrics;
}

const families = new WeakMap<Registry, GuardianMetricFamilies>();

/**
 * The guardian's repair counters, drift and conflict gauges and restore-latency histogram,
 * on `registry`, by `service`: during a Service-CIDR migration several guardians run, one per
 * DNS Service. Created once per registry (prom-client refuses a second registration).
 */
export function createGuardianMetrics(registry: Registry): GuardianMetricFamilies {
  const existing = families.get(registry);
  if (existing) return existing;
  const repairs = new Counter({
    name: "pod_dns_injector_guardian_repairs_total",
    help: "DNS Service repairs by kind: recreate (it was deleted), drift-recreate (it had another clusterIP).",
    labelNames: ["service", "kind"],
    registers: [registry],
  });
  const drift = new Gauge({
    name: "pod_dns_injector_guardian_drift",
    help: "1 while the DNS Service exists with a clusterIP other than the fixed one.",
    labelNames: ["service"],
    registers: [registry],
  });
  const driftDetected = new Counter({
    name: "pod_dns_injector_guardian_drift_detected_total",
    help: "Times the DNS Service was seen with a clusterIP other than the fixed one.",
    labelNames: ["service"],
    registers: [registry],
  });
  const restoreLatency = new Histogram({
    name: "pod_dns_injector_guardian_restore_latency_seconds",
    help: "From observing the DNS Service's deletion to it being created again on its fixed IP.",
    labelNames: ["service"],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const conflict = new Gauge({
    name: "pod_dns_injector_guardian_ip_conflict",
    help: "1 while another Service holds the DNS Service's fixed clusterIP.",
    labelNames: ["service"],
    registers: [registry],
  });
  const leader = new Gauge({ name: "pod_dns_injector_guardian_leader", help: "1 on the replica that holds the guardian's Lease.", registers: [registry] });
  const configError = new Gauge({
    name: "pod_dns_injector_guardian_config_error",
    help: "1 while the fixed clusterIP cannot be used (e.g. not in the service CIDR).",
    labelNames: ["service"],
    registers: [registry],
  });
  const made: GuardianMetricFamilies = {
    forService(service) {
      const s = { service };
      for (const g of [drift, conflict, configError]) g.set(s, 0);
      return {
        repairs: { inc: ({ kind }) => repairs.inc({ service, kind }) },
        drift: { set: (v) => drift.set(s, v) },
        driftDetected: { inc: () => driftDetected.inc(s) },
        restoreLatency: { observe: (v) => restoreLatency.observe(s, v) },
        conflict: { set: (v) => conflict.set(s, v) },
        leader,
        configError: { set: (v) => configError.set(s, v) },
      };
    },
  };
  families.set(registry, made);
  return made;
}
