/**
 * The user-facing contract: every label, annotation, port, path and resource name the
 * product reads or writes. Code, manifests and docs take names from here so they cannot
 * drift apart (PRODUCT.md "Names").
 */

export const PRODUCT = "pod-dns-injector";
/**
 * The CLI's second executable name, for kubectl's plugin mechanism: `kubectl pod-dns-injector`
 * runs `kubectl-pod_dns_injector` from PATH (dashes in a plugin command are underscores in the
 * file name: https://kubernetes.io/docs/tasks/extend-kubectl/kubectl-plugins/).
 */
export const KUBECTL_PLUGIN_BIN = `kubectl-${PRODUCT.replaceAll("-", "_")}`;
export const DOMAIN = "pod-dns-injector.io";

/** Namespace label selecting the mode; also the pod opt-out label (value "false"). */
export const INJECT_LABEL = `${DOMAIN}/inject`;
/**
 * On a namespace: its DNS profile and ndots override. On a pod (template) too: the pod's own
 * profile (which the namespace's allowed-profiles may restrict) and its own ndots.
 */
export const PROFILE_ANNOTATION = `${DOMAIN}/profile`;
export const NDOTS_ANNOTATION = `${DOMAIN}/ndots`;
/** On a namespace: the profiles its pods may pick (comma list); absent or empty: any. */
export const ALLOWED_PROFILES_ANNOTATION = `${DOMAIN}/allowed-profiles`;
export const SEARCHES_ANNOTATION = `${DOMAIN}/searches`;
/** Written on every pod we inject: `<profile>@<short hash of the applied dnsConfig>`. */
export const INJECTED_ANNOTATION = `${DOMAIN}/injected`;
/**
 * The hash part of the injected annotation when the in-tree MutatingAdmissionPolicy injected
 * the pod (`<profile>@policy`): CEL has no hash function, so the policy marks its work instead.
 */
export const POLICY_INJECTION_MARK = "policy";

/** Kubelet marks static (mirror) pods with this annotation; they cannot be changed by us. */
export const MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror";
/** The well-known node label a pod's nodeSelector names its OS with (`windows`, `linux`). */
export const OS_NODE_LABEL = "kubernetes.io/os";
/** Set by the API server on every namespace since 1.21; used by our namespaceSelector. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

export const NAMESPACE_MODES = ["enabled", "audit", "disabled"] as const;
export type NamespaceMode = (typeof NAMESPACE_MODES)[number];
export const POD_OPT_OUT_VALUE = "false";
/** `admission.mode`: who injects (PRODUCT.md "Names"). */
export const ADMISSION_MODES = ["webhook", "policy", "both"] as const;

export const DEFAULT_INJECTOR_NAMESPACE = PRODUCT;
export const MUTATING_WEBHOOK_CONFIGURATION = PRODUCT;
export const VALIDATING_WEBHOOK_CONFIGURATION = PRODUCT;
/** Fully qualified webhook name; the API server prefixes audit annotation keys with it. */
export const MUTATING_WEBHOOK_NAME = `pods.${DOMAIN}`;
export const VALIDATING_WEBHOOK_NAME = `services.${DOMAIN}`;
/** The deletion guard's webhook: DELETE and breaking UPDATEs of the DNS Service only. */
export const DNS_SERVICE_GUARD_WEBHOOK_NAME = `dns-service.${DOMAIN}`;
/**
 * Set to "true" on the DNS Service to delete it (or change it in a way that breaks DNS)
 * deliberately while the deletion guard is on.
 */
export const ALLOW_DELETE_ANNOTATION = `${DOMAIN}/allow-delete`;
/** The ServiceAccount the Deployment runs as; the guardian's own recreate is not refused. */
export const INJECTOR_SERVICE_ACCOUNT = PRODUCT;
export const WEBHOOK_SERVICE = PRODUCT;

export const WEBHOOK_PORT = 8443;
export const OPS_PORT = 8080;
export const MUTATE_PATH = "/mutate";
export const VALIDATE_PATH = "/validate";
export const HEALTHZ_PATH = "/healthz";
export const READYZ_PATH = "/readyz";
export const METRICS_PATH = "/metrics";

/** kubeadm's defaults: the DNS Service and the 10th address of the default service range. */
export const DEFAULT_DNS_SERVICE = { namespace: "kube-system", name: "kube-dns" } as const;
export const DEFAULT_DNS_SERVICE_IP = "10.96.0.10";
export const DEFAULT_CLUSTER_DOMAIN = "cluster.local";
export const DEFAULT_PROFILE = "default";
/** Never mutated, whatever their labels say (the injector's own namespace is added at runtime). */
export const ALWAYS_EXCLUDED_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"] as const;

