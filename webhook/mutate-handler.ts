/**
 * /mutate: AdmissionReview in, AdmissionResponse out. Gathers the facts, asks the pure
 * decision, and turns it into a patch, warnings and audit annotations. No HTTP here.
 */
import { INJECTED_ANNOTATION } from "../config/names.js";
import type { Settings } from "../config/settings.js";
import type { AdmissionFacts } from "./admission-facts.js";
import { isPodCreate } from "./pod-create.js";
import { allowedResponse, encodePatch, reviewTextTemplate, type AdmissionResponse, type AdmissionReview } from "./admission-review.js";
import { applyDecision, decide, describeWouldInject, type Decision, type PodLike } from "./decision.js";
import { createInjectionPatch } from "./patch.js";
import type { NamespaceFacts } from "./namespace-policy.js";
import { readPod, type PodRead } from "./pod-view.js";

export interface MutateDeps {
  /** Current settings (they may be reloaded between requests). */
  settings: () => Settings;
  facts: AdmissionFacts;
}

export interface MutateOutcome {
  response: AdmissionResponse;
  decision: Decision;
  /**
   * The JSON text of `reviewResponse(response)` when it was built from a cached template (a
   * plain pod's injection without warnings): the HTTP layer sends it as is.
   */
  answer?: string;
}

/** Why a review failed internally: the `reason` label of the internal-errors metric. */
export type InternalErrorReason = "namespace-lookup-failed" | "handler-bug" | "large-reviews-busy";

/**
 * A failure of ours, not of the request: the HTTP layer answers it with HTTP 500 so that the
 * API server applies the webhook's failurePolicy (README "When the webhook fails").
 */
