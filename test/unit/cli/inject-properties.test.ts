/**
 * The generator of test/generative/pods.ts through `inject -f` (in process, as main() runs
 * it): Pods, Deployments and CronJobs, several per stream. An input problem exits 1 naming
 * the document (never "unexpected"); otherwise every injected template passes the API
 * server's dnsConfig and annotation rules, and injecting the output again changes nothing.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseAllDocuments } from "yaml";
import { INJECTED_ANNOTATION } from "../../../config/names.js";
import { main } from "../../../cli/program.js";
import { MAX_ANNOTATIONS_BYTES, annotationBytes, dnsConfigProblem } from "../../../config/dns-limits.js";
import { anyPod, propertyParams, serializeReview, type GeneratedPod } from "../../generative/pods.js";

async function inject(text: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(["inject", "-f", "-"], { stdin: Readable.from([text]), stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env: {} });
  return { code, stdout, stderr };
}

const wrappers: Record<string, (pod: GeneratedPod, i: number) => unknown> = {
  Pod: (pod) => pod,
  Deployment: (pod, i) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: `d${i}` },
    spec: { selector: {}, template: { metadata: pod.metadata, spec: pod.spec } },
  }),
  CronJob: (pod, i) => ({
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: `c${i}` },
    spec: { schedule: "* * * * *", jobTemplate: { spec: { template: { metadata: pod.metadata, spec: pod.spec } } } },
  }),
};

function templateOf(obj: Record<string, unknown>): {
  metadata?: { annotations?: Record<string, string> };
  spec?: { dnsPolicy?: string; dnsConfig?: { nameservers: string[]; searches: string[]; options: { name: string }[] } };
} {
  const spec = obj.spec as Record<string, unknown> | undefined;
  if (obj.kind === "Deployment") return spec?.template as never;
  if (obj.kind === "CronJob") return ((spec?.jobTemplate as Record<string, unknown>).spec as Record<string, unknown>).template as never;
  return obj;
}

const stream = fc.array(fc.tuple(anyPod, fc.constantFrom(...Object.keys(wrappers))), { minLength: 1, maxLength: 3 });

describe("inject -f properties (fast-check)", () => {
  it("input problems exit 1 naming a bad document; injected templates are valid; inject is idempotent", async () => {
    await fc.assert(
      fc.asyncProperty(stream, async (docs) => {
        // Keep pods in the Pod's own fields so the wrappers carry the same template.
        const objects = docs.map(([{ pod }, kind], i) => (wrappers[kind] as (p: GeneratedPod, i: number) => unknown)(pod, i));
        const text = objects.map((o) => serializeReview(o)).join("\n---\n");
        const hostile = docs.flatMap(([{ hostile: h }], i) => (h === undefined ? [] : [i + 1]));
        const r = await inject(text);
        assert.doesNotMatch(r.stderr, /unexpected/, r.stderr);
        if (hostile.length > 0) {
          assert.equal(r.code, 1, r.stderr);
          const m = /^pod-dns-injector: <stdin>: document (\d+)\b/m.exec(r.stderr);
          assert.ok(m && hostile.includes(Number(m[1])), `documents ${hostile.join(",")} are bad: ${r.stderr.slice(0, 300)}`);
          return;
        }
        assert.equal(r.code, 0, r.stderr);
        const out = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, unknown>);
        assert.equal(out.length, objects.length);
        for (const obj of out) {
          const t = templateOf(obj);
          const annotations = t.metadata?.annotations ?? {};
          if (annotations[INJECTED_ANNOTATION] === undefined || t.spec?.dnsPolicy !== "None" || !t.spec.dnsConfig) continue;
          if (dnsConfigProblem(t.spec.dnsConfig) !== null) {
            // Left as it came (a pod that manages its own DNS, or skipped): only our own output must be valid.
            const original = templateOf(objects[out.indexOf(obj)] as Record<string, unknown>);
            assert.deepEqual(t.spec.dnsConfig, original.spec?.dnsConfig, "an invalid dnsConfig that is not the input's own");
            continue;
          }
          let total = 0;
          for (const [k, v] of Object.entries(annotations)) total += annotationBytes(k, v);
          assert.ok(total <= MAX_ANNOTATIONS_BYTES, `annotations total ${total}`);
        }
        const again = await inject(r.stdout);
        assert.equal(again.code, 0, again.stderr);
        assert.equal(again.stdout, r.stdout, "injecting the output again changes nothing");
      }),
      propertyParams(150),
    );
  });
});