/** Kubernetes' recommended labels, on every object we create (`kubectl get -l` finds ours). */
export const APP_NAME_LABEL = "app.kubernetes.io/name";
export const APP_COMPONENT_LABEL = "app.kubernetes.io/component";
/** Also marks a PolicyReport as ours: the writer lists, updates and deletes only these. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";

/** The Lease the leader-only work (guardian, background audit) runs under. */
export const GUARDIAN_LEASE = `${PRODUCT}-guardian`;
/** The guardian's last good copy of the DNS Service (a ConfigMap in the injector's namespace). */
export const SNAPSHOT_CONFIGMAP = `${PRODUCT}-dns-service`;
/** kube-addon-manager owns objects with this label and reconciles them every minute or so. */
export const ADDON_MANAGER_LABEL = "addonmanager.kubernetes.io/mode";
/** Written on Services we recreate, so an operator can tell who put it back. */
export const RESTORED_BY_ANNOTATION = `${DOMAIN}/restored-by`;

/** Certificate Secrets (certs/secret-layout.ts): request a rotation; any new value triggers one. */
export const ROTATE_ANNOTATION = `${DOMAIN}/rotate`;
/** The last `rotate` value acted upon. */
export const ROTATED_ANNOTATION = `${DOMAIN}/rotated`;
/** When the injector wrote the serving certificate (RFC 3339). */
export const ISSUED_AT_ANNOTATION = `${DOMAIN}/issued-at`;

/** PolicyReports (wgpolicyk8s.io/v1alpha2), what `audit --write-reports` writes. */
export const POLICY_REPORT_GROUP = "wgpolicyk8s.io";
export const POLICY_REPORT_VERSION = "v1alpha2";
export const POLICY_REPORT_PLURAL = "policyreports";
export const POLICY_REPORT_KIND = "PolicyReport";
/** The CustomResourceDefinition that must exist for reports to be written. */
export const POLICY_REPORT_CRD = `${POLICY_REPORT_PLURAL}.${POLICY_REPORT_GROUP}`;
/** Every result's `source`: the engine that manages the report. */
export const POLICY_REPORT_SOURCE = PRODUCT;
/** Name of a namespace's report; further parts get `-2`, `-3`, ... */
export const POLICY_REPORT_NAME = PRODUCT;
/** "2/3" on split reports. */
export const REPORT_PART_ANNOTATION = `${DOMAIN}/report-part`;
/** The nameserver the audit expected, for whoever reads the report later. */
export const DNS_SERVICE_IP_ANNOTATION = `${DOMAIN}/dns-service-ip`;

/** OpenReports (openreports.io/v1alpha1), the wgpolicyk8s API's successor: namespaced `Report`s. */
export const OPEN_REPORT_GROUP = "openreports.io";
export const OPEN_REPORT_VERSION = "v1alpha1";
export const OPEN_REPORT_PLURAL = "reports";
export const OPEN_REPORT_KIND = "Report";
export const OPEN_REPORT_CRD = `${OPEN_REPORT_PLURAL}.${OPEN_REPORT_GROUP}`;

/** The report APIs the audit writes: `audit.reports` and `audit --reports` pick one or both. */
export const REPORT_APIS = ["wgpolicyk8s", "openreports"] as const;
export type ReportApi = (typeof REPORT_APIS)[number];
export const AUDIT_REPORTS_CHOICES = [...REPORT_APIS, "both"] as const;
export type AuditReportsChoice = (typeof AUDIT_REPORTS_CHOICES)[number];

export interface ReportApiNames {
  group: string;
  version: string;
  plural: string;
  kind: string;
  crd: string;
  /** What messages call one object, and several ("PolicyReport", "openreports.io Report"). */
  title: string;
  titlePlural: string;
}

export const REPORT_API_NAMES: Readonly<Record<ReportApi, ReportApiNames>> = {
  wgpolicyk8s: {
    group: POLICY_REPORT_GROUP,
    version: POLICY_REPORT_VERSION,
    plural: POLICY_REPORT_PLURAL,
    kind: POLICY_REPORT_KIND,
    crd: POLICY_REPORT_CRD,
    title: "PolicyReport",
    titlePlural: "PolicyReports",
  },
  openreports: {
    group: OPEN_REPORT_GROUP,
    version: OPEN_REPORT_VERSION,
    plural: OPEN_REPORT_PLURAL,
    kind: OPEN_REPORT_KIND,
    crd: OPEN_REPORT_CRD,
    title: `${OPEN_REPORT_GROUP} Report`,
    titlePlural: `${OPEN_REPORT_GROUP} Reports`,
  },
};

/** The APIs a setting (or flag) value names, in a fixed order. */
export function reportApisOf(choice: AuditReportsChoice): ReportApi[] {
  return choice === "both" ? [...REPORT_APIS] : [choice];
}
