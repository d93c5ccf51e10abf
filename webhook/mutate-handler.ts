/**
 * /mutate: AdmissionReview in, AdmissionResponse out. Gathers the facts, asks the pure
 * decision, and turns it into a patch, warnings and audit annotations. No HTTP here.
 */
import type { Settings } from "../config/settings.js";
import type { AdmissionFacts } from "./admission-facts.js";
import { allowedResponse, type AdmissionResponse, type AdmissionReview } from "./admission-review.js";
import { applyDecision, decide, type Decision, type PodLike } from "./decision.js";
import { optionText } from "./dns-config.js";
import { createInjectionPatch } from "./patch.js";

export interface MutateDeps {
  /** Current settings (they may be reloaded between requests). */
  settings: () => Settings;
  facts: AdmissionFacts;
}

export interface MutateOutcome {
  response: AdmissionResponse;
  decision: Decision;
}

export async function handleMutate(review: AdmissionReview, deps: MutateDeps): Promise<MutateOutcome> {
  const req = review.request;
  const settings = deps.settings();
  const namespace = req.namespace ?? "";
  const pod = (req.object ?? {}) as PodLike;
  const isPodCreate = req.kind.kind === "Pod" && req.kind.group === "" && req.operation === "CREATE" && !req.subResource;
  // Only pods need the namespace; looking it up for anything else would cost a cache read
  // (or an API call) for nothing.
  const nsFacts = isPodCreate && namespace ? await deps.facts.lookupNamespace(namespace) : undefined;
  const decision = decide({
    request: { kind: req.kind, operation: req.operation, subResource: req.subResource, namespace },
    pod,
    namespace: nsFacts,
    dnsServiceIP: deps.facts.dnsServiceIP(),
    settings,
  });

  const auditAnnotations: Record<string, string> = { decision: decision.action, reason: decision.reason };
  if (decision.profile) auditAnnotations.profile = decision.profile;
  const warnings = [...decision.warnings];

  if (decision.action === "inject") {
    const patch = createInjectionPatch(pod, applyDecision(pod, decision));
    return { decision, response: allowedResponse(req.uid, { patch, warnings, auditAnnotations }) };
  }
  if (decision.action === "report" && decision.dnsConfig) {
    const summary = describeDNSConfig(decision.dnsConfig);
    warnings.unshift(`pod-dns-injector (audit mode): would set dnsPolicy None; ${summary}`);
    auditAnnotations["would-inject"] = JSON.stringify(decision.dnsConfig);
  }
  return { decision, response: allowedResponse(req.uid, { warnings, auditAnnotations }) };
}

/** One line: "nameservers 10.96.0.10; searches a b c; options ndots:5". */
export function describeDNSConfig(cfg: NonNullable<Decision["dnsConfig"]>): string {
  const opts = cfg.options.map(optionText);
  return `nameservers ${cfg.nameservers.join(" ")}; searches ${cfg.searches.join(" ")}; options ${opts.join(" ") || "(none)"}`;
}
