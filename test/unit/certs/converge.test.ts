import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { issueCertificateAuthority, issueServingCertificate, serviceDNSNames, type PemKeyPair } from "../../../certs/authority.js";
import { caCommonName, convergeCertificates, trustTracker, type ConvergeOptions, type ConvergeResult } from "../../../certs/converge.js";
import type { ObservedBundle } from "../../../certs/rotation.js";
import { ISSUED_AT_ANNOTATION, ROTATED_ANNOTATION, ROTATE_ANNOTATION } from "../../../config/names.js";
import { CA_KEYS, SERVING_KEYS, parseBundle, readCASecret, readServingSecret } from "../../../certs/secret-layout.js";
import { FakeSecretStore } from "./fake-secret-store.js";

const SECOND = 1000;
const T0 = new Date("2026-03-01T12:00:00Z");
const NAMES = [...serviceDNSNames("pod-dns-injector", "pod-dns-injector", "cluster.local"), "localhost"];
const TLS = "pod-dns-injector-tls";
const CA = "pod-dns-injector-ca";

/** A clock the test moves. */
function clock(start = T0) {
  let now = start.getTime();
  return { now: () => new Date(now), advance: (ms: number) => (now += ms) };
}

/** Converge options against `store`; caBundles are whatever `bundles()` says (the sync is simulated). */
function options(store: FakeSecretStore, overrides: Partial<ConvergeOptions> = {}): ConvergeOptions & { issued: { ca: number; serving: number } } {
  const issued = { ca: 0, serving: 0 };
  const c = clock();
  return {
    store,
    secretName: TLS,
    caSecretName: CA,
    policy: { renewFraction: 2 / 3, rolloverGraceMs: 5 * SECOND, dnsNames: NAMES, ipAddresses: ["127.0.0.1"] },
    caValidityDays: 3650,
    validityDays: 365,
    servingCommonName: NAMES[2]!,
    now: c.now,
    webhookBundles: () => [],
    trustSince: trustTracker(),
    issueCA: (now) => {
      issued.ca++;
      return issueCertificateAuthority({ now, commonName: caCommonName(now) });
    },
    issueServing: (ca, now) => {
      issued.serving++;
      return issueServingCertificate({ ca, now, dnsNames: NAMES, ipAddresses: ["127.0.0.1"], commonName: NAMES[2] });
    },
    issued,
    ...overrides,
  };
}

function ok(r: ConvergeResult): Extract<ConvergeResult, { ok: true }> {
  assert.ok(r.ok, r.ok ? "" : `${r.reason}: ${r.message}`);
  return r;
}

/** The served certificate verifies against ca.crt, and ca.crt equals the trusted set. */
function assertConsistent(store: FakeSecretStore): { serving: X509Certificate; trusted: string[] } {
  const tls = store.secrets.get(TLS);
  assert.ok(tls, "no serving Secret");
  assert.equal(tls.type, "kubernetes.io/tls");
  const serving = new X509Certificate(tls.data[SERVING_KEYS.cert]!);
  const trusted = parseBundle(tls.data[SERVING_KEYS.ca]).certs;
  assert.ok(
    trusted.some((ca) => serving.checkIssued(ca.x509) && serving.verify(ca.x509.publicKey)),
    "the serving certificate is not signed by any CA in ca.crt",
  );
  return { serving, trusted: trusted.map((c) => c.fingerprint) };
}

