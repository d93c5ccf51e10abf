/**
 * A real single-node cluster for tests: the control-plane harness (kube-apiserver, etcd,
 * kube-controller-manager) plus containerd + runc, kubelet, kube-proxy (nftables),
 * kube-scheduler and CoreDNS behind kube-system/kube-dns on 10.96.0.10, on a bridge this
 * harness creates. Nothing leaves the machine: pods have no default route, and a forward
 * rule drops whatever would go from the bridge to another interface.
 *
 * The host is left as it was found: {@link RealNode.stop} tears everything down and returns
 * the differences between the host before and after (the tests assert there are none). A
 * test process that dies mid-run leaves a marker with the "before" snapshot; the next start
 * cleans up from it first.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { stringify as toYaml } from "yaml";
import { freePorts } from "../control-plane/processes.js";
import { startControlPlane, type ControlPlane, type HarnessProcess } from "../control-plane/harness.js";
import { kubeadmKubeDNS } from "../e2e/kube.js";
import { resolveNodeBinaries, type NodeBinaries } from "./binaries.js";
import { CNI_BIN_DIR, CONTAINERD, CTR, RUNC, ensureHostPackages } from "./host-packages.js";
import { captureHostState, diffHostStates, type HostState, type HostStateDifference } from "./host-state.js";
import { buildNodeImages, type NodeImages } from "./images.js";

/** The node's network: one bridge, one /24 of pod addresses, the harness's service range. */
export const NODE_NETWORK = {
  bridge: "cni0",
  gateway: "10.244.0.1",
  podCidr: "10.244.0.0/24",
  serviceCidr: "10.96.0.0/16",
  dnsServiceIP: "10.96.0.10",
  clusterDomain: "cluster.local",
  /** Where pods reach the API server: a relay on the bridge address (see startRelay). */
  apiRelayPort: 6443,
} as const;

/** Our own nft table: the forward rule that keeps pod traffic on the machine. */
const NFT_TABLE = "pod-dns-injector-node";
/** Survives a crashed run: the "before" snapshot the next start restores the host to. */
const MARKER_DIR = "/run/pod-dns-injector-node";
const MARKER = join(MARKER_DIR, "state.json");
const NODE_NAME = "pdi-node";

/** Options of {@link startRealNode}. */
export interface RealNodeOptions {
  /** More OCI archives to import into containerd's k8s.io namespace (the product image). */
  extraImages?: string[];
  /** Progress lines (bring-up phases and their times). */
  log?: (line: string) => void;
}

/** Outcome of a command; a non-zero code is returned, not thrown. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A running node; {@link stop} it (idempotent). */
export interface RealNode {
  readonly cp: ControlPlane;
  readonly nodeName: string;
  readonly binaries: NodeBinaries;
  readonly images: NodeImages;
  /** Milliseconds per bring-up phase, and `total`. */
  readonly timings: Record<string, number>;
  /** Runs `ctr` against this node's containerd, namespace k8s.io. */
  ctr(args: string[]): Promise<CommandResult>;
  /** Imports an OCI archive into containerd (namespace k8s.io), where kubelet finds it. */
  importImage(archive: string): Promise<void>;
  /** Process logs of the control plane and the node components. */
  logTail(lines?: number): string;
  /**
   * Deletes every pod (kubelet tears down their sandboxes and networks), stops the node and
   * the control plane, removes whatever is left, and returns how the host differs from
   * before the start (empty when it is as it was).
   */
  stop(): Promise<HostStateDifference[]>;
}

// --- small process helpers ------------------------------------------------------------------

async function run(cmd: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"], timeout: options.timeoutMs ?? 60_000, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (err) => reject(new Error(`${cmd} ${args.join(" ")}`, { cause: err })));
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs a command that must succeed. */
async function must(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Runs a clean-up command; a failure is collected, not thrown (clean-up goes on). */
async function attempt(problems: string[], cmd: string, args: string[]): Promise<void> {
  try {
    const r = await run(cmd, args, { timeoutMs: 30_000 });
    if (r.code !== 0) problems.push(`${cmd} ${args.join(" ")}: ${(r.stderr || r.stdout).trim()}`);
  } catch (err) {
    problems.push(`${cmd} ${args.join(" ")}: ${(err as Error).message}`);
  }
}

/** Thrown by an {@link until} probe to stop waiting at once (a process died). */
class FatalError extends Error {}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof FatalError) throw err;
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
    await delay(intervalMs);
  }
}

