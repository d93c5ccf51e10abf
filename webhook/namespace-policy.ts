/**
 * What a namespace asks for: its mode (from the opt-in label) and its effective DNS
 * profile (the named profile plus the ndots/searches override annotations). Pure.
 */
import {
  INJECT_LABEL,
  NAMESPACE_MODES,
  NDOTS_ANNOTATION,
  PROFILE_ANNOTATION,
  SEARCHES_ANNOTATION,
  type NamespaceMode,
} from "../config/names.js";
import type { Profile, Settings } from "../config/settings.js";
import { isValidSearch } from "../config/dns-limits.js";

/** The facts about a namespace the decision needs; from an informer, an API read or a file. */
export interface NamespaceFacts {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface NamespacePolicy {
  /** null: the label is absent or holds a value we do not know (both mean "not opted in"). */
  mode: NamespaceMode | null;
  /** The label's raw value when it is not one of ours, for the explanation. */
  invalidMode?: string;
  profileName: string;
  profile: Profile;
  /** Ignored annotations, one line each; they end up as admission warnings. */
  warnings: string[];
}

/** ndots above 15 is capped by glibc; 0..15 is what every resolver accepts. */
const NDOTS_RE = /^(?:[0-9]|1[0-5])$/;

/**
 * What a namespace asks for: its mode (label), its profile and per-namespace tunings
 * (annotations) resolved against the settings. A bad annotation is ignored with a warning,
 * never an error. Pure.
 */
export function resolveNamespacePolicy(ns: NamespaceFacts, settings: Settings): NamespacePolicy {
  const warnings: string[] = [];
  const rawMode = ns.labels[INJECT_LABEL];
  const mode = rawMode !== undefined && (NAMESPACE_MODES as readonly string[]).includes(rawMode) ? (rawMode as NamespaceMode) : null;

  let profileName = settings.defaultProfile;
  const requested = ns.annotations[PROFILE_ANNOTATION];
  if (requested !== undefined) {
    if (settings.profiles[requested]) profileName = requested;
    else warnings.push(`namespace ${ns.name}: unknown profile ${JSON.stringify(requested)} in ${PROFILE_ANNOTATION}, using ${JSON.stringify(settings.defaultProfile)}`);
  }
  const base = settings.profiles[profileName];
  if (!base) throw new Error(`settings: default profile ${JSON.stringify(profileName)} is not defined`);
  const profile: Profile = {
    nameservers: [...base.nameservers],
    searches: [...base.searches],
    options: base.options.map((o) => ({ ...o })),
    ...(base.maxSearchLineBytes !== undefined ? { maxSearchLineBytes: base.maxSearchLineBytes } : {}),
  };

  const ndots = ns.annotations[NDOTS_ANNOTATION];
  if (ndots !== undefined) {
    const trimmed = ndots.trim();
    if (NDOTS_RE.test(trimmed)) {
      profile.options = [{ name: "ndots", value: String(Number(trimmed)) }, ...profile.options.filter((o) => o.name !== "ndots")];
    } else {
      warnings.push(`namespace ${ns.name}: ignored ${NDOTS_ANNOTATION}=${JSON.stringify(ndots)} (must be an integer 0-15)`);
    }
  }
  const searches = ns.annotations[SEARCHES_ANNOTATION];
  if (searches !== undefined) {
    const entries = searches.split(",").map((s) => s.trim()).filter((s) => s !== "");
    const bad = entries.filter((s) => !isValidSearch(s));
    if (bad.length) {
      warnings.push(`namespace ${ns.name}: ignored ${SEARCHES_ANNOTATION} (not lowercase DNS subdomains: ${bad.join(", ")})`);
    } else {
      profile.searches = entries;
    }
  }
  return { mode, ...(rawMode !== undefined && mode === null ? { invalidMode: rawMode } : {}), profileName, profile, warnings };
}
