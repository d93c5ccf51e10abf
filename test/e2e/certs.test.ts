/**
 * Certificates end to end, on the real control plane with `pod-dns-injector serve` processes
 * in cluster mode (as users run it): two replicas bootstrapping at once, caBundle injection
 * and repair after `kubectl apply`, serving rotation and CA rollover while pods are created
 * continuously through the API server (failurePolicy Fail, so any TLS hiccup is a failed
 * pod), and external mode with files replaced on disk.
 *
 * The cases run in order on one control plane and share the two cluster-mode replicas.
 * Rotations are forced with the `pod-dns-injector.io/rotate` annotation; grace periods and
 * the re-check interval are shortened to seconds.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import tls from "node:tls";
import { AdmissionregistrationV1Api, CoreV1Api, Watch, type V1MutatingWebhookConfiguration, type V1ValidatingWebhookConfiguration } from "@kubernetes/client-node";
import { issueCertificateAuthority, issueServingCertificate } from "../../certs/authority.js";
import { readCABundle } from "../../certs/ca-bundle.js";
import { CA_KEYS, SERVING_KEYS, parseBundle } from "../../certs/secret-layout.js";
import { INJECTED_ANNOTATION, INJECT_LABEL, VALIDATE_PATH } from "../../config/names.js";
import { buildMutatingWebhookConfiguration } from "../../webhook/registration.js";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import { createNamespace, createPod, describeApiError, podManifest, waitFor, printingOnFailure } from "./kube.js";
import { freePorts, startWebhookProcess, sumMetric, type WebhookProcess } from "./webhook-process.js";

const INJECTOR_NS = "pod-dns-injector";
const ENABLED_NS = "certs-enabled";
const TLS_SECRET = "pod-dns-injector-tls";
const CA_SECRET = "pod-dns-injector-ca";
const CONFIG_NAME = "pod-dns-injector";
const ROTATE = "pod-dns-injector.io/rotate";
/** Short enough for a test, long enough that the API server and both replicas keep up. */
const CERT_CONFIG = { certificates: { rolloverGraceSeconds: 2, checkIntervalSeconds: 2 } };

interface Served {
  fingerprint: string;
  cert: X509Certificate;
}

/** The certificate a fresh TLS handshake with 127.0.0.1:port gets (not verified here). */
function served(port: number): Promise<Served> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, servername: "localhost" }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (!cert) reject(new Error(`127.0.0.1:${port}: no peer certificate`));
      else resolve({ fingerprint: cert.fingerprint256, cert });
    });
    socket.setTimeout(5000, () => socket.destroy(new Error(`127.0.0.1:${port}: TLS handshake timed out`)));
    socket.on("error", reject);
  });
}