// --- configuration files ----------------------------------------------------------------------

function containerdConfig(dir: string, sandboxImage: string): string {
  // TOML by hand: a dozen keys, and the `yaml` dependency has no TOML sibling worth adding.
  return `version = 2
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${dir}/containerd/containerd.sock"

[ttrpc]
  address = "${dir}/containerd/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage}"
  # The VM has no CAP_SYS_RESOURCE: without this every sandbox fails with
  # "nsexec: failed to update /proc/self/oom_score_adj: Permission denied".
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = "${RUNC}"
  Root = "${dir}/runc"
  SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "${CNI_BIN_DIR}"
  conf_dir = "${dir}/cni/net.d"
  max_conf_num = 1
`;
}

function cniConfig(dir: string): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "pod-dns-injector-node",
      plugins: [
        {
          type: "bridge",
          bridge: NODE_NETWORK.bridge,
          isGateway: true,
          ipMasq: false,
          // A pod that reaches itself through a Service (kube-proxy DNAT back to the same veth).
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: join(dir, "cni", "ipam"),
            ranges: [[{ subnet: NODE_NETWORK.podCidr, gateway: NODE_NETWORK.gateway }]],
            // Only the service range is routed (to the host, where kube-proxy NATs it): no
            // default route, so a pod cannot even try to reach the outside.
            routes: [{ dst: NODE_NETWORK.serviceCidr }],
          },
        },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(dir: string, ports: { kubelet: number; healthz: number }, caFile: string, socket: string): string {
  return toYaml({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // 1.37 refuses cgroup v1 unless told this host is knowingly on it.
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    containerRuntimeEndpoint: `unix://${socket}`,
    clusterDNS: [NODE_NETWORK.dnsServiceIP],
    clusterDomain: NODE_NETWORK.clusterDomain,
    // The host's resolv.conf would add its search domains to ClusterFirst pods; a file of
    // our own keeps what pods see independent of the machine.
    resolvConf: join(dir, "host-resolv.conf"),
    address: NODE_NETWORK.gateway,
    port: ports.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: ports.healthz,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: caFile } },
    authorization: { mode: "Webhook" },
    podLogsDir: join(dir, "pod-logs"),
    failSwapOn: false,
    // A shared test VM: never evict or garbage-collect images because of its disk.
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    // Pod status reaches the API server faster; the node is small.
    nodeStatusUpdateFrequency: "4s",
    syncFrequency: "10s",
    fileCheckFrequency: "0s",
    staticPodPath: "",
    makeIPTablesUtilChains: false,
  });
}

function kubeProxyConfig(kubeconfig: string, ports: { healthz: number; metrics: number }): string {
  return toYaml({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "nftables",
    clientConnection: { kubeconfig },
    hostnameOverride: NODE_NAME,
    bindAddress: NODE_NETWORK.gateway,
    clusterCIDR: NODE_NETWORK.podCidr,
    healthzBindAddress: `127.0.0.1:${ports.healthz}`,
    metricsBindAddress: `127.0.0.1:${ports.metrics}`,
    nodePortAddresses: [`${NODE_NETWORK.gateway}/32`],
    // Zeros mean "leave the host's conntrack sysctls alone".
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s", udpTimeout: "0s", udpStreamTimeout: "0s" },
  });
}

const COREFILE = `.:53 {
    errors
    ready :8181
    kubernetes ${NODE_NETWORK.clusterDomain} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    prometheus :9153
    loadbalance
}
`;

