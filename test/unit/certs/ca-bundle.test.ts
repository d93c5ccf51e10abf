import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fastJsonPatch, { type Operation } from "fast-json-patch";
import { issueCertificateAuthority } from "../../../certs/authority.js";
import { desiredBundle, observeBundles, planCABundlePatch, readCABundle, type WebhookConfigurationLike } from "../../../certs/ca-bundle.js";
import { parseBundle, type ParsedCertificate } from "../../../certs/secret-layout.js";

const now = new Date("2026-03-01T12:00:00Z");
const [caA, caB] = ["a", "b"].map((n) => parseBundle(issueCertificateAuthority({ now, commonName: `ca-${n}` }).certPem).certs[0]!) as [ParsedCertificate, ParsedCertificate];
const b64 = (text: string) => Buffer.from(text).toString("base64");

function config(bundles: (string | undefined)[], resourceVersion = "42"): WebhookConfigurationLike {
  return {
    metadata: { name: "pod-dns-injector", resourceVersion },
    webhooks: bundles.map((caBundle, i) => ({ name: `w${i}.pod-dns-injector.io`, clientConfig: caBundle === undefined ? {} : { caBundle } })),
  };
}

describe("readCABundle", () => {
  const cases: { name: string; caBundle: string | undefined; fingerprints: string[]; clean: boolean }[] = [
    { name: "absent", caBundle: undefined, fingerprints: [], clean: true },
    { name: "empty", caBundle: "", fingerprints: [], clean: true },
    { name: "one CA", caBundle: b64(caA.pem), fingerprints: [caA.fingerprint], clean: true },
    { name: "two CAs (a rollover)", caBundle: b64(caA.pem + caB.pem), fingerprints: [caA.fingerprint, caB.fingerprint], clean: true },
    { name: "garbage", caBundle: b64("not a certificate"), fingerprints: [], clean: false },
    { name: "a CA and trailing junk", caBundle: b64(`${caA.pem}junk\n`), fingerprints: [caA.fingerprint], clean: false },
    { name: "a corrupted block", caBundle: b64(caA.pem.replace(/[A-Za-z]{8}\n/, "AAAAAAAA\n")), fingerprints: [], clean: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(readCABundle(c.caBundle), { fingerprints: c.fingerprints, clean: c.clean });
    });
  }
});

describe("planCABundlePatch", () => {
  const desired = desiredBundle([caB, caA]);

  it("nothing to do when every webhook holds exactly the trusted CAs, in any order", () => {
    assert.equal(planCABundlePatch(config([b64(caA.pem + caB.pem), b64(caB.pem + caA.pem)]), desired), null);
  });

  it("patches only the webhooks that differ, conditioned on the resourceVersion read", () => {
    const patch = planCABundlePatch(config([b64(caA.pem + caB.pem), "", undefined, b64(caA.pem)]), desired);
    assert.ok(patch);
    assert.deepEqual(patch.webhooks, ["w1.pod-dns-injector.io", "w2.pod-dns-injector.io", "w3.pod-dns-injector.io"]);
    assert.deepEqual(patch.ops, [
      { op: "replace", path: "/metadata/resourceVersion", value: "42" },
      { op: "add", path: "/webhooks/1/clientConfig/caBundle", value: desired.caBundle },
      { op: "add", path: "/webhooks/2/clientConfig/caBundle", value: desired.caBundle },
      { op: "add", path: "/webhooks/3/clientConfig/caBundle", value: desired.caBundle },
    ]);
  });

  it("the patch, applied, yields a configuration that needs no further patch", () => {
    const before = config(["", b64("junk"), b64(caA.pem)]);
    const patch = planCABundlePatch(before, desired)!;
    const after = fastJsonPatch.applyPatch(structuredClone(before), patch.ops as Operation[]).newDocument;
    assert.equal(planCABundlePatch(after, desired), null);
    // Nothing but caBundles (and the precondition) is touched.
    assert.deepEqual(
      after.webhooks?.map((w) => w.name),
      before.webhooks?.map((w) => w.name),
    );
  });

  it("rewrites a bundle with the right CAs plus junk, and one with an extra CA", () => {
    assert.ok(planCABundlePatch(config([b64(`${caA.pem}${caB.pem}junk`)]), desired));
    assert.ok(planCABundlePatch(config([b64(caA.pem)]), desiredBundle([caB])));
  });

  it("a configuration without webhooks needs nothing", () => {
    assert.equal(planCABundlePatch({ metadata: { name: "x", resourceVersion: "1" }, webhooks: [] }, desired), null);
  });

  it("refuses to plan a write without a resourceVersion (a bug: not read from the API)", () => {
    assert.throws(() => planCABundlePatch(config([""], ""), desired), /has no resourceVersion/);
  });
});

describe("observeBundles and desiredBundle", () => {
  it("names each webhook by kind, configuration and webhook", () => {
    assert.deepEqual(observeBundles("ValidatingWebhookConfiguration", config([b64(caA.pem), undefined])), [
      { name: "ValidatingWebhookConfiguration/pod-dns-injector/w0.pod-dns-injector.io", fingerprints: [caA.fingerprint] },
      { name: "ValidatingWebhookConfiguration/pod-dns-injector/w1.pod-dns-injector.io", fingerprints: [] },
    ]);
  });

  it("desiredBundle is base64 of the PEM blocks in order", () => {
    const d = desiredBundle([caA, caB]);
    assert.deepEqual(d.fingerprints, [caA.fingerprint, caB.fingerprint]);
    assert.deepEqual(
      parseBundle(Buffer.from(d.caBundle, "base64").toString()).certs.map((c) => c.fingerprint),
      d.fingerprints,
    );
  });
});
