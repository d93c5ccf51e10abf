/**
 * The product as users run it, on a real node: our own image (`npm run image`) imported
 * into containerd, `kubectl apply -k manifests/` unchanged, kubelet running the injector
 * pods, pods resolving names through CoreDNS on the IP we inject. One node is brought up
 * for all proofs (issue 10, section 3); they run in order, each on what the cluster and
 * the pods say. The last ones (9a-9c, issue 15 item 1) replace the kustomize install with
 * the Helm chart on the same node: kustomize removed as README "Uninstall" says, `helm
 * install` with the imported image, `helm upgrade` rolling the pods while what the injector
 * wrote keeps its uids, `helm uninstall` leaving only that (helm from
 * POD_DNS_INJECTOR_TEST_HELM, which scripts/run-tests.mjs sets for this tier too). The host
 * is checked to be exactly as before at the end.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { GUARDIAN_LEASE, INJECTED_ANNOTATION, INJECT_LABEL } from "../../config/names.js";
import { printingOnFailure, waitFor } from "../e2e/kube.js";
import { chartPath, Helm, INJECTOR_RUNTIME_OBJECTS, objectKey, parseYamlObjects, RELEASE } from "../helm/helm.js";
import { describeHostStateDifferences } from "../node/host-state.js";
import { measureLookupWindow, summarizeWindows } from "../node/lookup-window.js";
import { NODE_NETWORK, startRealNode, type RealNode } from "../node/node.js";
import { startPodLoad } from "../node/pod-load.js";
import { buildProductImage, type ProductImage } from "../node/product-image.js";
import { repoRoot } from "../unit/repo-root.js";

const root = repoRoot();
const INJECTOR_NS = "pod-dns-injector";
const SHOP = "shop";
const PLAIN = "plain";
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- objects read from kubectl -o json, field by field
type Obj = Record<string, any>;

/** What the tier measured, printed at the end (the README quotes these). */
const figures: Record<string, unknown> = {};
const startedAt = Date.now();

/**
 * The body of kube-proxy's (nftables mode) chain for a Service port, `ns/name/proto/port`:
 * the rules that pick an endpoint. Empty when there is none (no ready endpoint).
 */