/** CoreDNS as kubeadm installs it, minus the `forward` plugin: nothing may leave the machine. */
function corednsObjects(image: string): object[] {
  const labels = { "k8s-app": "kube-dns" };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "coredns", namespace: "kube-system" } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "system:coredns" },
      rules: [
        { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "system:coredns" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
      subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: "kube-system" }],
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "coredns", namespace: "kube-system" }, data: { Corefile: COREFILE } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "coredns", namespace: "kube-system", labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "coredns",
            dnsPolicy: "Default",
            priorityClassName: "system-cluster-critical",
            containers: [
              {
                name: "coredns",
                image,
                imagePullPolicy: "Never",
                args: ["-conf", "/etc/coredns/Corefile"],
                ports: [
                  { name: "dns", containerPort: 53, protocol: "UDP" },
                  { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                  { name: "metrics", containerPort: 9153, protocol: "TCP" },
                ],
                readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 1 },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] },
                },
                volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
              },
            ],
            volumes: [{ name: "config", configMap: { name: "coredns" } }],
          },
        },
      },
    },
    kubeadmKubeDNS(NODE_NETWORK.dnsServiceIP),
  ];
}

/** The `kubernetes` Service's endpoints: the relay on the bridge (the API server is on 127.0.0.1). */
function apiRelayEndpointSlice(): object {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: "kubernetes-node-relay",
      namespace: "default",
      labels: { "kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "pod-dns-injector-test" },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: [NODE_NETWORK.gateway], conditions: { ready: true } }],
    ports: [{ name: "https", port: NODE_NETWORK.apiRelayPort, protocol: "TCP" }],
  };
}

// --- host set-up and clean-up -------------------------------------------------------------------

interface Marker {
  before: HostState;
  dir: string;
}

function readMarker(): Marker | undefined {
  try {
    return JSON.parse(readFileSync(MARKER, "utf8")) as Marker;
  } catch {
    return undefined;
  }
}

async function setUpNetwork(): Promise<void> {
  const { bridge, gateway } = NODE_NETWORK;
  await must("ip", ["link", "add", bridge, "type", "bridge"]);
  await must("ip", ["addr", "add", `${gateway}/24`, "dev", bridge]);
  await must("ip", ["link", "set", bridge, "up"]);
  // No packet from a pod leaves the machine, whatever route a pod or kube-proxy adds:
  // forwarding from the bridge to any other interface (and into it from outside) is dropped.
  await must(
    "nft",
    ["-f", "-"],
    `table inet ${NFT_TABLE} {
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "${bridge}" oifname != "${bridge}" counter drop
    oifname "${bridge}" iifname != "${bridge}" counter drop
  }
}
`,
  );
  // Pod to Service to pod is routed (DNAT on the host), so forwarding must be on.
  await must("sysctl", ["-w", "net.ipv4.ip_forward=1"]);
}

/** Tables our node creates: ours, kube-proxy's, and the ones iptables-nft makes for kubelet. */
const OWNED_NFT_TABLES = [`inet ${NFT_TABLE}`, "ip kube-proxy", "ip6 kube-proxy", ...["filter", "nat", "mangle", "raw", "security"].flatMap((t) => [`ip ${t}`, `ip6 ${t}`])];

/** Processes only a node of ours runs (containerd and runc may also be someone else's). */
const NODE_ONLY_PROCESSES = ["kubelet", "kube-proxy", "kube-scheduler", "coredns", "socat", "pause", "dnsprobe"];

/**
 * Whether a line that appeared in a snapshot part is the node's doing. Other work on a
 * shared machine (another containerd, another test's netns) may come and go meanwhile:
 * never touch it, never count it as our leftover.
 */
