/**
 * The benchmark's request: an AdmissionReview for a realistic Deployment-made pod of about
 * 5 KB (what the API server sends after defaulting: several containers, env, volumes and
 * mounts, resources, probes, existing labels and annotations). The pod has no dnsPolicy
 * (ClusterFirst), so in an `enabled` namespace every review is an `inject` with a patch:
 * the webhook's most expensive path.
 */

/** The namespace the reviews come from; standalone facts count it as `enabled`. */
export const BENCH_NAMESPACE = "shop-prod";

const probe = (path: string, port: number, initialDelaySeconds: number) => ({
  httpGet: { path, port, scheme: "HTTP" },
  initialDelaySeconds,
  timeoutSeconds: 1,
  periodSeconds: 10,
  successThreshold: 1,
  failureThreshold: 3,
});

const fieldRef = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } } });

/** A pod as the ReplicaSet controller creates it: generateName, no name, defaulted fields. */
export function benchPod(): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: "checkout-api-7d9c6b5f8d-",
      namespace: BENCH_NAMESPACE,
      labels: {
        app: "checkout-api",
        "app.kubernetes.io/name": "checkout-api",
        "app.kubernetes.io/instance": "checkout-api-prod",
        "app.kubernetes.io/version": "2.14.3",
        "pod-template-hash": "7d9c6b5f8d",
        team: "payments",
      },
      annotations: {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
        "prometheus.io/path": "/metrics",
        "kubectl.kubernetes.io/restartedAt": "2024-11-05T09:12:44Z",
        "checksum/config": "3f1c2a9be0d84e6b7a55c1f0e9d2b4a6c8e7f1029384756abcdef0123456789",
      },
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: "checkout-api-7d9c6b5f8d",
          uid: "0c8a3f4e-5b6d-4e7f-8a9b-1c2d3e4f5a6b",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      serviceAccountName: "checkout-api",
      automountServiceAccountToken: true,
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      schedulerName: "default-scheduler",
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: "PreemptLowerPriority",
      securityContext: { runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
      initContainers: [
        {
          name: "migrate",
          image: "registry.example.com/shop/checkout-api:2.14.3",
          command: ["/app/checkout-api", "migrate", "--wait"],
          env: [{ name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "checkout-db", key: "url" } } }],
          resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
          volumeMounts: [{ name: "kube-api-access-x7k2p", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true }],
          terminationMessagePath: "/dev/termination-log",
          terminationMessagePolicy: "File",
          imagePullPolicy: "IfNotPresent",
        },
      ],
      containers: [
        {
          name: "api",
          image: "registry.example.com/shop/checkout-api:2.14.3",
          args: ["serve", "--listen=:8080", "--metrics-listen=:9090", "--log-format=json"],
          ports: [
            { name: "http", containerPort: 8080, protocol: "TCP" },
            { name: "metrics", containerPort: 9090, protocol: "TCP" },
          ],
          env: [
            fieldRef("POD_NAME", "metadata.name"),
            fieldRef("POD_NAMESPACE", "metadata.namespace"),
            fieldRef("POD_IP", "status.podIP"),
            { name: "LOG_LEVEL", value: "info" },
            { name: "PAYMENTS_ENDPOINT", value: "http://payments.shop-prod.svc.cluster.local:8080" },
            { name: "INVENTORY_ENDPOINT", value: "http://inventory.shop-prod.svc.cluster.local:8080" },
            { name: "REDIS_ADDR", value: "redis-master.shop-prod.svc.cluster.local:6379" },
            { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "checkout-db", key: "url" } } },
          ],
          envFrom: [{ configMapRef: { name: "checkout-api-config" } }],
          resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } },
          livenessProbe: probe("/healthz", 8080, 10),
          readinessProbe: probe("/readyz", 8080, 5),
          volumeMounts: [
            { name: "config", mountPath: "/etc/checkout", readOnly: true },
            { name: "tls", mountPath: "/etc/tls", readOnly: true },
            { name: "tmp", mountPath: "/tmp" },
            { name: "kube-api-access-x7k2p", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true },
          ],
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
          terminationMessagePath: "/dev/termination-log",
          terminationMessagePolicy: "File",
          imagePullPolicy: "IfNotPresent",
        },
        {
          name: "envoy",
          image: "registry.example.com/mesh/envoy:1.31.2",
          args: ["-c", "/etc/envoy/envoy.yaml", "--service-cluster", "checkout-api", "--drain-time-s", "20"],
          ports: [{ name: "envoy-admin", containerPort: 15000, protocol: "TCP" }],
          env: [fieldRef("POD_NAME", "metadata.name"), fieldRef("POD_NAMESPACE", "metadata.namespace"), { name: "ENVOY_LOG_LEVEL", value: "warn" }],
          resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
          volumeMounts: [
            { name: "envoy-config", mountPath: "/etc/envoy", readOnly: true },
            { name: "tls", mountPath: "/etc/tls", readOnly: true },
          ],
          terminationMessagePath: "/dev/termination-log",
          terminationMessagePolicy: "File",
          imagePullPolicy: "IfNotPresent",
        },
      ],
      volumes: [
        { name: "config", configMap: { name: "checkout-api-config", defaultMode: 420 } },
        { name: "envoy-config", configMap: { name: "checkout-envoy", defaultMode: 420 } },
        { name: "tls", secret: { secretName: "checkout-api-tls", defaultMode: 256 } },
        { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
        {
          name: "kube-api-access-x7k2p",
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
              { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
              { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
            ],
          },
        },
      ],
      tolerations: [
        { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
        { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      ],
    },
  };
}

/** The benchmarks' request as sent: benchReview()'s JSON body and its uid (every answer must echo it). */
export function benchRequest(): { body: string; uid: string } {
  const review = benchReview();
  return { body: JSON.stringify(review), uid: (review.request as { uid: string }).uid };
}

/** The AdmissionReview the API server would POST for `benchPod()`. */
export function benchReview(): Record<string, unknown> {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "b3a4c1d2-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      requestResource: { group: "", version: "v1", resource: "pods" },
      namespace: BENCH_NAMESPACE,
      operation: "CREATE",
      userInfo: {
        username: "system:serviceaccount:kube-system:replicaset-controller",
        uid: "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
        groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
      },
      object: benchPod(),
      oldObject: null,
      dryRun: false,
      options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1" },
    },
  };
}