/** Whether `cert` is signed by the CA in `caPem` (one certificate). */
function signedBy(cert: X509Certificate, caPem: string): boolean {
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/** A configuration whose webhooks match no namespace: only its caBundle matters to the test. */
function neverCalled(manifest: Record<string, unknown>): V1MutatingWebhookConfiguration {
  const config = manifest as V1MutatingWebhookConfiguration;
  for (const w of config.webhooks ?? []) w.namespaceSelector = { matchLabels: { "e2e-certs/never": "true" } };
  return config;
}

const fingerprintOf = (pem: string | undefined) => (pem ? new X509Certificate(pem).fingerprint256 : undefined);

describe("certificates end to end (two serve replicas + kube-apiserver)", () => {
  let cp: ControlPlane | undefined;
  let core: CoreV1Api;
  let admission: AdmissionregistrationV1Api;
  let replicas: WebhookProcess[] = [];
  let external: WebhookProcess | undefined;
  let filesDir: string | undefined;

  const printLogs = () => {
    console.error(`--- control-plane logs ---\n${cp?.logTail(40) ?? "(not started)"}`);
    for (const p of [...replicas, ...(external ? [external] : [])]) console.error(p.logTail(60));
  };
  /** Runs a test body; if it fails, prints the process logs so CI shows why. */
  const withLogs = printingOnFailure(printLogs);

  /** Both Secrets, data decoded. */
  async function secrets(): Promise<{ tls: Record<string, string>; ca: Record<string, string>; tlsAnnotations: Record<string, string> }> {
    const decode = (data: Record<string, string> | undefined) => Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
    const [t, c] = await Promise.all([
      core.readNamespacedSecret({ namespace: INJECTOR_NS, name: TLS_SECRET }),
      core.readNamespacedSecret({ namespace: INJECTOR_NS, name: CA_SECRET }),
    ]);
    return { tls: decode(t.data), ca: decode(c.data), tlsAnnotations: t.metadata?.annotations ?? {} };
  }

  /** caBundle repairs of the mutating configuration, summed over the replicas. */
  async function totalRepairs(): Promise<number> {
    const texts = await Promise.all(replicas.map((p) => p.metrics()));
    return texts.reduce((sum, t) => sum + sumMetric(t, "pod_dns_injector_ca_bundle_repairs_total", { kind: "MutatingWebhookConfiguration", name: CONFIG_NAME }), 0);
  }

  async function caBundles(): Promise<{ mutating: string[]; validating: string[] }> {
    const [m, v] = await Promise.all([admission.readMutatingWebhookConfiguration({ name: CONFIG_NAME }), admission.readValidatingWebhookConfiguration({ name: CONFIG_NAME })]);
    return { mutating: readCABundle(m.webhooks?.[0]?.clientConfig?.caBundle).fingerprints, validating: readCABundle(v.webhooks?.[0]?.clientConfig?.caBundle).fingerprints };
  }

  before(async () => {
    try {
      cp = await startControlPlane({ controllerManager: true, name: "e2e-certs" });
      const kc = cp.kubeConfig();
      core = kc.makeApiClient(CoreV1Api);
      admission = kc.makeApiClient(AdmissionregistrationV1Api);
      // As the manifests do: the injector's namespace first.
      await core.createNamespace({ body: { metadata: { name: INJECTOR_NS } } });
      await createNamespace(core, ENABLED_NS, { labels: { [INJECT_LABEL]: "enabled" } });
    } catch (err) {
      printLogs();
      throw err;
    }
  });

  after(async () => {
    for (const p of [...replicas, ...(external ? [external] : [])]) {
      try {
        await p.stop();
      } catch (err) {
        console.error(String(err));
      }
    }
    if (filesDir) await rm(filesDir, { recursive: true, force: true });
    await cp?.stop();
  });

  it(
    "(a) two replicas starting at once converge on one Secret and serve the same certificate",
    withLogs(async () => {
      const started = Date.now();
      replicas = await Promise.all(
        ["injector-a", "injector-b"].map((name) =>
          startWebhookProcess({ kubeconfigPath: cp!.kubeconfigPath, dir: cp!.dir, name, config: CERT_CONFIG, ensureInjectorNamespace: false }),
        ),
      );
      console.log(`two replicas ready in ${Date.now() - started} ms`);
      const [a, b] = replicas as [WebhookProcess, WebhookProcess];

      const listed = await core.listNamespacedSecret({ namespace: INJECTOR_NS, labelSelector: "app.kubernetes.io/component=webhook-certificates" });
      assert.deepEqual(listed.items.map((s) => s.metadata?.name).sort(), [CA_SECRET, TLS_SECRET]);
      const { tls: data } = await secrets();
      const want = fingerprintOf(data[SERVING_KEYS.cert]);
      const [sa, sb] = await Promise.all([served(a.port), served(b.port)]);
      assert.equal(sa.fingerprint, want, "replica a serves another certificate than the Secret's");
      assert.equal(sb.fingerprint, want, "replica b serves another certificate than the Secret's");
      assert.ok(signedBy(sa.cert, data[SERVING_KEYS.ca]!), "not signed by the CA in ca.crt");
      // Exactly one CA and one serving certificate were written, by whichever replica won.
      const count = (action: string) => [a, b].map((p) => (p.logTail(400).match(new RegExp(`"action":"${action}"`, "g")) ?? []).length).reduce((x, y) => x + y, 0);
      assert.equal(count("create-ca"), 1, "CA Secret written more than once");
      assert.equal(count("issue-serving"), 1, "serving Secret written more than once");
      // --ca-out of both: the trusted CA.
      assert.equal(fingerprintOf(a.caPem), fingerprintOf(data[SERVING_KEYS.ca]));
      assert.equal(fingerprintOf(b.caPem), fingerprintOf(data[SERVING_KEYS.ca]));
    }),
  );

  it(
    "(b) fills in an empty caBundle, repairs a caBundle reset by kubectl apply within a second, leaves other configurations alone",
    withLogs(async () => {
      const [a] = replicas as [WebhookProcess];
      const other = await admission.createMutatingWebhookConfiguration({
        body: neverCalled(buildMutatingWebhookConfiguration({ caBundlePem: cp!.caPem, url: "https://127.0.0.1:1/other", name: "e2e-other" })),
      });
      const manifest = buildMutatingWebhookConfiguration({ caBundlePem: "", url: a.mutateUrl, failurePolicy: "Fail", timeoutSeconds: 5 });
      await admission.createMutatingWebhookConfiguration({ body: manifest });
      const validating: V1ValidatingWebhookConfiguration = {
        metadata: { name: CONFIG_NAME },
        webhooks: [
          {
            name: "services.pod-dns-injector.io",
            admissionReviewVersions: ["v1"],
            clientConfig: { url: a.mutateUrl.replace(/\/mutate$/, VALIDATE_PATH) },
            rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["services"] }],
            namespaceSelector: { matchLabels: { "e2e-certs/never": "true" } },
            sideEffects: "None",
            failurePolicy: "Ignore",
          },
        ],
      };
      await admission.createValidatingWebhookConfiguration({ body: validating });

      const trusted = parseBundle((await secrets()).tls[SERVING_KEYS.ca]).certs.map((c) => c.fingerprint);
      await waitFor(
        "both caBundles filled in",
        async () => {
          const b = await caBundles();
          return JSON.stringify(b.mutating) === JSON.stringify(trusted) && JSON.stringify(b.validating) === JSON.stringify(trusted)
            ? { value: true }
            : { detail: JSON.stringify(b) };
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      );

      // A `kubectl apply` of the manifest as shipped (here with a wrong CA) resets caBundle. A
      // watch timestamps both writes as the API server publishes them: the repair time is the
      // gap between the reset and the repair.
      const repairsBefore = await totalRepairs();
      const seen: { at: number; fingerprints: string[] }[] = [];
      const watch = await new Watch(cp!.kubeConfig()).watch(
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
        { fieldSelector: `metadata.name=${CONFIG_NAME}` },
        (type: string, obj: V1MutatingWebhookConfiguration) => {
          if (type === "MODIFIED") seen.push({ at: Date.now(), fingerprints: readCABundle(obj.webhooks?.[0]?.clientConfig?.caBundle).fingerprints });
        },
        () => undefined,
      );
      const wrong = buildMutatingWebhookConfiguration({ caBundlePem: cp!.caPem, url: a.mutateUrl, failurePolicy: "Fail", timeoutSeconds: 5 });
      const isTrusted = (f: string[]) => JSON.stringify(f) === JSON.stringify(trusted);
      try {
        const applied = await cp!.kubectl(["apply", "-f", "-"], { input: JSON.stringify(wrong) });
        assert.equal(applied.code, 0, applied.stderr);
        await waitFor(
          "the reset and its repair on the watch",
          async () => {
            const reset = seen.findIndex((e) => !isTrusted(e.fingerprints));
            const repair = reset >= 0 ? seen.slice(reset + 1).find((e) => isTrusted(e.fingerprints)) : undefined;
            return repair ? { value: true } : { detail: `${seen.length} MODIFIED events: ${seen.map((e) => e.fingerprints.length).join(",")}` };
          },
          { timeoutMs: 5_000, intervalMs: 10 },
        );
      } finally {
        watch.abort();
      }
      const reset = seen.find((e) => !isTrusted(e.fingerprints))!;
      const repair = seen.find((e) => e.at >= reset.at && isTrusted(e.fingerprints))!;
      const repairMs = repair.at - reset.at;
      console.log(`caBundle reset by kubectl apply repaired in ${repairMs} ms (watch events: ${seen.map((e) => (isTrusted(e.fingerprints) ? "ours" : "reset")).join(" → ")})`);
      assert.ok(repairMs <= 1000, `repair took ${repairMs} ms`);
      assert.deepEqual((await caBundles()).mutating, trusted);
      assert.ok((await totalRepairs()) > repairsBefore, "the repair was not counted");

      // Pods are injected through it (the API server sees configuration changes asynchronously).
      let n = 0;
      await waitFor(
        "an injected dry-run pod",
        async () => {
          const { pod } = await createPod(core, ENABLED_NS, podManifest(`probe-${n++}`), { dryRun: true });
          return pod.metadata?.annotations?.[INJECTED_ANNOTATION] ? { value: true } : { detail: "not injected" };
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      const { pod } = await createPod(core, ENABLED_NS, podManifest("after-repair"));
      assert.match(pod.metadata?.annotations?.[INJECTED_ANNOTATION] ?? "", /^default@/);

      const otherNow = await admission.readMutatingWebhookConfiguration({ name: "e2e-other" });
      assert.equal(otherNow.metadata?.resourceVersion, other.metadata?.resourceVersion, "another configuration was modified");
    }),
  );

  it(
    "(c) rotates the serving certificate, then rolls the CA over, while pods are created: none fails, every one injected",
    withLogs(async () => {
      const [a, b] = replicas as [WebhookProcess, WebhookProcess];
      const created: string[] = [];
      const failures: string[] = [];
      let stop = false;
      const deadline = Date.now() + 120_000;
      const load = (async () => {
        for (let i = 0; !stop && i < 3000 && Date.now() < deadline; i++) {
          const name = `load-${i}`;
          try {
            await createPod(core, ENABLED_NS, podManifest(name, { metadata: { labels: { load: "rotation" } } }));
            created.push(name);
          } catch (err) {
            failures.push(`${name}: ${describeApiError(err)}`);
          }
          await delay(50);
        }
      })();
      const started = Date.now();
      const bothServe = async (what: string, accept: (s: Served) => boolean) =>
        waitFor(
          what,
          async () => {
            const s = await Promise.all([served(a.port), served(b.port)]);
            return s.every(accept) ? { value: true } : { detail: s.map((x) => x.fingerprint.slice(0, 20)).join(" / ") };
          },
          { timeoutMs: 15_000, intervalMs: 50 },
        );

      try {
        await delay(1000);
        // 1. Serving certificate.
        const before = await secrets();
        const oldServing = fingerprintOf(before.tls[SERVING_KEYS.cert]);
        const r1 = await cp!.kubectl(["-n", INJECTOR_NS, "annotate", "secret", TLS_SECRET, `${ROTATE}=serving-1`, "--overwrite"]);
        assert.equal(r1.code, 0, r1.stderr);
        const servingRotatedAt = Date.now();
        const newServing = await waitFor(
          "a new serving certificate in the Secret",
          async () => {
            const fp = fingerprintOf((await secrets()).tls[SERVING_KEYS.cert]);
            return fp && fp !== oldServing ? { value: fp } : { detail: "unchanged" };
          },
          { timeoutMs: 15_000, intervalMs: 50 },
        );
        await bothServe("both replicas serving the new certificate", (s) => s.fingerprint === newServing);
        console.log(`serving certificate rotated; both replicas serve it ${Date.now() - servingRotatedAt} ms after the request`);
        await delay(1000);

        // 2. CA rollover.
        const oldCA = before.ca[CA_KEYS.cert]!;
        const r2 = await cp!.kubectl(["-n", INJECTOR_NS, "annotate", "secret", CA_SECRET, `${ROTATE}=ca-1`, "--overwrite"]);
        assert.equal(r2.code, 0, r2.stderr);
        const rolloverStarted = Date.now();
        let overlapSeen = false;
        const newCA = await waitFor(
          "the CA rollover to finish (new CA alone in ca.crt and both caBundles)",
          async () => {
            const s = await secrets();
            const bundles = await caBundles();
            if (bundles.mutating.length === 2) overlapSeen = true;
            const active = s.ca[CA_KEYS.cert];
            const done =
              active !== undefined &&
              fingerprintOf(active) !== fingerprintOf(oldCA) &&
              s.ca[CA_KEYS.nextCert] === undefined &&
              s.ca[CA_KEYS.previous] === undefined &&
              JSON.stringify(parseBundle(s.tls[SERVING_KEYS.ca]).certs.map((c) => c.fingerprint)) === JSON.stringify([fingerprintOf(active)]) &&
              JSON.stringify(bundles.mutating) === JSON.stringify([fingerprintOf(active)]) &&
              JSON.stringify(bundles.validating) === JSON.stringify([fingerprintOf(active)]);
            return done ? { value: active } : { detail: `ca keys ${Object.keys(s.ca).sort().join(",")}; mutating caBundle ${bundles.mutating.length} CA(s)` };
          },
          { timeoutMs: 60_000, intervalMs: 50 },
        );
        await bothServe("both replicas serving a certificate of the new CA", (s) => signedBy(s.cert, newCA));
        console.log(`CA rollover finished ${Date.now() - rolloverStarted} ms after the request (both CAs in the caBundle meanwhile: ${overlapSeen})`);
        assert.ok(overlapSeen, "never saw the old and the new CA together in the caBundle");
        await delay(1500);
      } finally {
        stop = true;
        await load;
      }

      console.log(`pods created during rotation: ${created.length}, failed: ${failures.length} (over ${Date.now() - started} ms)`);
      assert.deepEqual(failures, [], "pod creations failed during rotation");
      assert.ok(created.length >= 30, `only ${created.length} pods created`);
      const pods = (await core.listNamespacedPod({ namespace: ENABLED_NS, labelSelector: "load=rotation" })).items;
      assert.equal(pods.length, created.length);
      const uninjected = pods.filter((p) => !p.metadata?.annotations?.[INJECTED_ANNOTATION]).map((p) => p.metadata?.name);
      assert.deepEqual(uninjected, [], "pods admitted without injection");

      // Visibility: metrics summed over the replicas, Events on the Secrets.
      const texts = await Promise.all([a.metrics(), b.metrics()]);
      const total = (metric: string, labels: Record<string, string>) => texts.reduce((sum, t) => sum + sumMetric(t, metric, labels), 0);
      assert.ok(total("pod_dns_injector_certificate_rotations_total", { cert: "serving" }) >= 2, "serving rotations not counted");
      assert.ok(total("pod_dns_injector_certificate_rotations_total", { cert: "ca" }) >= 1, "CA rollover not counted");
      assert.ok(total("pod_dns_injector_certificate_reloads_total", { source: "secret" }) >= 4, "hot reloads not counted");
      for (const t of texts) {
        assert.ok(sumMetric(t, "pod_dns_injector_certificate_not_after_seconds", { cert: "serving" }) > Date.now() / 1000);
        assert.ok(sumMetric(t, "pod_dns_injector_certificate_not_after_seconds", { cert: "ca" }) > Date.now() / 1000);
      }
      const events = (await core.listNamespacedEvent({ namespace: INJECTOR_NS })).items;
      const reasons = new Set(events.filter((e) => e.involvedObject.kind === "Secret").map((e) => e.reason));
      for (const r of ["CACreated", "ServingCertificateIssued", "ServingCertificateRotated", "CARolloverStarted", "CAPromoted", "CARetired"])
        assert.ok(reasons.has(r), `no ${r} Event (have ${[...reasons].join(", ")})`);
    }),
  );

  it(
    "(d) external mode: files replaced on disk are served without a restart; no Secret or caBundle is written",
    withLogs(async () => {
      filesDir = await mkdtemp(join(tmpdir(), "pod-dns-injector-external-"));
      const dir = filesDir;
      const issue = () => {
        const now = new Date();
        const ca = issueCertificateAuthority({ now, commonName: "e2e external CA" });
        return { ca, serving: issueServingCertificate({ ca, now, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }) };
      };
      /** As the kubelet updates a mounted Secret: new content swapped in by rename. */
      const install = async (set: ReturnType<typeof issue>) => {
        for (const [file, content] of [
          ["ca.crt", set.ca.certPem],
          ["tls.key", set.serving.keyPem],
          ["tls.crt", set.serving.certPem],
        ] as const) {
          await writeFile(join(dir, `.${file}.tmp`), content, { mode: 0o600 });
          await rename(join(dir, `.${file}.tmp`), join(dir, file));
        }
      };
      const first = issue();
      await install(first);
      const secretVersions = async () =>
        (await core.listNamespacedSecret({ namespace: INJECTOR_NS })).items.map((s) => `${s.metadata?.name}@${s.metadata?.resourceVersion}`).sort();
      const versionsBefore = await secretVersions();

      external = await startWebhookProcess({
        kubeconfigPath: cp!.kubeconfigPath,
        dir: cp!.dir,
        name: "injector-files",
        ensureInjectorNamespace: false,
        config: {
          webhook: { tlsCertFile: join(dir, "tls.crt"), tlsKeyFile: join(dir, "tls.key") },
          certificates: { mutatingWebhookConfiguration: "e2e-external", validatingWebhookConfiguration: null },
        },
      });
      assert.equal((await served(external.port)).fingerprint, fingerprintOf(first.serving.certPem));
      assert.equal(fingerprintOf(external.caPem), fingerprintOf(first.ca.certPem), "--ca-out is the ca.crt beside the files");
      const untouched = await admission.createMutatingWebhookConfiguration({
        body: neverCalled(buildMutatingWebhookConfiguration({ caBundlePem: "", url: external.mutateUrl, name: "e2e-external" })),
      });

      const second = issue();
      const replacedAt = Date.now();
      await install(second);
      await waitFor(
        "the new certificate served",
        async () => ((await served(external!.port)).fingerprint === fingerprintOf(second.serving.certPem) ? { value: true } : { detail: "old certificate" }),
        { timeoutMs: 10_000, intervalMs: 50 },
      );
      console.log(`external mode: new files served ${Date.now() - replacedAt} ms after they were replaced`);
      // cert-manager's CA injector owns the caBundle in this mode: the injector leaves it alone.
      const after = await admission.readMutatingWebhookConfiguration({ name: "e2e-external" });
      assert.equal(after.metadata?.resourceVersion, untouched.metadata?.resourceVersion, "external mode wrote a caBundle");
      assert.equal(external.exited, undefined, "the process restarted");
      assert.match(external.logTail(200), /serving certificate hot-reloaded from files/);
      assert.deepEqual(await secretVersions(), versionsBefore, "external mode wrote a Secret");
    }),
  );

  it(
    "(e) a missing injector namespace is reported on /readyz and retried; the replica becomes ready once it exists",
    withLogs(async () => {
      const namespace = "certs-late";
      const [port, opsPort] = (await freePorts(2)) as [number, number];
      let late: WebhookProcess | undefined;
      const starting = startWebhookProcess({
        kubeconfigPath: cp!.kubeconfigPath,
        dir: cp!.dir,
        name: "injector-late",
        port,
        opsPort,
        ensureInjectorNamespace: false,
        // Its own CA: it must not fight the other replicas over the shared configurations.
        config: { injectorNamespace: namespace, certificates: { checkIntervalSeconds: 2, mutatingWebhookConfiguration: null, validatingWebhookConfiguration: null } },
      }).then((p) => (late = p));
      try {
        const body = await waitFor(
          "/readyz to name the missing namespace",
          async () => {
            const res = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
            const text = await res.text();
            return res.status === 503 && text.includes(`namespace "${namespace}" not found`) ? { value: text } : { detail: `HTTP ${res.status}: ${text.trim()}` };
          },
          { timeoutMs: 20_000, intervalMs: 100 },
        );
        assert.match(body, /\[-\] tls: certificates: namespace "certs-late" not found .*create it/);
        const created = Date.now();
        await core.createNamespace({ body: { metadata: { name: namespace } } });
        await starting;
        console.log(`missing namespace: ready ${Date.now() - created} ms after the namespace was created`);
        const data = (await core.readNamespacedSecret({ namespace, name: TLS_SECRET })).data ?? {};
        assert.equal((await served(port)).fingerprint, fingerprintOf(Buffer.from(data[SERVING_KEYS.cert] ?? "", "base64").toString()));
      } finally {
        await starting.catch(() => undefined);
        await late?.stop();
      }
    }),
  );

  it(
    "(f) short lifetimes: the clock alone renews the serving certificate and rolls the CA over, readiness never lost",
    withLogs(async () => {
      const namespace = "certs-short";
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      // CA ~17 s (rollover due after ~11.5 s), serving ~8 s (renewal due after ~5.3 s).
      const shortLived = await startWebhookProcess({
        kubeconfigPath: cp!.kubeconfigPath,
        dir: cp!.dir,
        name: "injector-short",
        ensureInjectorNamespace: false,
        config: {
          injectorNamespace: namespace,
          certificates: {
            caValidityDays: 0.0002,
            validityDays: 0.0001,
            rolloverGraceSeconds: 1,
            checkIntervalSeconds: 1,
            mutatingWebhookConfiguration: null,
            validatingWebhookConfiguration: null,
          },
        },
      });
      try {
        const servings = new Set<string>();
        const issuers = new Set<string>();
        const notReady: string[] = [];
        const deadline = Date.now() + 40_000;
        while (Date.now() < deadline && !(issuers.size >= 2 && servings.size >= 3)) {
          const s = await served(shortLived.port);
          assert.ok(Date.parse(s.cert.validTo) > Date.now(), `served an expired certificate (${s.cert.validTo})`);
          servings.add(s.fingerprint);
          issuers.add(s.cert.issuer);
          const ready = await fetch(`http://127.0.0.1:${shortLived.opsPort}/readyz`);
          if (ready.status !== 200) notReady.push(await ready.text());
          await delay(100);
        }
        console.log(`short lifetimes: ${servings.size} serving certificates from ${issuers.size} CAs served`);
        assert.ok(servings.size >= 3, `only ${servings.size} serving certificate(s) served`);
        assert.ok(issuers.size >= 2, `the CA was not rolled over (issuers: ${[...issuers].join(", ")})`);
        assert.deepEqual(notReady, [], "not ready while rotating");
        assert.doesNotMatch(shortLived.logTail(400), /"level":"(warn|error)".*"component":"certificates"/);
      } finally {
        await shortLived.stop();
      }
    }),
  );
});