function isOurs(part: keyof HostState, line: string, dir: string): boolean {
  switch (part) {
    case "processes":
      return line.includes(dir) || NODE_ONLY_PROCESSES.includes(line.split(" ")[0] ?? "");
    case "mounts": {
      const point = line.split(" ")[0] ?? "";
      return (
        point.startsWith(`${dir}/`) ||
        point.startsWith("/run/netns/cni-") ||
        point === "/run/netns" ||
        point.startsWith("/run/containerd/") ||
        point.startsWith("/var/lib/kubelet/")
      );
    }
    case "netns":
      return line.startsWith("cni-");
    case "links":
      return line.startsWith(`${NODE_NETWORK.bridge}:`) || /master cni0\b/.test(line) || /^veth/.test(line);
    case "nftTables":
      return OWNED_NFT_TABLES.includes(line.replace(/^table /, ""));
    case "files":
      return !line.startsWith("/run/netns/") || line.startsWith("/run/netns/cni-");
    case "sysctls": {
      // Per-interface keys come and go with their interface: ours are the bridge's and veths'.
      const iface = /^net\.ipv[46]\.(?:conf|neigh)\.([^.]+)\./.exec(line)?.[1];
      return iface === undefined || iface === "all" || iface === "default" || iface === NODE_NETWORK.bridge || iface.startsWith("veth");
    }
    default:
      return true;
  }
}

/**
 * The differences that are ours (see {@link isOurs}): what the node left behind. Only
 * additions count (a changed sysctl is an added `key = new value` line); what disappeared
 * was someone else's, since the node removes nothing it did not create.
 */
function ourLeftovers(before: HostState, after: HostState, dir: string): HostStateDifference[] {
  return diffHostStates(before, after)
    .map((d) => ({ part: d.part, added: d.added.filter((l) => isOurs(d.part, l, dir)), removed: [] }))
    .filter((d) => d.added.length > 0);
}

function descendantsOf(roots: Set<number>): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirNumeric("/proc")) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(entry, ppid);
    } catch {
      // Gone.
    }
  }
  const out: number[] = [];
  for (const [pid] of parent) {
    let p: number | undefined = pid;
    for (let depth = 0; p !== undefined && p > 1 && depth < 64; depth++) {
      if (roots.has(p)) {
        out.push(pid);
        break;
      }
      p = parent.get(p);
    }
  }
  return out;
}

function readdirNumeric(dir: string): number[] {
  try {
    return readdirSync(dir)
      .filter((e) => /^\d+$/.test(e))
      .map(Number);
  } catch {
    return [];
  }
}

/** containerd shims started for the containerd whose files live in `dir`, and what runs under them. */
function leftoverProcesses(dir: string): number[] {
  const shims = new Set<number>();
  for (const pid of readdirNumeric("/proc")) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmdline.includes("containerd-shim") && cmdline.includes(dir)) shims.add(pid);
    } catch {
      // Gone.
    }
  }
  return [...shims, ...descendantsOf(shims)];
}

/** Cgroup directories under `top`, deepest first (rmdir order). */
function cgroupTree(top: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
    out.push(d);
  };
  walk(top);
  return out;
}

/**
 * Puts back whatever differs from `before`: kills leftover shims and containers, unmounts,
 * deletes network namespaces, links, nft tables and cgroups that appeared, restores
 * sysctls, removes new files in the watched directories and the node's own directory.
 * Every step runs even if an earlier one failed; the failures are returned.
 */
