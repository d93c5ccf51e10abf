/**
 * Generative (property-based) tests of /mutate over the HTTP layer (issue 11), with
 * fast-check: structure-aware pods and envelopes from test/generative/pods.ts. Fixed seed;
 * POD_DNS_INJECTOR_PROPERTY_RUNS=20000 for a larger run (README "Tests").
 *
 * Properties: the handler never throws (every answer is 200 or, for shapes the API server
 * never sends, a 400 naming the field); a 200 is a valid v1 AdmissionReview with the uid;
 * its patch applies with a strict RFC 6902 applier; the mutated pod passes every API
 * validation rule the patch can affect; re-submitting the mutated pod is a no-op.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { standaloneApp } from "./standalone-app.js";
import { INJECTED_ANNOTATION } from "../../../config/names.js";
import { defaultSettings } from "../../../config/settings.js";
import { TOO_DEEP_ERROR } from "../../../webhook/review-parser.js";
import { MAX_ANNOTATIONS_BYTES, annotationBytes, dnsConfigProblem } from "../../../config/dns-limits.js";
import { TOO_DEEP_SHAPES, admissionReview, anyPod, envelope, propertyParams, serializeReview, type Envelope, type GeneratedPod } from "../../generative/pods.js";
import { applyStrict, type PatchOp } from "../../generative/strict-patch.js";

const settings = defaultSettings();
const app = standaloneApp(settings);

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function post(review: unknown): Promise<Answer> {
  const res = await app.inject({ method: "POST", url: "/mutate", headers: { "content-type": "application/json" }, payload: serializeReview(review) });
  return { status: res.statusCode, body: res.json() };
}

const isPodCreate = (env: Envelope) => env.kind.kind === "Pod" && env.kind.group === "" && env.operation === "CREATE" && env.subResource === undefined;
const RESPONSE_KEYS = new Set(["uid", "allowed", "status", "patchType", "patch", "warnings", "auditAnnotations"]);

/** Asserts a valid v1 AdmissionReview answer with the uid; returns its patch (possibly empty). */
function checkEnvelope(answer: Answer, uid: string): PatchOp[] {
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.apiVersion, "admission.k8s.io/v1");
  assert.equal(answer.body.kind, "AdmissionReview");
  const r = answer.body.response as Record<string, unknown>;
  assert.equal(r.uid, uid);
  assert.equal(r.allowed, true, "a pod is never rejected by /mutate");
  for (const k of Object.keys(r)) assert.ok(RESPONSE_KEYS.has(k), `unknown response field ${k}`);
  if (r.warnings !== undefined) {
    assert.ok(Array.isArray(r.warnings) && r.warnings.length <= 12);
    for (const w of r.warnings as unknown[]) assert.ok(typeof w === "string" && w.length <= 256, String(w));
  }
  if (r.auditAnnotations !== undefined) for (const v of Object.values(r.auditAnnotations as object)) assert.equal(typeof v, "string");
  assert.equal(r.patch === undefined, r.patchType === undefined, "patchType iff patch");
  if (r.patch === undefined) return [];
  assert.equal(r.patchType, "JSONPatch");
  const ops = JSON.parse(Buffer.from(r.patch as string, "base64").toString("utf8")) as PatchOp[];
  assert.ok(Array.isArray(ops) && ops.length >= 1 && ops.length <= 3, `patch of ${ops.length} operations`);
  return ops;
}

/** The fields our patch touches pass the API server's validation. */
function checkValidResult(pod: GeneratedPod): void {
  const spec = pod.spec as { dnsPolicy?: string; dnsConfig?: { nameservers: string[]; searches: string[]; options: { name: string }[] } };
  assert.equal(spec.dnsPolicy, "None");
  assert.ok(spec.dnsConfig, "dnsConfig set");
  assert.equal(dnsConfigProblem(spec.dnsConfig), null);
  const annotations = (pod.metadata?.annotations ?? {}) as Record<string, string>;
  assert.equal(typeof annotations[INJECTED_ANNOTATION], "string");
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) total += annotationBytes(k, v);
  assert.ok(total <= MAX_ANNOTATIONS_BYTES, `annotations total ${total} bytes`);
}

describe("/mutate properties (fast-check)", () => {
  before(() => app.ready());
  after(() => app.close());

  it("never throws; answers valid reviews; patches apply strictly, keep the pod valid and are idempotent", async () => {
    let cases = 0;
    let patched = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(envelope, anyPod, async (env, { pod, hostile }) => {
        cases++;
        const answer = await post(admissionReview(env, pod));
        if (hostile !== undefined && TOO_DEEP_SHAPES.has(hostile)) {
          // Refused before parsing, whatever the request: the API server never nests so deep.
          assert.equal(answer.status, 400, `${hostile}: ${JSON.stringify(answer.body).slice(0, 300)}`);
          assert.equal(answer.body.error, TOO_DEEP_ERROR);
          refused++;
          return;
        }
        if (hostile !== undefined && isPodCreate(env)) {
          // A shape the API server never sends: a clear 400 naming the field.
          assert.equal(answer.status, 400, `${hostile}: ${JSON.stringify(answer.body).slice(0, 300)}`);
          assert.match(String(answer.body.error), /^request\.object(\.|: )/, hostile);
          refused++;
          return;
        }
        const ops = checkEnvelope(answer, env.uid);
        if (ops.length === 0) return;
        assert.ok(isPodCreate(env), "only Pod CREATE is patched");
        patched++;
        const mutated = applyStrict(pod, ops);
        checkValidResult(mutated);
        // Re-invocation (reinvocationPolicy: IfNeeded) sees the mutated pod: nothing to do.
        const again = checkEnvelope(await post(admissionReview(env, mutated)), env.uid);
        assert.deepEqual(again, [], "re-submitting the mutated pod is a no-op");
      }),
      propertyParams(400),
    );
    assert.ok(patched > cases / 10, `only ${patched} of ${cases} cases were patched: the generator lost its aim`);
    assert.ok(refused > 0, "no hostile shape was generated");
  });
});
