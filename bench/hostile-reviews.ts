/**
 * The hostile stream of `npm run bench:hostile`: AdmissionReviews an adversary (or a broken
 * client) sends, each as large or as deep as the webhook's body limit allows. Each is
 * built from the realistic bench pod, so what differs from a normal review is the hostile
 * part only. The webhook must answer every one with a well-formed answer (a review with
 * the uid, or a 4xx naming the problem) and keep answering normal reviews meanwhile.
 */
import { ADMISSION_BODY_LIMIT } from "../webhook/app.js";
import { benchReview } from "./fixtures.js";

/** One kind of hostile review and what a correct webhook answers it. */
export interface HostileReview {
  kind: string;
  body: string;
  /** The HTTP status a correct webhook answers (200 with the uid, or 400). */
  expectStatus: 200 | 400;
}

/** Room left for the envelope and the marker's replacement under the body limit. */
const HEADROOM = 64 * 1024;

type Review = { request: { uid: string; object: { metadata: Record<string, unknown>; spec: Record<string, unknown> } } };

function reviewWith(uid: string, change: (r: Review) => void): string {
  const r = benchReview() as unknown as Review;
  r.request.uid = uid;
  change(r);
  return JSON.stringify(r);
}

/** Repeats `unit` (a JSON value) as list items until the list is about `bytes` long. */
function listOf(unit: string, bytes: number): string {
  return `[${Array.from({ length: Math.floor(bytes / (unit.length + 1)) }, () => unit).join(",")}]`;
}

/** Replaces the JSON string `"__hostile__"` in `text` with raw JSON `value`. */
const splice = (text: string, value: string) => text.replace('"__hostile__"', value);

/** The hostile kinds, each within the webhook's body limit (7 MiB). */
export function hostileReviews(): HostileReview[] {
  const room = ADMISSION_BODY_LIMIT - HEADROOM;
  return [
    {
      // A valid pod, as large as the limit allows: 1.2 million search domains.
      kind: "max-searches",
      body: splice(
        reviewWith("hostile-max-searches", (r) => (r.request.object.spec.dnsConfig = { searches: "__hostile__" })),
        listOf('"a0.example"', room),
      ),
      expectStatus: 200,
    },
    {
      // A list the webhook never reads, at the limit: 150,000 containers.
      kind: "huge-list",
      body: splice(
        reviewWith("hostile-huge-list", (r) => (r.request.object.spec.containers = "__hostile__" as never)),
        listOf('{"name":"c","image":"x:1"}', room),
      ),
      expectStatus: 200,
    },
    {
      // Nesting inside a dnsConfig entry the webhook reads: 3.4 million levels, refused
      // unparsed (no review from the API server nests past 10,000).
      kind: "deep-dnsconfig",
      body: splice(
        reviewWith("hostile-deep-dnsconfig", (r) => (r.request.object.spec.dnsConfig = { searches: ["ok.example", "__hostile__"] })),
        `${"[".repeat(room / 2)}"x"${"]".repeat(room / 2)}`,
      ),
      expectStatus: 400,
    },
    {
      // Nesting where the webhook does not look: the same depth, refused the same way.
      kind: "deep-elsewhere",
      body: splice(
        reviewWith("hostile-deep-elsewhere", (r) => (r.request.object.spec.overhead = "__hostile__" as never)),
        `${"[".repeat(room / 2)}1${"]".repeat(room / 2)}`,
      ),
      expectStatus: 400,
    },
  ];
}