async function restoreHost(before: HostState, dir: string): Promise<string[]> {
  const problems: string[] = [];
  // 1. Processes: shims of our containerd and everything under them.
  const pids = leftoverProcesses(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  if (pids.length > 0) await delay(500);
  let diffs = ourLeftovers(before, captureHostState(), dir);
  const added = (part: keyof HostState) => diffs.find((d) => d.part === part)?.added ?? [];
  // 2. Mounts, deepest first; lazily, so a busy one still leaves the namespace.
  const mountPoints = added("mounts")
    .map((m) => m.split(" ")[0] ?? "")
    .sort((a, b) => b.length - a.length);
  for (const m of mountPoints) await attempt(problems, "umount", ["-l", m]);
  // 3. Network namespaces (their veth ends go with them), then links: veths, the bridge.
  for (const ns of added("netns")) await attempt(problems, "ip", ["netns", "delete", ns]);
  diffs = ourLeftovers(before, captureHostState(), dir);
  // The veths still on our bridge (a pod whose netns was not ours to delete), then the bridge.
  const onBridge = (await run("ip", ["-o", "link", "show", "master", NODE_NETWORK.bridge])).stdout;
  for (const line of onBridge.split("\n").filter(Boolean)) {
    const name = (line.replace(/^\d+:\s*/, "").split(":")[0] ?? "").split("@")[0] ?? "";
    if (name) await attempt(problems, "ip", ["link", "delete", name]);
  }
  if (added("links").some((l) => l.startsWith(`${NODE_NETWORK.bridge}:`))) await attempt(problems, "ip", ["link", "delete", NODE_NETWORK.bridge]);
  // 4. nft tables: ours, kube-proxy's, iptables-nft's that appeared.
  for (const table of added("nftTables")) {
    const [, family, name] = table.split(" ");
    if (family && name) await attempt(problems, "nft", ["delete", "table", family, name]);
  }
  // 5. Cgroups (kubelet's kubepods tree, pod and container groups): deepest first.
  for (const cg of added("cgroups")) {
    for (const d of cgroupTree(cg)) {
      try {
        rmSync(d, { recursive: false });
      } catch {
        await attempt(problems, "rmdir", [d]);
      }
    }
  }
  // 6. Sysctls that changed (kubelet sets kernel.panic, kernel.panic_on_oops and
  //    vm.overcommit_memory; we set net.ipv4.ip_forward): back to their old values.
  const oldValues = new Map(before.sysctls.map((l) => [l.split(" = ")[0] ?? "", l.slice(l.indexOf(" = ") + 3)]));
  for (const line of added("sysctls")) {
    const key = line.split(" = ")[0] ?? "";
    const value = oldValues.get(key);
    if (value !== undefined) await attempt(problems, "sysctl", ["-w", `${key}=${value}`]);
  }
  // 7. Files kubelet, containerd and CNI wrote at fixed paths, and our own directory.
  const newFiles = added("files").sort((a, b) => a.length - b.length);
  const removedRoots: string[] = [];
  for (const f of newFiles) {
    if (removedRoots.some((r) => f.startsWith(r))) continue;
    await attempt(problems, "rm", ["-rf", "--one-file-system", f.replace(/\/$/, "")]);
    removedRoots.push(f);
  }
  if (existsSync(dir)) await attempt(problems, "rm", ["-rf", "--one-file-system", dir]);
  return problems;
}

// --- the node ---------------------------------------------------------------------------------

class RunningNode implements RealNode {
  readonly nodeName = NODE_NAME;
  readonly timings: Record<string, number> = {};
  readonly processes: HarnessProcess[] = [];
  private stopping: Promise<HostStateDifference[]> | undefined;
  private cpOrUndefined: ControlPlane | undefined;

  constructor(
    readonly dir: string,
    readonly before: HostState,
    readonly binaries: NodeBinaries,
    readonly images: NodeImages,
    readonly socket: string,
    private readonly log: (line: string) => void,
  ) {}

  get cp(): ControlPlane {
    if (!this.cpOrUndefined) throw new Error("the node's control plane is not started yet");
    return this.cpOrUndefined;
  }

  set controlPlane(cp: ControlPlane) {
    this.cpOrUndefined = cp;
  }

  ctr(args: string[]): Promise<CommandResult> {
    return run(CTR, ["--address", this.socket, "--namespace", "k8s.io", ...args], { timeoutMs: 120_000 });
  }

  async importImage(archive: string): Promise<void> {
    const r = await this.ctr(["images", "import", "--all-platforms", archive]);
    if (r.code !== 0) throw new Error(`ctr images import ${archive}: ${r.stderr || r.stdout}`);
  }

  logTail(lines = 40): string {
    return this.cpOrUndefined?.logTail(lines) ?? "(control plane not started)";
  }

  async phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const result = await fn();
    this.timings[name] = Date.now() - started;
    this.log(`${name}: ${this.timings[name]} ms`);
    return result;
  }

  stop(): Promise<HostStateDifference[]> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  /** Pods first, through kubelet, so sandboxes are torn down the proper way (CNI DEL, unmounts). */
  private async drainPods(): Promise<void> {
    const cp = this.cpOrUndefined;
    if (!cp) return;
    const kubeletUp = this.processes.some((p) => p.name === "kubelet");
    await cp.kubectl(["delete", "deployments,replicasets,daemonsets,statefulsets,jobs", "--all", "--all-namespaces", "--wait=false"], { timeoutMs: 30_000 });
    await cp.kubectl(["delete", "pods", "--all", "--all-namespaces", "--grace-period=0", "--force", "--wait=false"], { timeoutMs: 30_000 });
    if (!kubeletUp) return;
    try {
      await until(
        "kubelet to stop every pod sandbox",
        60_000,
        async () => {
          const tasks = await this.ctr(["tasks", "ls", "-q"]);
          const netns = captureHostState().netns.filter((n) => isOurs("netns", n, this.dir) && !this.before.netns.includes(n));
          return tasks.stdout.trim() === "" && netns.length === 0 ? true : undefined;
        },
        500,
      );
    } catch (err) {
      this.log(`${(err as Error).message}; cleaning up by force`);
    }
  }

  private async doStop(): Promise<HostStateDifference[]> {
    const problems: string[] = [];
    try {
      await this.drainPods();
    } catch (err) {
      problems.push(`draining pods: ${(err as Error).message}`);
    }
    // Node components in reverse start order, then the control plane (which would stop them
    // too: they were started through it).
    for (const proc of [...this.processes].reverse()) await proc.terminate(5_000);
    await this.cpOrUndefined?.stop();
    problems.push(...(await restoreHost(this.before, this.dir)));
    const diffs = ourLeftovers(this.before, captureHostState(), this.dir);
    if (diffs.length === 0) rmSync(MARKER_DIR, { recursive: true, force: true });
    if (problems.length > 0) this.log(`clean-up problems:\n  ${problems.join("\n  ")}`);
    return diffs;
  }
}

