/**
 * The guardian's reconcile step: (live DNS Service, fixed IP, last good copy, repair mode)
 * → what to do. Pure; the runner performs the writes (leader only) and reports.
 * clusterIP is immutable, so the only repair for a wrong IP is delete + create.
 */
import type { V1Service } from "@kubernetes/client-node";
import { canonicalIP } from "../config/dns-limits.js";
import { ADDON_MANAGER_LABEL, PRODUCT, RESTORED_BY_ANNOTATION } from "../config/names.js";
import { sameSnapshot, serviceFromSnapshot, snapshotFromService, type ServiceSnapshot } from "./service-snapshot.js";

export interface ReconcileInput {
  /** The Service being kept: a stored copy of another Service is never restored as it. */
  ref: { namespace: string; name: string };
  service: V1Service | undefined;
  /** The configured fixed IP, else the learned one, else null (not known yet). */
  fixedIP: string | null;
  snapshot: ServiceSnapshot | undefined;
  repair: "report" | "recreate";
}

export type ReconcileAction =
  | { kind: "in-sync" }
  | { kind: "learn-ip"; ip: string }
  | { kind: "save-snapshot"; snapshot: ServiceSnapshot }
  | { kind: "create"; service: V1Service }
  | { kind: "cannot-repair"; reason: string }
  | { kind: "drift"; observedIP: string; fixedIP: string; action: "report" | "recreate"; service?: V1Service }
  | { kind: "addon-managed"; observedIP: string | null; fixedIP: string | null };

/**
 * One reconcile step of the guardian: what to do about the DNS Service as observed. Pure;
 * the runner (guardian.ts) performs the writes, on the leader only, in the order given.
 *
 * Contract, by case:
 * - missing: `create` from the last good snapshot on `fixedIP`, annotated as restored by us;
 *   `cannot-repair` (with the reason) without a fixed IP, without a snapshot, or when
 *   kube-addon-manager owns it (it recreates the Service itself);
 * - present on the expected IP (`fixedIP`, else the observed one): `in-sync`, or
 *   `save-snapshot` when it differs from the stored copy; `learn-ip` first when no IP was
 *   known yet;
 * - owned by kube-addon-manager: never a write to the Service, only `addon-managed` (and a
 *   snapshot when it is on the expected IP);
 * - on another IP, or headless (drift): `drift` with `recreate` and the Service to recreate
 *   (from the snapshot, else from the drifted object) when `repair` is recreate and an IP is
 *   known, else `drift` with `report`. A drifted Service never replaces the snapshot.
 *
 * Never returns an empty list.
 */
export function reconcileDNSService(input: ReconcileInput): ReconcileAction[] {
  const { service, fixedIP } = input;
  const snapshot = ownSnapshot(input);
  if (!service) {
    if (!fixedIP) return [{ kind: "cannot-repair", reason: "the DNS Service is missing and no fixed clusterIP is configured or was ever observed" }];
    if (!snapshot) return [{ kind: "cannot-repair", reason: "the DNS Service is missing and there is no last good copy of it to recreate from" }];
    // The label left with the object, but the last good copy remembers who owns it:
    // kube-addon-manager recreates it from its own manifest (which may have moved on).
    if (snapshot.labels[ADDON_MANAGER_LABEL] === "Reconcile") {
      return [
        {
          kind: "cannot-repair",
          reason: `the DNS Service is missing; it is managed by kube-addon-manager (${ADDON_MANAGER_LABEL}=Reconcile), which recreates it, so ${PRODUCT} does not`,
        },
      ];
    }
    return [{ kind: "create", service: serviceFromSnapshot(snapshot, fixedIP, { [RESTORED_BY_ANNOTATION]: PRODUCT }) }];
  }
  const observed = service.spec?.clusterIP ? canonicalIP(service.spec.clusterIP) : null;
  const actions: ReconcileAction[] = [];
  const effectiveIP = fixedIP ?? observed;
  if (!fixedIP && observed) actions.push({ kind: "learn-ip", ip: observed });

  if (service.metadata?.labels?.[ADDON_MANAGER_LABEL] === "Reconcile") {
    // kube-addon-manager owns it: never write the Service, but keep a copy and say so.
    if (observed && observed === effectiveIP) pushSnapshot(actions, service, snapshot);
    actions.push({ kind: "addon-managed", observedIP: observed, fixedIP: effectiveIP });
    return actions;
  }
  if (observed && observed === effectiveIP) {
    pushSnapshot(actions, service, snapshot);
    return actions.length ? actions : [{ kind: "in-sync" }];
  }
  // Drifted (another IP, or headless). The drifted copy is not "good": the snapshot stays.
  const observedText = observed ?? service.spec?.clusterIP ?? "none";
  if (input.repair === "recreate" && effectiveIP) {
    const base = snapshot ?? snapshotFromService(service);
    return [
      ...actions,
      { kind: "drift", observedIP: observedText, fixedIP: effectiveIP, action: "recreate", service: serviceFromSnapshot(base, effectiveIP, { [RESTORED_BY_ANNOTATION]: PRODUCT }) },
    ];
  }
  return [...actions, { kind: "drift", observedIP: observedText, fixedIP: effectiveIP ?? "unknown", action: "report" }];
}

/**
 * The stored copy if it is of this Service. The ConfigMap of the Service `dnsService` names
 * holds whichever Service that was when it was written (the end of a Service-CIDR migration
 * renames it): another Service's copy counts as none.
 */
function ownSnapshot({ snapshot, ref }: ReconcileInput): ServiceSnapshot | undefined {
  return snapshot && snapshot.namespace === ref.namespace && snapshot.name === ref.name ? snapshot : undefined;
}

function pushSnapshot(actions: ReconcileAction[], service: V1Service, stored: ServiceSnapshot | undefined): void {
  const fresh = snapshotFromService(service);
  if (!sameSnapshot(fresh, stored)) actions.push({ kind: "save-snapshot", snapshot: fresh });
}