export class AdmissionInternalError extends Error {
  constructor(
    message: string,
    readonly reason: InternalErrorReason,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Answers one /mutate review: reads the namespace's facts (only for a pod CREATE), asks the
 * pure decision ({@link decide}) and turns it into the AdmissionResponse.
 *
 * Contract: the response always carries the request's `uid` and is always `allowed: true`;
 * only `inject` carries a JSON Patch (`dnsPolicy: None`, the dnsConfig, our annotation), and
 * `report` (audit mode) carries a warning naming what would change instead (Decision.changes). Every response
 * has the audit annotations `decision` and `reason` (and `profile` when one applies,
 * `profile-reason` when the pod asked for one), and the decision's warnings. The returned `decision` is the same one, for logs and metrics.
 *
 * `pod` is the request's object as read by decodeMutateReview (the HTTP layer always passes
 * it); without it the object in `review` is read here.
 *
 * The outcome itself when the namespace's facts are at hand (AdmissionFacts.cachedNamespace)
 * or not needed, else a promise of it: most reviews are answered without one.
 *
 * @throws AdmissionInternalError (or rejects with it) when the namespace cannot be read
 *   (`namespace-lookup-failed`) or an unchecked object reaches it (`handler-bug`): the HTTP
 *   layer answers 500, so the webhook's failurePolicy decides, never this function.
 */
export function mutate(review: AdmissionReview, deps: MutateDeps, pod?: PodRead): MutateOutcome | Promise<MutateOutcome> {
  const req = review.request;
  const namespace = req.namespace ?? "";
  const podCreate = isPodCreate(req);
  let read = pod;
  if (!read && podCreate) {
    const r = readPod(req.object ?? {}, "request.object");
    if (!r.ok) throw new AdmissionInternalError(`unchecked review reached the handler: ${r.error}`, "handler-bug");
    read = r.read;
  }
  // Only pods need the namespace; looking it up for anything else would cost a cache read
  // (or an API call) for nothing.
  if (!podCreate || !namespace) return respond(review, namespace, deps, read, undefined);
  const cached = deps.facts.cachedNamespace?.(namespace);
  if (cached) return respond(review, namespace, deps, read, cached);
  return lookUpNamespace(deps, namespace).then((nsFacts) => respond(review, namespace, deps, read, nsFacts));
}

async function lookUpNamespace(deps: MutateDeps, namespace: string): Promise<NamespaceFacts | undefined> {
  try {
    return await deps.facts.lookupNamespace(namespace);
  } catch (err) {
    throw new AdmissionInternalError(`look up namespace ${namespace}`, "namespace-lookup-failed", { cause: err });
  }
}

/** {@link mutate}, always as a promise (tests, and callers with no use for the synchronous answer). */
export async function handleMutate(review: AdmissionReview, deps: MutateDeps, pod?: PodRead): Promise<MutateOutcome> {
  return mutate(review, deps, pod);
}

/** The decision for the review with the namespace's facts, and the response it makes. */
function respond(review: AdmissionReview, namespace: string, deps: MutateDeps, read: PodRead | undefined, nsFacts: NamespaceFacts | undefined): MutateOutcome {
  const req = review.request;
  const settings = deps.settings();
  const view = read?.pod ?? {};
  const decision = decide({
    request: { kind: req.kind, operation: req.operation, subResource: req.subResource, namespace },
    pod: view,
    namespace: nsFacts,
    dnsServiceIPs: deps.facts.dnsServiceIPs(),
    settings,
    annotationBytes: read?.annotationBytes,
    unread: read?.unread,
  });

  const auditAnnotations: Record<string, string> = { decision: decision.action, reason: decision.reason };
  if (decision.profile) auditAnnotations.profile = decision.profile;
  // Only when the pod asked for a profile: the namespace's own needs no second annotation.
  if (decision.profileReason && decision.profileReason !== "namespace-profile") auditAnnotations["profile-reason"] = decision.profileReason;
  // Read only: a shared decision's warnings are frozen.
  const warnings: readonly string[] = decision.warnings;

  if (decision.action === "inject") {
    const unread = read ? read.unread.nameservers + read.unread.searches + read.unread.options : 0;
    const plain = plainInjection(view, decision, unread);
    const encodedPatch = plain?.encoded ?? encodePatch(createInjectionPatch(view, applyDecision(view, decision), unread));
    const response = allowedResponse(req.uid, { encodedPatch, warnings, auditAnnotations });
    if (!plain || warnings.length > 0) return { decision, response };
    return { decision, response, answer: plainAnswer(plain, auditAnnotations)(req.uid) };
  }
  if (decision.action === "report" && decision.dnsConfig) {
    // What would change, from the decision itself (the annotation only when nothing else
    // does: warnings are clipped at MAX_WARNING_LENGTH).
    auditAnnotations["would-inject"] = JSON.stringify(decision.dnsConfig);
    const wouldInject = `pod-dns-injector (audit mode): ${describeWouldInject(decision.changes, decision.dnsConfig)}`;
    return { decision, response: allowedResponse(req.uid, { warnings: [wouldInject, ...warnings], auditAnnotations }) };
  }
  return { decision, response: allowedResponse(req.uid, { warnings, auditAnnotations }) };
}

/**
 * What a pod without a dnsConfig or injected annotation of its own gets, by the namespace's
 * shared dnsConfig (decide builds one per namespace, DNS IP and settings) and the pod's
 * shape: the encoded patch, and the serialized answers around it. Such a patch depends on
 * nothing else: whether metadata, annotations and spec exist, and the dnsPolicy it
 * replaces. Building and encoding it was ~4 % of the webhook's CPU per review; serializing
 * the answer took another ~0.8 µs per review (measured in-process).
 */
interface PlainInjection {
  encoded: string;
  /** Answer templates by audit annotations (a handful of reasons and profiles). */
  answers: Map<string, (uid: string) => string>;
}

const plainInjections = new WeakMap<object, Map<string, PlainInjection>>();

/** Bounds the answers kept per plain injection (their keys come from a few reasons and profiles). */
const MAX_ANSWERS = 64;

/** The cached injection of a plain pod, or undefined when the pod is not plain. */
function plainInjection(view: PodLike, decision: Decision, unread: number): PlainInjection | undefined {
  const annotations = view.metadata?.annotations;
  const plain = unread === 0 && view.spec?.dnsConfig === undefined && annotations?.[INJECTED_ANNOTATION] === undefined && decision.dnsConfig !== undefined;
  if (!plain) return undefined;
  const shape = `${view.metadata ? 1 : 0}${annotations ? 1 : 0}${view.spec ? 1 : 0}${view.spec?.dnsPolicy ?? ""}`;
  let byShape = plainInjections.get(decision.dnsConfig!);
  if (!byShape) plainInjections.set(decision.dnsConfig!, (byShape = new Map<string, PlainInjection>()));
  let entry = byShape.get(shape);
  if (entry === undefined) byShape.set(shape, (entry = { encoded: encodePatch(createInjectionPatch(view, applyDecision(view, decision))), answers: new Map() }));
  return entry;
}

/** The answer template of a plain injection with these audit annotations (no warnings). */
function plainAnswer(plain: PlainInjection, auditAnnotations: Record<string, string>): (uid: string) => string {
  // Every annotation, key and value (\0 occurs in neither): three or four short strings.
  let key = "";
  for (const k in auditAnnotations) key += `${k}\0${auditAnnotations[k]}\0`;
  let template = plain.answers.get(key);
  if (template === undefined) {
    if (plain.answers.size >= MAX_ANSWERS) plain.answers.clear();
    plain.answers.set(key, (template = reviewTextTemplate(allowedResponse("", { encodedPatch: plain.encoded, auditAnnotations }))));
  }
  return template;
}