function kubeProxyServiceChain(servicePort: string): string {
  const listed = spawnSync("nft", ["list", "table", "ip", "kube-proxy"], { encoding: "utf8" });
  if (listed.status !== 0) throw new Error(`nft list table ip kube-proxy: ${listed.stderr || listed.error?.message}`);
  const lines = listed.stdout.split("\n");
  const start = lines.findIndex((l) => /^\s*chain service-[A-Z0-9]+-/.test(l) && l.includes(`-${servicePort} {`));
  if (start < 0) return "";
  const end = lines.findIndex((l, i) => i > start && l.trim() === "}");
  return lines
    .slice(start + 1, end)
    .join(" ")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Whether a kube-proxy Service chain sends connections to ip:port. kube-proxy 1.37 writes
 * `dnat to IP:PORT` for one endpoint and `dnat ip to numgen … map { 0 : IP . PORT, … }` for
 * several; other versions (and session affinity) `goto endpoint-…__IP/PORT`.
 */
function routesTo(chain: string, ip: string, port: number): boolean {
  return new RegExp(`(^|[^0-9.])${ip.replaceAll(".", "\\.")}(:| \\. |/)${port}([^0-9]|$)`).test(chain);
}

describe("real node: the product as users run it", { concurrency: false }, () => {
  let node: RealNode;
  let image: ProductImage;
  let core: CoreV1Api;
  let deploymentImage: string;
  let helm: Helm | undefined;
  const withLogs = printingOnFailure(() => console.error(node?.logTail(60)));

  const kubectl = async (args: string[], input?: string, timeoutMs?: number) => {
    const r = await node.cp.kubectl(args, { ...(input === undefined ? {} : { input }), ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const getJson = async (args: string[]): Promise<Obj> => JSON.parse(await kubectl([...args, "-o", "json"])) as Obj;
  const exec = async (ns: string, pod: string, args: string[]) => node.cp.kubectl(["-n", ns, "exec", pod, "--", "/dnsprobe", ...args]);
  const probePod = (name: string, ns: string, labels: Record<string, string> = {}) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels: { app: name, ...labels } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "probe", image: node.images.dnsprobe.ref, imagePullPolicy: "Never", args: ["sleep"] }],
    },
  });
  /** /etc/resolv.conf as kubelet (through containerd) wrote it inside a pod's container. */
  const resolvConf = async (ns: string, pod: string) => {
    const r = await exec(ns, pod, ["cat", "/etc/resolv.conf"]);
    assert.equal(r.code, 0, `${ns}/${pod}: ${r.stderr}`);
    return r.stdout;
  };
  /**
   * A pod the webhook injected with the default profile: dnsPolicy None on the DNS Service's
   * live IP, and the resolv.conf kubelet wrote for it is exactly ClusterFirst's. Returns the file.
   */
  const assertInjectedResolvConf = async (ns: string, pod: string) => {
    const injected = await getJson(["-n", ns, "get", "pod", pod]);
    assert.equal(injected.spec.dnsPolicy, "None", `${ns}/${pod} dnsPolicy`);
    assert.match(injected.metadata.annotations?.[INJECTED_ANNOTATION] ?? "", /^default@[0-9a-f]+$/, `${ns}/${pod} is marked injected`);
    assert.deepEqual(injected.spec.dnsConfig.nameservers, [NODE_NETWORK.dnsServiceIP]);
    const text = await resolvConf(ns, pod);
    const parsed: Record<string, string[]> = {};
    for (const line of text.split("\n").filter((l) => l.trim() && !l.startsWith("#"))) {
      const [key, ...values] = line.trim().split(/\s+/);
      parsed[key!] = [...(parsed[key!] ?? []), ...values];
    }
    assert.deepEqual(parsed, {
      nameserver: [NODE_NETWORK.dnsServiceIP],
      search: [`${ns}.svc.cluster.local`, "svc.cluster.local", "cluster.local"],
      options: ["ndots:5"],
    });
    return text;
  };
  /** A pod in SHOP resolves web, web.<SHOP> and kubernetes.default through CoreDNS to their clusterIPs. */
  const assertResolvesServices = async (pod: string) => {
    const webIP = (await getJson(["-n", SHOP, "get", "service", "web"])).spec.clusterIP;
    const resolved = await exec(SHOP, pod, ["resolve", "web", `web.${SHOP}`, "kubernetes.default"]);
    assert.equal(resolved.code, 0, `lookups: ${resolved.stdout}${resolved.stderr}`);
    const answers = resolved.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { name: string; ips: string[] });
    assert.deepEqual(
      answers.map((a) => [a.name, a.ips]),
      [
        ["web", [webIP]],
        [`web.${SHOP}`, [webIP]],
        ["kubernetes.default", ["10.96.0.1"]],
      ],
    );
  };
  /**
   * The certificates bootstrapped in-cluster: the Secrets are filled, caBundle holds the CA
   * that signed the serving certificate, which names the Service.
   */
  const assertCertificatesBootstrapped = async () => {
    const ca = await getJson(["-n", INJECTOR_NS, "get", "secret", "pod-dns-injector-ca"]);
    const tls = await getJson(["-n", INJECTOR_NS, "get", "secret", "pod-dns-injector-tls"]);
    assert.ok(tls.data["tls.crt"] && tls.data["tls.key"], "serving certificate Secret filled");
    const mwc = await getJson(["get", "mutatingwebhookconfiguration", "pod-dns-injector"]);
    const caBundle: string = mwc.webhooks[0].clientConfig.caBundle;
    assert.ok(caBundle, "caBundle filled in");
    const pems = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    const injectorCa = new X509Certificate(Buffer.from(ca.data["tls.crt"], "base64"));
    const trusted = pems(Buffer.from(caBundle, "base64").toString()).map((pem) => new X509Certificate(pem));
    assert.ok(
      trusted.some((c) => c.fingerprint256 === injectorCa.fingerprint256),
      "caBundle holds the injector's CA (from its Secret)",
    );
    const serving = new X509Certificate(Buffer.from(tls.data["tls.crt"], "base64"));
    assert.ok(serving.verify(injectorCa.publicKey), "the serving certificate is signed by that CA");
    assert.ok(serving.subjectAltName?.includes(`DNS:pod-dns-injector.${INJECTOR_NS}.svc`), `serving certificate names the Service (${serving.subjectAltName})`);
  };
  const injectorPods = async (): Promise<Obj[]> =>
    ((await getJson(["-n", INJECTOR_NS, "get", "pods", "-l", "app.kubernetes.io/name=pod-dns-injector"])).items as Obj[]).filter((p) => !p.metadata.deletionTimestamp);

  /**
   * Until every pod in `restartsBefore` (name → restartCount before a kill) has restarted and
   * is Ready, the Service's EndpointSlice lists each as ready and kube-proxy's rules route to
   * each. kubelet sees a kill a moment later, so right after one a pod still reads Ready
   * (`kubectl wait --for=condition=Ready` returns at once), and a replica killed twice waits
   * out CrashLoopBackOff. A test that starts earlier sends reviews to a dead replica:
   * "connection refused", a failed creation under failurePolicy Fail.
   */
  const untilRestartedAndRouted = (restartsBefore: Map<string, number>) =>
    waitFor(
      "the killed injector replicas to restart, turn Ready and be routed to by kube-proxy",
      async () => {
        const pods = await injectorPods();
        const status = pods.map((p) => ({
          name: p.metadata.name as string,
          ip: p.status.podIP as string,
          port: (p.spec.containers[0].ports as Obj[]).find((x) => x.name === "https")?.containerPort as number,
          c: (p.status.containerStatuses ?? [])[0] ?? {},
        }));
        const behind = [...restartsBefore].filter(([name, before]) => {
          const c = status.find((p) => p.name === name)?.c;
          return !c || !(c.restartCount > before) || c.ready !== true;
        });
        if (behind.length > 0 || status.length !== restartsBefore.size) return { detail: `not restarted and Ready yet: ${JSON.stringify(status)}` };
        const slices = (await getJson(["-n", INJECTOR_NS, "get", "endpointslices", "-l", `kubernetes.io/service-name=${INJECTOR_NS}`])).items as Obj[];
        const readyIPs = slices
          .flatMap((sl) => (sl.endpoints ?? []) as Obj[])
          .filter((e) => e.conditions?.ready === true)
          .flatMap((e) => e.addresses as string[]);
        const unlisted = status.filter((p) => !readyIPs.includes(p.ip));
        if (unlisted.length > 0) return { detail: `EndpointSlice ready addresses ${JSON.stringify(readyIPs)}, pods ${JSON.stringify(status)}` };
        const routing = kubeProxyServiceChain(`${INJECTOR_NS}/${INJECTOR_NS}/tcp/https`);
        const unrouted = status.filter((p) => !routesTo(routing, p.ip, p.port));
        return unrouted.length === 0
          ? { value: true }
          : { detail: `kube-proxy does not route to ${unrouted.map((p) => p.ip).join(", ")} yet: ${routing || "no chain for the Service"}` };
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );

  /** Until none of `oldPods` exists any more (preStop and drain over) and 2 others run. */
  const untilReplaced = async (oldPods: string[]) => {
    for (;;) {
      const names = (await injectorPods()).map((p) => p.metadata.name as string);
      const all = ((await getJson(["-n", INJECTOR_NS, "get", "pods"])).items as Obj[]).map((p) => p.metadata.name as string);
      if (!all.some((n) => oldPods.includes(n)) && names.length === 2) return;
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  before(async () => {
    // The image build and the node bring-up overlap: one is CPU, the other mostly waiting.
    const imageBuild = buildProductImage();
    imageBuild.catch(() => {});
    node = await startRealNode();
    figures.nodeBringUpMs = node.timings;
    image = await imageBuild;
    figures.imageBuildMs = image.buildMs;
    figures.imageOutput = image.output.trim().split("\n").slice(-3);
    core = node.cp.kubeConfig().makeApiClient(CoreV1Api);
  });

  after(async () => {
    helm?.dispose();
    if (!node) return;
    const diffs = await node.stop();
    figures.tierWallMs = Date.now() - startedAt;
    console.log(`[real-node] figures ${JSON.stringify(figures, null, 2)}`);
    assert.deepEqual(diffs, [], `the host is not as it was before the node started:\n${describeHostStateDifferences(diffs)}`);
  });

  it(
    "1. npm run image is imported and kubectl apply -k manifests/ (unchanged) rolls out 2 hardened replicas",
    withLogs(async () => {
      const rendered = parseAllDocuments(await kubectl(["kustomize", join(root, "manifests")]))
        .map((d) => d.toJS() as Obj)
        .filter(Boolean);
      const dep = rendered.find((o) => o.kind === "Deployment")!;
      const container = dep.spec.template.spec.containers[0];
      deploymentImage = container.image;
      // No registry is reachable: IfNotPresent is what lets kubelet use the imported image.
      assert.equal(container.imagePullPolicy, "IfNotPresent", "the Deployment must not force a pull");
      await node.importImage(image.archive);
      const listed = await node.ctr(["images", "ls", "-q"]);
      assert.ok(listed.stdout.split("\n").includes(deploymentImage), `npm run image's archive provides ${deploymentImage} (containerd has: ${listed.stdout})`);

      await kubectl(["apply", "-k", join(root, "manifests")]);
      await kubectl(["-n", INJECTOR_NS, "rollout", "status", "deployment/pod-dns-injector", "--timeout=180s"], undefined, 190_000);
      const pods = await injectorPods();
      assert.equal(pods.length, 2, "2 replicas");
      for (const pod of pods) {
        const status = pod.status.containerStatuses[0];
        assert.equal(status.ready, true, `${pod.metadata.name} ready`);
        assert.equal(status.started, true, `${pod.metadata.name}: startup probe passed`);
        assert.equal(status.image.replace(/^docker\.io\//, ""), deploymentImage);
        // What the container really runs as, read from the host's /proc, not from the spec.
        const task = (await node.ctr(["tasks", "ls"])).stdout.split("\n").find((l) => l.startsWith(status.containerID.replace("containerd://", "")));
        assert.ok(task, `a running task for ${status.containerID}`);
        const pid = task.trim().split(/\s+/)[1]!;
        const procStatus = spawnSync("cat", [`/proc/${pid}/status`], { encoding: "utf8" }).stdout;
        assert.match(procStatus, /^Uid:\s+65532\s+65532\s+65532\s+65532$/m, "runs as uid 65532");
        assert.match(procStatus, /^Seccomp:\s+2$/m, "seccomp filter (RuntimeDefault) in force");
        assert.match(procStatus, /^CapEff:\s+0+$/m, "no effective capabilities");
        const rootMount = spawnSync("cat", [`/proc/${pid}/mountinfo`], { encoding: "utf8" })
          .stdout.split("\n")
          .find((l) => l.split(" ")[4] === "/");
        assert.match(rootMount ?? "", /\sro[,\s]/, `root filesystem mounted read-only (${rootMount})`);
      }
      // kubelet's own prober counters: it ran the startup, readiness and liveness probes (the
      // first liveness probe comes up to periodSeconds, 10 s, after the startup probe passed).
      const probeCounts = async () => {
        const metrics = await kubectl(["get", "--raw", `/api/v1/nodes/${node.nodeName}/proxy/metrics/probes`]);
        return Object.fromEntries(
          ["Startup", "Readiness", "Liveness"].map((type) => {
            const lines = metrics.split("\n").filter((l) => l.includes(`probe_type="${type}"`) && l.includes('container="pod-dns-injector"') && l.includes('result="successful"'));
            return [type, lines.reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0)];
          }),
        ) as Record<string, number>;
      };
      let counts = await probeCounts();
      for (let waited = 0; counts.Liveness === 0 && waited < 30_000; waited += 1_000) {
        await new Promise((r) => setTimeout(r, 1_000));
        counts = await probeCounts();
      }
      figures.kubeletProbes = counts;
      for (const [type, n] of Object.entries(counts)) assert.ok(n > 0, `kubelet ran the ${type} probe successfully (${JSON.stringify(counts)})`);
      await assertCertificatesBootstrapped();
    }),
  );

  it(
    "2. the API server calls the webhook through the Service; pods see exactly ClusterFirst's resolv.conf on the live IP and resolve through CoreDNS",
    withLogs(async () => {
      const mwc = await getJson(["get", "mutatingwebhookconfiguration", "pod-dns-injector"]);
      assert.deepEqual(mwc.webhooks[0].clientConfig.service, { namespace: INJECTOR_NS, name: "pod-dns-injector", path: "/mutate", port: 443 });
      assert.equal(mwc.webhooks[0].clientConfig.url, undefined, "no URL: the API server goes through the Service");
      await kubectl(["create", "namespace", SHOP]);
      await kubectl(["label", "namespace", SHOP, `${INJECT_LABEL}=enabled`]);
      await kubectl(["create", "namespace", PLAIN]);
      await kubectl(["-n", SHOP, "wait", "serviceaccount/default", "--for=jsonpath={.metadata.name}=default", "--timeout=30s"]);
      await kubectl(["-n", PLAIN, "wait", "serviceaccount/default", "--for=jsonpath={.metadata.name}=default", "--timeout=30s"]);
      const web = { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: SHOP }, spec: { selector: { app: "client" }, ports: [{ port: 80, targetPort: 8080 }] } };
      await kubectl(["apply", "-f", "-"], [web, probePod("client", SHOP), probePod("client", PLAIN)].map((o) => JSON.stringify(o)).join("\n"));
      await Promise.all([SHOP, PLAIN].map((ns) => kubectl(["-n", ns, "wait", "pod/client", "--for=condition=Ready", "--timeout=60s"], undefined, 70_000)));

      const injectedConf = await assertInjectedResolvConf(SHOP, "client");
      const plain = await getJson(["-n", PLAIN, "get", "pod", "client"]);
      assert.equal(plain.spec.dnsPolicy, "ClusterFirst", "not opted in: untouched");
      assert.equal(plain.metadata.annotations?.[INJECTED_ANNOTATION], undefined);
      // The file kubelet (through containerd) wrote inside each container.
      const plainConf = await resolvConf(PLAIN, "client");
      console.log(`[real-node] /etc/resolv.conf of the injected pod:\n${injectedConf}[real-node] and of kubelet's ClusterFirst pod:\n${plainConf}`);
      // The product's promise: identical to kubelet's ClusterFirst with the live IP.
      assert.equal(injectedConf.replaceAll(`${SHOP}.svc.`, `${PLAIN}.svc.`), plainConf);
      await assertResolvesServices("client");
      const plainResolved = await exec(PLAIN, "client", ["resolve", `web.${SHOP}`, "kubernetes.default"]);
      assert.equal(plainResolved.code, 0, `ClusterFirst pod lookups: ${plainResolved.stdout}`);
    }),
  );

  it(
    "6. the Service and NetworkPolicy ports are what the injector pods listen on (the bridge CNI does not enforce NetworkPolicy)",
    withLogs(async () => {
      // Note: Debian's bridge plugin has no NetworkPolicy enforcement, so this proves the
      // ports the policy allows are the ports that answer, not that other ports are blocked.
      const policy = await getJson(["-n", INJECTOR_NS, "get", "networkpolicy", "pod-dns-injector"]);
      const allowed = (policy.spec.ingress as Obj[]).flatMap((r) => (r.ports as Obj[]).map((p) => p.port as number)).sort();
      const svc = await getJson(["-n", INJECTOR_NS, "get", "service", "pod-dns-injector"]);
      const [pod] = await injectorPods();
      const containerPorts = Object.fromEntries((pod!.spec.containers[0].ports as Obj[]).map((p) => [p.name, p.containerPort as number]));
      const targetPorts = (svc.spec.ports as Obj[]).map((p) => (typeof p.targetPort === "number" ? p.targetPort : containerPorts[p.targetPort])).sort();
      assert.deepEqual(allowed, [8080, 8443]);
      assert.deepEqual(targetPorts, allowed, "Service targetPorts resolve to the ports the policy allows");
      assert.deepEqual(Object.values(containerPorts).sort(), allowed);
      const podIP = pod!.status.podIP;
      const ops = await exec(SHOP, "client", ["get", `http://${podIP}:8080/healthz`]);
      assert.equal(ops.code, 0, ops.stdout + ops.stderr);
      assert.equal(JSON.parse(ops.stdout).status, 200, ops.stdout);
      const webhook = await exec(SHOP, "client", ["get", "-insecure", `https://${podIP}:8443/healthz`]);
      assert.equal(webhook.code, 0, webhook.stdout + webhook.stderr);
      assert.ok((JSON.parse(webhook.stdout).certDNSNames as string[]).includes(`pod-dns-injector.${INJECTOR_NS}.svc`), webhook.stdout);
      // And through the Service, by name (CoreDNS), on the Service's ports.
      const viaService = await exec(SHOP, "client", ["get", `http://pod-dns-injector.${INJECTOR_NS}:8080/readyz`]);
      assert.equal(JSON.parse(viaService.stdout).status, 200, viaService.stdout);
      const tlsViaService = await exec(SHOP, "client", ["get", "-insecure", `https://pod-dns-injector.${INJECTOR_NS}.svc:443/healthz`]);
      assert.equal(tlsViaService.code, 0, tlsViaService.stdout + tlsViaService.stderr);
    }),
  );

  it(
    "7. pod-dns-injector restart fixes a Deployment whose pods predate the opt-in: rolled out on the kubelet, every new pod injected, the audit passes",
    withLogs(async () => {
      const ns = "restart-me";
      await kubectl(["create", "namespace", ns]);
      await kubectl(["-n", ns, "wait", "serviceaccount/default", "--for=jsonpath={.metadata.name}=default", "--timeout=30s"]);
      const deployment = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "legacy", namespace: ns },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "legacy" } },
          template: {
            metadata: { labels: { app: "legacy" } },
            spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "probe", image: node.images.dnsprobe.ref, imagePullPolicy: "Never", args: ["sleep"] }] },
          },
        },
      };
      await kubectl(["apply", "-f", "-"], JSON.stringify(deployment));
      await kubectl(["-n", ns, "rollout", "status", "deployment/legacy", "--timeout=90s"], undefined, 100_000);
      // Opted in after the fact: the running pods keep kubelet's ClusterFirst, which the audit reports.
      await kubectl(["label", "namespace", ns, `${INJECT_LABEL}=enabled`]);
      const main = join(root, "dist", "cli", "main.js");
      const cliRun = (args: string[]) => spawnSync(process.execPath, [main, ...args, "--kubeconfig", node.cp.kubeconfigPath, "-n", ns], { encoding: "utf8", timeout: 200_000 });
      assert.equal(cliRun(["audit"]).status, 1, "before: the audit finds the uninjected pods");

      const started = Date.now();
      const restart = cliRun(["restart", "--yes", "--timeout", "3m"]);
      const restartMs = Date.now() - started;
      figures.restartRolloutMs = restartMs;
      assert.equal(restart.status, 0, `restart: ${restart.stdout}${restart.stderr}`);
      assert.match(restart.stdout, new RegExp(`^Restart \\(1\\):\n  deployment/legacy -n ${ns}: 2 pods`));
      assert.match(restart.stdout, new RegExp(`deployment/legacy -n ${ns}: rolled out in \\d+\\.\\d s`), "restart waited for the rollout");
      const pods = ((await getJson(["-n", ns, "get", "pods", "-l", "app=legacy"])).items as Obj[]).filter((p) => !p.metadata.deletionTimestamp);
      assert.equal(pods.length, 2);
      for (const p of pods) {
        assert.deepEqual(p.spec.dnsConfig?.nameservers, [NODE_NETWORK.dnsServiceIP], `${p.metadata.name} is injected`);
        assert.ok(
          p.status.conditions.some((c: Obj) => c.type === "Ready" && c.status === "True"),
          `${p.metadata.name} is ready`,
        );
      }
      const after = cliRun(["audit"]);
      assert.equal(after.status, 0, `after: the audit passes (${after.stdout})`);
      console.log(`[real-node] restart rolled out deployment/legacy (2 pods) in ${restartMs} ms`);
      await kubectl(["delete", "namespace", ns, "--wait=false"]);
    }),
  );

  it(
    "8. audit --nodes reads the real kubelet's configz through the API server: it agrees with kube-dns; another expected IP or domain names the node",
    withLogs(async () => {
      const main = join(root, "dist", "cli", "main.js");
      const nodes = (args: string[]) =>
        spawnSync(process.execPath, [main, "audit", "--nodes", "--kubeconfig", node.cp.kubeconfigPath, ...args], { encoding: "utf8", timeout: 60_000 });
      const ok = nodes(["-o", "json"]);
      assert.equal(ok.status, 0, `audit --nodes: ${ok.stdout}${ok.stderr}`);
      const doc = JSON.parse(ok.stdout) as Obj;
      assert.deepEqual(doc.dnsService, { service: "kube-system/kube-dns", ips: [NODE_NETWORK.dnsServiceIP], clusterDomain: NODE_NETWORK.clusterDomain });
      assert.deepEqual(
        doc.nodes.map((r: Obj) => [r.node, r.result, r.clusterDNS, r.clusterDomain]),
        [[node.nodeName, "pass", [NODE_NETWORK.dnsServiceIP], NODE_NETWORK.clusterDomain]],
      );

      const moved = nodes(["--nameserver", "10.96.0.99"]);
      assert.equal(moved.status, 1, moved.stderr);
      assert.match(
        moved.stdout,
        new RegExp(
          `^${node.nodeName} +${NODE_NETWORK.dnsServiceIP.replaceAll(".", "\\.")} +cluster\\.local +fail +kubelet's clusterDNS is ${NODE_NETWORK.dnsServiceIP.replaceAll(".", "\\.")} but kube-system/kube-dns is 10\\.96\\.0\\.99`,
          "m",
        ),
      );
      const domain = nodes(["--cluster-domain", "corp.example"]);
      assert.equal(domain.status, 1, domain.stderr);
      assert.match(domain.stdout, /clusterDomain is cluster\.local but the cluster domain is corp\.example/);
    }),
  );

  it(
    "3a. the deletion guard (base manifests) refuses a plain delete of kube-dns: the Service is untouched and pods see no failed lookup",
    withLogs(async () => {
      const guarded = await getJson(["-n", "kube-system", "get", "service", "kube-dns"]);
      assert.equal(guarded.metadata.annotations?.["pod-dns-injector.io/allow-delete"], undefined, "the guard is measured without the override");
      const refusals: string[] = [];
      const trials = await measureLookupWindow(node, {
        trials: 10,
        namespace: SHOP,
        action: async () => {
          const r = await node.cp.kubectl(["-n", "kube-system", "delete", "service", "kube-dns", "--wait=true"]);
          assert.notEqual(r.code, 0, `a plain delete of kube-dns must be refused, kubectl said: ${r.stdout}`);
          assert.match(r.stderr, /pod-dns-injector deletion guard: refusing to delete the DNS Service kube-system\/kube-dns/);
          assert.match(r.stderr, /pod-dns-injector\.io\/allow-delete/, "the refusal says how to delete deliberately");
          refusals.push(r.stderr.trim());
        },
      });
      const untouched = await getJson(["-n", "kube-system", "get", "service", "kube-dns"]);
      assert.equal(untouched.metadata.uid, guarded.metadata.uid, "the Service was never deleted");
      assert.equal(untouched.spec.clusterIP, NODE_NETWORK.dnsServiceIP);
      const summary = summarizeWindows(trials);
      figures.kubeDnsGuardedDeletion = { ...summary, windowsMs: trials.map((t) => t.windowMs), failedLookups: trials.map((t) => t.failedLookups), refusal: refusals[0] };
      console.log(
        `[real-node] plain delete of kube-dns refused ${refusals.length} times: failed-lookup window p50 ${summary.p50} ms, max ${summary.max} ms, failed lookups ${trials.reduce((s, t) => s + t.failedLookups, 0)}`,
      );
      assert.equal(refusals.length, 10);
      assert.deepEqual(
        trials.map((t) => t.failedLookups),
        new Array(10).fill(0),
        "no lookup failed while the guard refused the deletions",
      );
      assert.deepEqual(
        trials.map((t) => t.windowMs),
        new Array(10).fill(0),
      );
    }),
  );

  it(
    "3b. deleted deliberately (allow-delete), kube-dns is restored by the in-cluster guardian on 10.96.0.10; the lookup-failure window seen from a pod",
    withLogs(async () => {
      const restoredAfter: number[] = [];
      const trials = await measureLookupWindow(node, {
        trials: 10,
        namespace: SHOP,
        action: async () => {
          // The second line of defence: the override lets the deletion through the guard, and
          // the guardian's restore is what pods wait for.
          await kubectl(["-n", "kube-system", "annotate", "service", "kube-dns", "pod-dns-injector.io/allow-delete=true", "--overwrite"]);
          const uid = (await getJson(["-n", "kube-system", "get", "service", "kube-dns"])).metadata.uid;
          const deletedAt = Date.now();
          await kubectl(["-n", "kube-system", "delete", "service", "kube-dns", "--wait=true"]);
          for (;;) {
            const r = await node.cp.kubectl(["-n", "kube-system", "get", "service", "kube-dns", "-o", "jsonpath={.metadata.uid} {.spec.clusterIP}"]);
            const [newUid, ip] = r.stdout.split(" ");
            if (r.code === 0 && newUid && newUid !== uid) {
              assert.equal(ip, NODE_NETWORK.dnsServiceIP, "recreated on the fixed IP");
              restoredAfter.push(Date.now() - deletedAt);
              return;
            }
            assert.ok(Date.now() - deletedAt < 30_000, "kube-dns not restored within 30 s");
            await new Promise((r) => setTimeout(r, 20));
          }
        },
      });
      const summary = summarizeWindows(trials);
      figures.kubeDnsDeletion = { ...summary, windowsMs: trials.map((t) => t.windowMs), failedLookups: trials.map((t) => t.failedLookups), serviceBackAfterMs: restoredAfter };
      console.log(
        `[real-node] kube-dns deleted ${trials.length} times: failed-lookup window p50 ${summary.p50} ms, max ${summary.max} ms (per trial: ${trials.map((t) => t.windowMs).join(", ")}); Service back after ${restoredAfter.join(", ")} ms`,
      );
      assert.equal(restoredAfter.length, 10);
      const events = await getJson(["-n", "kube-system", "get", "events", "--field-selector", "reason=DNSServiceRestored"]);
      assert.ok((events.items as Obj[]).length > 0, "the guardian (in the injector pods) says it restored the Service");
    }),
  );

  it(
    "5. an injector container killed under load: kubelet restarts it, no creation fails with failurePolicy Ignore, the audit names every pod admitted uninjected",
    withLogs(async () => {
      const ns = "load-ignore";
      await kubectl(["create", "namespace", ns]);
      await kubectl(["label", "namespace", ns, `${INJECT_LABEL}=enabled`]);
      await kubectl(["-n", ns, "wait", "serviceaccount/default", "--for=jsonpath={.metadata.name}=default", "--timeout=30s"]);
      const [victim] = await injectorPods();
      const restartsBefore: number = victim!.status.containerStatuses[0].restartCount;
      const containerId = (victim!.status.containerStatuses[0].containerID as string).replace("containerd://", "");
      const load = startPodLoad(core, { namespace: ns, image: node.images.dnsprobe.ref });
      await new Promise((r) => setTimeout(r, 2_000));
      const kill = await node.ctr(["tasks", "kill", "--signal", "SIGKILL", containerId]);
      assert.equal(kill.code, 0, kill.stderr);
      await kubectl(
        ["-n", INJECTOR_NS, "wait", `pod/${victim!.metadata.name}`, `--for=jsonpath={.status.containerStatuses[0].restartCount}=${restartsBefore + 1}`, "--timeout=90s"],
        undefined,
        100_000,
      );
      await kubectl(["-n", INJECTOR_NS, "wait", `pod/${victim!.metadata.name}`, "--for=condition=Ready", "--timeout=90s"], undefined, 100_000);
      await new Promise((r) => setTimeout(r, 2_000));
      const oneKilled = load.outcomes.length;
      const oneKilledFailed = load.outcomes.filter((o) => o.error).length;
      const oneKilledUninjected = load.outcomes.filter((o) => !o.error && !o.injected).length;
      console.log(`[real-node] killed ${victim!.metadata.name} under load: ${oneKilled} creations, ${oneKilledFailed} failed, ${oneKilledUninjected} admitted uninjected`);

      // Then every replica at once: pods created until kubelet has one back are admitted
      // uninjected (that is what Ignore means), so the audit has something to name.
      const replicas = await injectorPods();
      const allRestartsBefore = new Map(replicas.map((p) => [p.metadata.name as string, p.status.containerStatuses[0].restartCount as number]));
      for (const pod of replicas) {
        const id = (pod.status.containerStatuses[0].containerID as string).replace("containerd://", "");
        const r = await node.ctr(["tasks", "kill", "--signal", "SIGKILL", id]);
        assert.equal(r.code, 0, r.stderr);
      }
      // Also leaves the next test (the fail-closed rollout) two replicas that answer.
      await untilRestartedAndRouted(allRestartsBefore);
      await new Promise((r) => setTimeout(r, 2_000));
      const outcomes = await load.stop();
      const failed = outcomes.filter((o) => o.error);
      const uninjected = outcomes
        .filter((o) => !o.error && !o.injected)
        .map((o) => o.name)
        .sort();
      figures.killUnderLoad = {
        oneReplicaKilled: { created: oneKilled - oneKilledFailed, failed: oneKilledFailed, uninjected: oneKilledUninjected },
        allReplicasKilled: { created: outcomes.length - oneKilled, failed: failed.length - oneKilledFailed, uninjected: uninjected.length - oneKilledUninjected },
      };
      console.log(
        `[real-node] then killed all ${replicas.length} replicas: ${outcomes.length - oneKilled} more creations, ${failed.length - oneKilledFailed} failed, ${uninjected.length - oneKilledUninjected} admitted uninjected`,
      );
      assert.deepEqual(failed, [], "failurePolicy Ignore: no creation fails");
      assert.ok(oneKilled > 20, `load ran while one replica was killed (${oneKilled} pods)`);
      assert.ok(uninjected.length > 0, "with every replica down, pods are admitted uninjected");

      const audit = spawnSync(process.execPath, [join(root, "dist", "cli", "main.js"), "audit", "--kubeconfig", node.cp.kubeconfigPath, "-n", ns, "-o", "json"], {
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      });
      const report = JSON.parse(audit.stdout) as Obj;
      const entries: Obj[] = report.results;
      const named = entries
        .filter((e) => e.finding === "not-injected")
        .map((e) => e.pod as string)
        .sort();
      assert.deepEqual(named, uninjected, "the audit names exactly the pods admitted uninjected");
      const audited = new Set(entries.map((e) => e.pod as string));
      const created = outcomes.filter((o) => !o.error).map((o) => o.name);
      assert.deepEqual(
        created.filter((n) => !audited.has(n)),
        [],
        "the audit looked at every pod created under load",
      );
      assert.equal(audit.status, uninjected.length > 0 ? 1 : 0, `audit exit code (${audit.stderr})`);
      await kubectl(["delete", "namespace", ns, "--wait=false"]);
    }),
  );

  it(
    "4. kubectl rollout restart with the fail-closed overlay while pods are created: 0 failed creations, all injected",
    withLogs(async () => {
      await kubectl(["apply", "-k", join(root, "manifests", "overlays", "fail-closed")]);
      const mwc = await getJson(["get", "mutatingwebhookconfiguration", "pod-dns-injector"]);
      assert.equal(mwc.webhooks[0].failurePolicy, "Fail");
      const ns = "load-rollout";
      await kubectl(["create", "namespace", ns]);
      await kubectl(["label", "namespace", ns, `${INJECT_LABEL}=enabled`]);
      await kubectl(["-n", ns, "wait", "serviceaccount/default", "--for=jsonpath={.metadata.name}=default", "--timeout=30s"]);
      const oldPods = (await injectorPods()).map((p) => p.metadata.name as string);
      const load = startPodLoad(core, { namespace: ns, image: node.images.dnsprobe.ref });
      await new Promise((r) => setTimeout(r, 2_000));
      await kubectl(["-n", INJECTOR_NS, "rollout", "restart", "deployment/pod-dns-injector"]);
      await kubectl(["-n", INJECTOR_NS, "rollout", "status", "deployment/pod-dns-injector", "--timeout=240s"], undefined, 250_000);
      // Old pods gone for good (their preStop and drain are over) before the load stops.
      await untilReplaced(oldPods);
      await new Promise((r) => setTimeout(r, 2_000));
      const outcomes = await load.stop();
      const failed = outcomes.filter((o) => o.error);
      const uninjected = outcomes.filter((o) => !o.error && !o.injected);
      figures.rolloutUnderLoad = { created: outcomes.length, failed: failed.length, uninjected: uninjected.length };
      console.log(`[real-node] rollout restart under load: ${outcomes.length} pod creations, ${failed.length} failed, ${uninjected.length} uninjected`);
      assert.deepEqual(failed.slice(0, 5), [], `${failed.length} creations failed during the rollout`);
      assert.deepEqual(uninjected.slice(0, 5), [], "every pod injected");
      assert.ok(outcomes.length > 50, `load ran through the rollout (${outcomes.length} pods)`);

      // The control: the same rollout without the preStop delay, counted and printed, not
      // asserted. On this single node it has lost no creation either (219 and 221 creations,
      // 0 failed, in the last runs): here endpoint changes reach the one kube-proxy fast and
      // the drain answers what is in flight, so one node does not show what the delay buys
      // on a large cluster, where endpoint updates reach every kube-proxy late.
      const control = startPodLoad(core, { namespace: ns, image: node.images.dnsprobe.ref });
      await new Promise((r) => setTimeout(r, 2_000));
      await kubectl([
        "-n",
        INJECTOR_NS,
        "patch",
        "deployment",
        "pod-dns-injector",
        "--type=json",
        "-p",
        JSON.stringify([{ op: "remove", path: "/spec/template/spec/containers/0/lifecycle" }]),
      ]);
      await kubectl(["-n", INJECTOR_NS, "rollout", "status", "deployment/pod-dns-injector", "--timeout=240s"], undefined, 250_000);
      await new Promise((r) => setTimeout(r, 5_000));
      const controlOutcomes = await control.stop();
      const controlFailed = controlOutcomes.filter((o) => o.error);
      figures.rolloutWithoutPreStop = { created: controlOutcomes.length, failed: controlFailed.length, errors: [...new Set(controlFailed.map((o) => o.error))].slice(0, 3) };
      console.log(
        `[real-node] the same rollout without preStop: ${controlOutcomes.length} pod creations, ${controlFailed.length} failed (${JSON.stringify(figures.rolloutWithoutPreStop)})`,
      );
      await kubectl(["delete", "namespace", ns, "--wait=false"]);
    }),
  );

  // 9: the Helm chart in place of kustomize, on the same node (last: it replaces the install
  // the tests above use). State shared by 9a-9c, in order.
  const helmOk = async (args: string[]) => {
    helm ??= new Helm(undefined, node.cp.kubeconfigPath);
    const r = await helm.run(args);
    assert.equal(r.code, 0, `helm ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  /** The uid of each object the injector writes itself (INJECTOR_RUNTIME_OBJECTS). */
  const runtimeUids = async () => {
    const out: Record<string, string> = {};
    for (const ref of INJECTOR_RUNTIME_OBJECTS) out[ref] = (await getJson(["-n", INJECTOR_NS, "get", ref])).metadata.uid;
    return out;
  };
  /** Objects of the product anywhere, by the label kustomize and the chart put on every one. */
  const productObjects = async () => {
    const selector = ["-l", "app.kubernetes.io/name=pod-dns-injector", "-o", "name"];
    const cluster = await kubectl(["get", "clusterrole,clusterrolebinding,mutatingwebhookconfiguration,validatingwebhookconfiguration", ...selector]);
    const namespaced = await kubectl(["get", "role,rolebinding,deployment,service,configmap,serviceaccount,networkpolicy,poddisruptionbudget", "--all-namespaces", ...selector]);
    return `${cluster}${namespaced}`.split("\n").filter(Boolean);
  };
  /** Every object of `kinds` in the injector's namespace, as `Kind/name`. */
  const namespaceContents = async (kinds: string[]) =>
    ((await getJson(["-n", INJECTOR_NS, "get", kinds.join(",")])).items as Obj[]).map((o) => `${o.kind}/${o.metadata.name}`).sort();
  const helmTimings: Record<string, number> = {};
  let helmRuntime: Record<string, string>;
  let helmInstalledPods: string[] = [];
  let helmChecksum: string;
  let helmNotes: string;

  it(
    "9a. kustomize removed as the README says, helm install (the README's commands, the imported image) rolls out 2 replicas on the kubelet that inject a new pod, which resolves through CoreDNS",
    withLogs(async () => {
      figures.helmChart = helmTimings;
      // The kustomize install goes as README "Uninstall" says: the webhook registrations first
      // (test 4 left failurePolicy Fail), then everything, its namespace included. That takes
      // what the injector wrote there with it, so the chart starts from nothing.
      let started = Date.now();
      await kubectl(["delete", "mutatingwebhookconfiguration", "pod-dns-injector"]);
      await kubectl(["delete", "validatingwebhookconfiguration", "pod-dns-injector", "--ignore-not-found"]);
      await kubectl(["delete", "-k", join(root, "manifests"), "--ignore-not-found", "--timeout=180s"], undefined, 190_000);
      await kubectl(["wait", "--for=delete", `namespace/${INJECTOR_NS}`, "--timeout=120s"], undefined, 130_000);
      helmTimings.kustomizeRemovedMs = Date.now() - started;
      assert.deepEqual(await productObjects(), [], "kubectl delete -k manifests/ left nothing of the product");

      // README "Install with Helm", with the image the tier imported (IfNotPresent: no pull).
      await kubectl(["create", "namespace", INJECTOR_NS]);
      await kubectl([
        "label",
        "namespace",
        INJECTOR_NS,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
        `${INJECT_LABEL}=disabled`,
      ]);
      const colon = deploymentImage.lastIndexOf(":");
      const imageValues = ["--set", `image.repository=${deploymentImage.slice(0, colon)}`, "--set", `image.tag=${deploymentImage.slice(colon + 1)}`];
      started = Date.now();
      const notes = (helmNotes = await helmOk(["install", RELEASE, chartPath(), "--namespace", INJECTOR_NS, ...imageValues]));
      assert.match(notes, /kubectl label namespace <namespace> pod-dns-injector\.io\/inject=enabled/, "the notes say how to opt a namespace in");
      await kubectl(["-n", INJECTOR_NS, "rollout", "status", "deployment/pod-dns-injector", "--timeout=180s"], undefined, 190_000);
      helmTimings.installRolloutMs = Date.now() - started;
      const dep = await getJson(["-n", INJECTOR_NS, "get", "deployment", "pod-dns-injector"]);
      assert.equal(dep.metadata.labels["app.kubernetes.io/managed-by"], "Helm");
      assert.equal(dep.spec.template.spec.containers[0].image, deploymentImage);
      assert.equal(dep.spec.template.spec.containers[0].imagePullPolicy, "IfNotPresent");
      helmChecksum = dep.spec.template.metadata.annotations["checksum/config"];
      const pods = await injectorPods();
      assert.equal(pods.length, 2, "2 replicas");
      for (const pod of pods) {
        const status = pod.status.containerStatuses[0];
        assert.equal(status.ready, true, `${pod.metadata.name} ready`);
        assert.equal(status.image.replace(/^docker\.io\//, ""), deploymentImage, "kubelet runs the imported image");
      }
      helmInstalledPods = pods.map((p) => p.metadata.name as string);
      // The leader's guardian writes the last good copy once it has read kube-dns.
      await kubectl(["-n", INJECTOR_NS, "wait", "--for=create", ...INJECTOR_RUNTIME_OBJECTS, "--timeout=60s"], undefined, 70_000);
      await waitFor(
        "caBundle in the MutatingWebhookConfiguration",
        async () => ({ value: (await getJson(["get", "mutatingwebhookconfiguration", "pod-dns-injector"])).webhooks[0].clientConfig.caBundle || undefined }),
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      await assertCertificatesBootstrapped();
      helmRuntime = await runtimeUids();

      await kubectl(["apply", "-f", "-"], JSON.stringify(probePod("helm-client", SHOP)));
      await kubectl(["-n", SHOP, "wait", "pod/helm-client", "--for=condition=Ready", "--timeout=60s"], undefined, 70_000);
      await assertInjectedResolvConf(SHOP, "helm-client");
      await assertResolvesServices("helm-client");
    }),
  );

  it(
    "9b. helm upgrade with a changed setting (logLevel=debug) rolls both pods; the certificate Secrets and the last good copy keep their uids, caBundle its CA, new pods are injected",
    withLogs(async () => {
      const started = Date.now();
      await helmOk(["upgrade", RELEASE, chartPath(), "--namespace", INJECTOR_NS, "--reuse-values", "--set", "logLevel=debug"]);
      await kubectl(["-n", INJECTOR_NS, "rollout", "status", "deployment/pod-dns-injector", "--timeout=180s"], undefined, 190_000);
      await untilReplaced(helmInstalledPods);
      helmTimings.upgradeRolloutMs = Date.now() - started;
      const dep = await getJson(["-n", INJECTOR_NS, "get", "deployment", "pod-dns-injector"]);
      assert.notEqual(dep.spec.template.metadata.annotations["checksum/config"], helmChecksum, "the changed setting changed the checksum");
      assert.match((await getJson(["-n", INJECTOR_NS, "get", "configmap", "pod-dns-injector"])).data["config.yaml"], /^logLevel: debug$/m);
      for (const pod of await injectorPods()) {
        assert.ok(!helmInstalledPods.includes(pod.metadata.name), `${pod.metadata.name} is a new pod`);
        assert.equal(pod.status.containerStatuses[0].ready, true, `${pod.metadata.name} ready`);
        // The new setting reached the new pods: they log at debug level.
        await waitFor(
          `a debug line in ${pod.metadata.name}'s log`,
          async () => ({ value: (await kubectl(["-n", INJECTOR_NS, "logs", pod.metadata.name])).includes('"level":"debug"') || undefined }),
          { timeoutMs: 30_000, intervalMs: 1_000 },
        );
      }
      assert.deepEqual(await runtimeUids(), helmRuntime, "the upgrade kept the certificate Secrets and the last good copy (same uids)");
      await assertCertificatesBootstrapped();
      await kubectl(["apply", "-f", "-"], JSON.stringify(probePod("helm-client-upgraded", SHOP)));
      await kubectl(["-n", SHOP, "wait", "pod/helm-client-upgraded", "--for=condition=Ready", "--timeout=60s"], undefined, 70_000);
      await assertInjectedResolvConf(SHOP, "helm-client-upgraded");
      assert.equal((JSON.parse(await helmOk(["history", RELEASE, "-n", INJECTOR_NS, "-o", "json"])) as Obj[]).length, 2);
    }),
  );

  it(
    "9c. helm uninstall removes every object of the release and leaves what the injector wrote (its Secrets, the last good copy, its Lease), which the notes' commands remove",
    withLogs(async () => {
      const manifest = parseYamlObjects(await helmOk(["get", "manifest", RELEASE, "-n", INJECTOR_NS]));
      const started = Date.now();
      await helmOk(["uninstall", RELEASE, "--namespace", INJECTOR_NS]);
      for (const o of manifest) {
        const r = await node.cp.kubectl(["get", o.kind, o.metadata.name, ...(o.metadata.namespace ? ["-n", o.metadata.namespace] : [])]);
        assert.match(r.stderr, /NotFound|not found/, `${objectKey(o)} was removed (kubectl: ${r.stdout}${r.stderr})`);
      }
      await waitFor(
        "the injector pods gone",
        async () => {
          const left = ((await getJson(["-n", INJECTOR_NS, "get", "pods"])).items as Obj[]).map((p) => p.metadata.name as string);
          return left.length === 0 ? { value: true } : { detail: left.join(", ") };
        },
        { timeoutMs: 90_000, intervalMs: 500 },
      );
      helmTimings.uninstallPodsGoneMs = Date.now() - started;
      // As on the control plane (test/e2e/helm-install.test.ts): the Secrets and the last good
      // copy, plus the Lease the leader election wrote and what Kubernetes puts in every
      // namespace. Events aside; the garbage collector removes the ReplicaSet and the
      // EndpointSlices after the pods.
      const kinds = (await kubectl(["api-resources", "--verbs=list", "--namespaced", "-o", "name"])).split("\n").filter((k) => k && !/^events(\.|$)/.test(k));
      const expectedLeft = [
        ...INJECTOR_RUNTIME_OBJECTS.map((ref) => ref.replace(/^secret\//, "Secret/").replace(/^configmap\//, "ConfigMap/")),
        "ConfigMap/kube-root-ca.crt",
        `Lease/${GUARDIAN_LEASE}`,
        "ServiceAccount/default",
      ].sort();
      const left = await waitFor(
        "only what the injector wrote left in its namespace",
        async () => {
          const contents = await namespaceContents(kinds);
          return JSON.stringify(contents) === JSON.stringify(expectedLeft) ? { value: contents } : { detail: contents.join(", ") };
        },
        { timeoutMs: 60_000, intervalMs: 1_000 },
      );
      // The last good copy carries the product's labels too; it is the injector's, not the chart's.
      assert.deepEqual(
        (await productObjects()).filter((ref) => !INJECTOR_RUNTIME_OBJECTS.includes(ref)),
        [],
        "no object of the chart is left anywhere",
      );
      assert.deepEqual(await runtimeUids(), helmRuntime, "uninstall left the Secrets and the last good copy (NOTES.txt says how to remove them)");
      assert.deepEqual(JSON.parse(await helmOk(["list", "-n", INJECTOR_NS, "-o", "json"])), []);
      console.log(
        `[real-node] helm chart: kustomize install removed in ${helmTimings.kustomizeRemovedMs} ms; helm install rolled out in ${helmTimings.installRolloutMs} ms; helm upgrade (logLevel=debug) replaced both pods in ${helmTimings.upgradeRolloutMs} ms; helm uninstall: pods gone after ${helmTimings.uninstallPodsGoneMs} ms, left ${left.join(", ")}`,
      );
      // And the install notes' clean-up commands remove exactly those.
      const cleanUp = helmNotes
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.startsWith(`kubectl -n ${INJECTOR_NS} delete `));
      assert.equal(cleanUp.length, 2, `the notes print the clean-up commands:\n${helmNotes}`);
      for (const command of cleanUp) await kubectl(command.split(/\s+/).slice(1));
      assert.deepEqual(
        await namespaceContents(kinds),
        ["ConfigMap/kube-root-ca.crt", "ServiceAccount/default"],
        "after the notes' commands only what Kubernetes puts in every namespace is left",
      );
      await kubectl(["delete", "namespace", INJECTOR_NS, "--wait=false"]);
      await kubectl(["-n", SHOP, "delete", "pod", "helm-client", "helm-client-upgraded", "--wait=false"]);
    }),
  );
});