describe("convergeCertificates", () => {
  it("bootstraps a CA and a serving certificate, the CA key only in the CA Secret", async () => {
    const store = new FakeSecretStore();
    const opts = options(store);
    const r = ok(await convergeCertificates(opts));
    assert.deepEqual(
      r.performed.map((p) => `${p.step.action}:${p.step.reason}`),
      ["create-ca:no-ca", "issue-serving:serving-missing"],
    );
    assert.deepEqual(store.writes, [`create ${CA}`, `create ${TLS}`]);
    assert.equal(r.plan.step.action, "idle");
    const { serving } = assertConsistent(store);
    assert.equal(store.secrets.get(CA)?.type, "Opaque");
    assert.deepEqual(Object.keys(store.secrets.get(CA)!.data).sort(), [CA_KEYS.cert, CA_KEYS.key]);
    assert.deepEqual(Object.keys(store.secrets.get(TLS)!.data).sort(), [SERVING_KEYS.ca, SERVING_KEYS.cert, SERVING_KEYS.key]);
    assert.equal(store.secrets.get(TLS)!.annotations[ISSUED_AT_ANNOTATION], T0.toISOString());
    assert.match(serving.subjectAltName ?? "", /DNS:pod-dns-injector\.pod-dns-injector\.svc\b/);
    assert.match(serving.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
    assert.match(new X509Certificate(store.secrets.get(CA)!.data[CA_KEYS.cert]!).subject, /CN=pod-dns-injector-ca-\d+$/);
  });

  it("two replicas starting at once converge on one CA and one serving certificate", async () => {
    const store = new FakeSecretStore();
    const a = options(store);
    const b = options(store);
    const [ra, rb] = await Promise.all([convergeCertificates(a), convergeCertificates(b)]);
    const fa = ok(ra).serving?.cert?.fingerprint;
    assert.ok(fa);
    assert.equal(ok(rb).serving?.cert?.fingerprint, fa, "the replicas ended on different certificates");
    // Exactly one successful write per Secret: the loser of each race re-read instead of overwriting.
    assert.deepEqual([...store.writes].sort(), [`create ${CA}`, `create ${TLS}`]);
    assert.ok(store.conflicts >= 1, "the race was not exercised");
    assert.equal(ra.performed.length + rb.performed.length, 2);
    assertConsistent(store);
  });

  it("never rewrites valid Secrets: a second run and a restarted replica write nothing", async () => {
    const store = new FakeSecretStore();
    ok(await convergeCertificates(options(store)));
    const before = structuredClone([...store.secrets.values()]);
    const again = options(store);
    const r = ok(await convergeCertificates(again));
    assert.deepEqual(r.performed, []);
    assert.deepEqual(again.issued, { ca: 0, serving: 0 });
    assert.deepEqual([...store.secrets.values()], before);
  });

  it("reports a missing namespace as an outcome", async () => {
    const store = new FakeSecretStore();
    store.namespaceExists = false;
    const r = await convergeCertificates(options(store));
    assert.ok(!r.ok);
    assert.equal(r.reason, "namespace-missing");
    assert.match(r.message, /namespaces "pod-dns-injector" not found/);
    assert.equal(store.secrets.size, 0);
  });

  it("a write that loses a race is re-decided on fresh data", async () => {
    const store = new FakeSecretStore();
    const opts = options(store);
    ok(await convergeCertificates(opts));
    // Someone requests a rotation; another writer touches the Secret during our first update.
    store.edit(TLS, (s) => (s.annotations[ROTATE_ANNOTATION] = "one"));
    let raced = false;
    store.beforeUpdate = (name) => {
      if (name === TLS && !raced) {
        raced = true;
        store.edit(TLS, (s) => (s.annotations["example.com/other"] = "x"));
      }
    };
    const r = ok(await convergeCertificates(opts));
    assert.equal(r.conflicts, 1);
    assert.deepEqual(
      r.performed.map((p) => p.step.reason),
      ["rotation-requested"],
    );
    assert.equal(store.secrets.get(TLS)!.annotations["example.com/other"], "x", "the concurrent edit was lost");
    assert.equal(store.secrets.get(TLS)!.annotations[ROTATED_ANNOTATION], "one");
  });

  it("gives up with no-progress when every write conflicts", async () => {
    const store = new FakeSecretStore();
    const opts = options(store);
    ok(await convergeCertificates(opts));
    store.edit(TLS, (s) => (s.annotations[ROTATE_ANNOTATION] = "x"));
    store.beforeUpdate = (name) => store.edit(name, () => undefined);
    const r = await convergeCertificates({ ...opts, maxSteps: 3 });
    assert.ok(!r.ok);
    assert.equal(r.reason, "no-progress");
    assert.equal(r.conflicts, 3);
    assert.match(r.message, /did not settle within 3 steps .*issue-serving/);
  });

  it("renews the serving certificate at 2/3 of a short lifetime, with the same CA", async () => {
    const store = new FakeSecretStore();
    const c = clock();
    const opts = options(store, {
      now: c.now,
      validityDays: 0.0005, // 43.2 s, stored as 43 (X.509 has whole seconds): renewal due after 28.667 s
      issueServing: (ca, now) => issueServingCertificate({ ca, now, dnsNames: NAMES, ipAddresses: ["127.0.0.1"], validityDays: 0.0005 }),
    });
    const first = ok(await convergeCertificates(opts));
    assert.equal(first.plan.step.action, "idle");
    assert.equal((first.plan.step as { until: Date }).until.toISOString(), new Date(T0.getTime() + 28_667).toISOString());
    c.advance(28 * SECOND);
    assert.deepEqual(ok(await convergeCertificates(opts)).performed, []);
    c.advance(SECOND);
    const renewed = ok(await convergeCertificates(opts));
    assert.deepEqual(
      renewed.performed.map((p) => `${p.step.action}:${p.step.reason}`),
      ["issue-serving:serving-renewal"],
    );
    assert.notEqual(renewed.serving?.cert?.fingerprint, first.serving?.cert?.fingerprint);
    assert.equal(renewed.ca?.active?.fingerprint, first.ca?.active?.fingerprint, "a serving renewal must not touch the CA");
  });

  it("rolls the CA over with overlap: add, switch after every caBundle trusts it, drop after every replica switched", async () => {
    const store = new FakeSecretStore();
    const c = clock();
    // The caBundles follow the trusted set only when the test syncs them, as the watch would.
    let observed: ObservedBundle[] = [];
    const opts = options(store, { now: c.now, webhookBundles: () => observed });
    const syncBundles = (r: ConvergeResult) => {
      observed = [{ name: "MutatingWebhookConfiguration/pod-dns-injector/pods.pod-dns-injector.io", fingerprints: ok(r).trusted.map((t) => t.fingerprint) }];
    };
    const first = ok(await convergeCertificates(opts));
    syncBundles(first);
    const oldCA = first.ca!.active!.fingerprint;
    const oldServing = first.serving!.cert!.fingerprint;

    // 1. Rollover requested: the new CA is added to the trusted set; nothing is re-signed yet.
    store.edit(CA, (s) => (s.annotations[ROTATE_ANNOTATION] = "2026-03-01"));
    const introduced = ok(await convergeCertificates(opts));
    assert.deepEqual(
      introduced.performed.map((p) => `${p.step.action}:${p.step.reason}`),
      ["introduce-ca:rotation-requested", "sync-serving-ca:trust-changed"],
    );
    const newCA = readCASecret(store.secrets.get(CA)!).next!.fingerprint;
    assert.deepEqual(assertConsistent(store).trusted, [oldCA, newCA]);
    assert.equal(introduced.serving?.cert?.fingerprint, oldServing, "served before the new CA is trusted everywhere");
    assert.equal(introduced.plan.step.reason, "bundles-missing-next-ca");
    assert.equal(store.secrets.get(CA)!.annotations[ROTATED_ANNOTATION], "2026-03-01");

    // 2. Every caBundle trusts it: wait the grace period, then switch the serving certificate.
    syncBundles(introduced);
    const waiting = ok(await convergeCertificates(opts));
    assert.equal(waiting.plan.step.reason, "bundle-propagation");
    c.advance(4 * SECOND);
    assert.deepEqual(ok(await convergeCertificates(opts)).performed, []);
    c.advance(SECOND);
    const switched = ok(await convergeCertificates(opts));
    assert.deepEqual(
      switched.performed.map((p) => `${p.step.action}:${p.step.reason}`),
      ["promote-ca:new-ca-trusted", "issue-serving:ca-rollover"],
    );
    const { serving, trusted } = assertConsistent(store);
    assert.deepEqual(trusted, [newCA, oldCA], "the old CA stays trusted while replicas switch");
    assert.ok(serving.checkIssued(new X509Certificate(readCASecret(store.secrets.get(CA)!).active!.pem)));
    assert.equal(switched.plan.step.reason, "replica-reload");

    // 3. After the grace period the old CA is dropped everywhere.
    c.advance(5 * SECOND);
    const retired = ok(await convergeCertificates(opts));
    assert.deepEqual(
      retired.performed.map((p) => `${p.step.action}:${p.step.reason}`),
      ["retire-ca:serving-switched", "sync-serving-ca:trust-changed"],
    );
    assert.deepEqual(assertConsistent(store).trusted, [newCA]);
    assert.deepEqual(Object.keys(store.secrets.get(CA)!.data).sort(), [CA_KEYS.cert, CA_KEYS.key]);
    assert.equal(retired.plan.step.action, "idle");
  });

  it("a lost CA Secret is replaced without breaking the certificate being served", async () => {
    const store = new FakeSecretStore();
    const opts = options(store);
    const first = ok(await convergeCertificates(opts));
    const oldCA = first.ca!.active!.fingerprint;
    store.secrets.delete(CA);
    const r = ok(await convergeCertificates(opts));
    assert.deepEqual(
      r.performed.map((p) => `${p.step.action}:${p.step.reason}`),
      ["introduce-ca:ca-key-lost", "sync-serving-ca:trust-changed"],
    );
    const ca = readCASecret(store.secrets.get(CA)!);
    assert.equal(ca.active, undefined);
    assert.deepEqual(
      ca.previous.map((p) => p.fingerprint),
      [oldCA],
      "the old CA stays trusted",
    );
    assert.equal(r.serving?.cert?.fingerprint, first.serving?.cert?.fingerprint, "the valid serving certificate is kept");
    assert.deepEqual(assertConsistent(store).trusted, [ca.next!.fingerprint, oldCA]);
  });

  it("replaces an unreadable serving Secret", async () => {
    const store = new FakeSecretStore();
    const opts = options(store);
    ok(await convergeCertificates(opts));
    store.edit(TLS, (s) => (s.data[SERVING_KEYS.cert] = "garbage"));
    const r = ok(await convergeCertificates(opts));
    assert.deepEqual(
      r.performed.map((p) => p.step.reason),
      ["serving-unusable"],
    );
    assert.deepEqual(readServingSecret(store.secrets.get(TLS)!).problems, []);
    assertConsistent(store);
  });

  it('caCommonName is a valid PrintableString (Go\'s x509 rejects "@" in one)', () => {
    const name = caCommonName(T0);
    assert.match(name, /^[A-Za-z0-9 '()+,\-./:=?]+$/);
    const ca: PemKeyPair = issueCertificateAuthority({ now: T0, commonName: name });
    assert.ok(new X509Certificate(ca.certPem).subject.includes(name));
  });
});