/**
 * Brings up the node (see the module comment). Takes about a minute warm; a cold run first
 * builds the binaries (many minutes) and installs the host packages.
 *
 * @throws Error with the process logs if a component fails to start; everything started is
 *   stopped and the host restored first.
 */
export async function startRealNode(options: RealNodeOptions = {}): Promise<RealNode> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[node] ${line}\n`));
  const startedAt = Date.now();
  ensureHostPackages(log);
  const binaries = resolveNodeBinaries();
  const images = await buildNodeImages(binaries);

  const stale = readMarker();
  if (stale) {
    log(`a previous run did not clean up (${stale.dir}): restoring the host from its snapshot`);
    const problems = await restoreHost(stale.before, stale.dir);
    const left = ourLeftovers(stale.before, captureHostState(), stale.dir);
    if (left.length > 0) throw new Error(`could not restore the host after a crashed run: ${JSON.stringify(left)}; ${problems.join("; ")}`);
    rmSync(MARKER_DIR, { recursive: true, force: true });
  }
  const before = captureHostState();
  if (before.links.some((l) => l.startsWith(`${NODE_NETWORK.bridge}:`))) {
    throw new Error(`a network interface named ${NODE_NETWORK.bridge} already exists: the node would take it over. Remove it (ip link delete ${NODE_NETWORK.bridge})`);
  }
  const dir = await mkdtemp("/tmp/pdi-node-");
  mkdirSync(MARKER_DIR, { recursive: true });
  writeFileSync(MARKER, JSON.stringify({ before, dir } satisfies Marker));
  const socket = join(dir, "containerd", "containerd.sock");
  const node = new RunningNode(dir, before, binaries, images, socket, log);
  try {
    for (const sub of ["containerd", "cni/net.d", "kubelet", "pod-logs"]) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, "host-resolv.conf"), "# no host nameserver: pods with dnsPolicy Default resolve nothing\n");
    writeFileSync(join(dir, "containerd", "config.toml"), containerdConfig(dir, images.pause.ref));
    writeFileSync(join(dir, "cni", "net.d", "10-pod-dns-injector.conflist"), cniConfig(dir));

    const cpReady = node.phase("control plane", () =>
      startControlPlane({
        name: "node",
        controllerManager: true,
        kubeletClientCertificate: true,
        startTimeoutMs: 180_000,
        // kubectl logs/exec reach kubelet by the node's IP, not by its name through the host's resolver.
        extraApiServerFlags: ["--kubelet-preferred-address-types=InternalIP"],
      }),
    );
    await node.phase("network", setUpNetwork);
    node.controlPlane = await cpReady;
    const cp = node.cp;

    const containerd = cp.startProcess("containerd", CONTAINERD, ["--config", join(dir, "containerd", "config.toml"), "--log-level", "warn"]);
    node.processes.push(containerd);
    await node.phase("containerd", async () => {
      await until("containerd's socket", 30_000, async () => ((await node.ctr(["version"])).code === 0 ? true : undefined));
      await Promise.all([images.pause, images.coredns, images.dnsprobe].map((i) => node.importImage(i.archive)));
      for (const extra of options.extraImages ?? []) await node.importImage(extra);
    });

    const [kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics] = (await freePorts(4)) as [number, number, number, number];
    writeFileSync(join(dir, "kubelet.yaml"), kubeletConfig(dir, { kubelet: kubeletPort, healthz: kubeletHealthz }, join(cp.dir, "ca.crt"), socket));
    writeFileSync(join(dir, "kube-proxy.yaml"), kubeProxyConfig(cp.kubeconfigPath, { healthz: proxyHealthz, metrics: proxyMetrics }));

    await node.phase("node components", async () => {
      const relay = await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(apiRelayEndpointSlice()) });
      if (relay.code !== 0) throw new Error(`EndpointSlice for the kubernetes Service: ${relay.stderr}`);
      const apiPort = new URL(cp.server).port;
      node.processes.push(
        cp.startProcess("api-relay", "/usr/bin/socat", [`TCP-LISTEN:${NODE_NETWORK.apiRelayPort},bind=${NODE_NETWORK.gateway},reuseaddr,fork`, `TCP:127.0.0.1:${apiPort}`]),
        cp.startProcess("kube-scheduler", binaries.kubeScheduler, [`--kubeconfig=${cp.kubeconfigPath}`, "--leader-elect=false", "--secure-port=0", "--v=1"]),
        cp.startProcess("kube-proxy", binaries.kubeProxy, [`--config=${join(dir, "kube-proxy.yaml")}`, "--v=1"]),
        cp.startProcess("kubelet", binaries.kubelet, [
          `--config=${join(dir, "kubelet.yaml")}`,
          `--kubeconfig=${cp.kubeconfigPath}`,
          `--root-dir=${join(dir, "kubelet")}`,
          `--hostname-override=${NODE_NAME}`,
          `--node-ip=${NODE_NETWORK.gateway}`,
          "--v=1",
        ]),
      );
      await until(
        `node ${NODE_NAME} Ready`,
        120_000,
        async () => {
          const dead = node.processes.find((p) => p.exited);
          if (dead) throw new FatalError(`${dead.name} exited during start-up\n${cp.logTail(60)}`);
          const r = await cp.kubectl(["get", "node", NODE_NAME, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
          return r.stdout.trim() === "True" ? true : undefined;
        },
        500,
      );
    });

    await node.phase("CoreDNS", async () => {
      const r = await cp.kubectl(["apply", "-f", "-"], {
        input: corednsObjects(images.coredns.ref)
          .map((o) => JSON.stringify(o))
          .join("\n"),
      });
      if (r.code !== 0) throw new Error(`applying CoreDNS: ${r.stderr}`);
      const ready = await cp.kubectl(["-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=120s"], { timeoutMs: 130_000 });
      if (ready.code !== 0) throw new Error(`CoreDNS did not become ready: ${ready.stderr}${ready.stdout}\n${cp.logTail(60)}`);
    });
  } catch (err) {
    const diffs = await node.stop();
    if (diffs.length > 0) log(`host not fully restored after the failed start: ${JSON.stringify(diffs)}`);
    throw err;
  }
  node.timings.total = Date.now() - startedAt;
  log(`node ${NODE_NAME} ready in ${node.timings.total} ms`);
  return node;
}
