/**
 * What a namespace asks for: its mode (from the opt-in label) and its effective DNS
 * profile (the named profile plus the ndots/searches override annotations), and what a pod
 * in it may ask for on top (its own profile, restricted by allowed-profiles, and ndots). Pure.
 */
import { ALLOWED_PROFILES_ANNOTATION, INJECT_LABEL, NAMESPACE_MODES, NDOTS_ANNOTATION, PROFILE_ANNOTATION, SEARCHES_ANNOTATION, type NamespaceMode } from "../config/names.js";
import { hasProfile, type Profile, type Settings } from "../config/settings.js";
import { MAX_ALLOWED_PROFILES, isValidSearch } from "../config/dns-limits.js";

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
  /**
   * The profiles the namespace's pods may pick (allowed-profiles, defined names only); null:
   * any. The namespace's own `profileName` is allowed whatever the list says.
   */
  allowedProfiles: readonly string[] | null;
  /** Ignored annotations, one line each; they end up as admission warnings. */
  warnings: string[];
}

/** ndots above 15 is capped by glibc; 0..15 is what every resolver accepts. */
const NDOTS_RE = /^(?:[0-9]|1[0-5])$/;

/** A copy of `base`: the result is changed by overrides, the settings never are. */
function copyProfile(base: Profile): Profile {
  return {
    nameservers: [...base.nameservers],
    searches: [...base.searches],
    options: base.options.map((o) => ({ ...o })),
    ...(base.maxSearchLineBytes !== undefined ? { maxSearchLineBytes: base.maxSearchLineBytes } : {}),
  };
}

/** An ndots annotation's value as the option value ("2"), or undefined when it is not an integer 0-15. */
function ndotsValue(raw: string): string | undefined {
  const trimmed = raw.trim();
  return NDOTS_RE.test(trimmed) ? String(Number(trimmed)) : undefined;
}

/** `profile` with ndots first, replacing the profile's own ndots. */
function withNdots(profile: Profile, ndots: string): Profile {
  return { ...profile, options: [{ name: "ndots", value: ndots }, ...profile.options.filter((o) => o.name !== "ndots")] };
}

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
    if (hasProfile(settings, requested)) profileName = requested;
    else warnings.push(`namespace ${ns.name}: unknown profile ${JSON.stringify(requested)} in ${PROFILE_ANNOTATION}, using ${JSON.stringify(settings.defaultProfile)}`);
  }
  const base = settings.profiles[profileName];
  if (!base) throw new Error(`settings: default profile ${JSON.stringify(profileName)} is not defined`);
  let profile = copyProfile(base);

  const ndots = ns.annotations[NDOTS_ANNOTATION];
  if (ndots !== undefined) {
    const value = ndotsValue(ndots);
    if (value !== undefined) profile = withNdots(profile, value);
    else warnings.push(`namespace ${ns.name}: ignored ${NDOTS_ANNOTATION}=${JSON.stringify(ndots)} (must be an integer 0-15)`);
  }
  const searches = ns.annotations[SEARCHES_ANNOTATION];
  if (searches !== undefined) {
    const entries = searches
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    const bad = entries.filter((s) => !isValidSearch(s));
    if (bad.length) {
      warnings.push(`namespace ${ns.name}: ignored ${SEARCHES_ANNOTATION} (not lowercase DNS subdomains: ${bad.join(", ")})`);
    } else {
      profile.searches = entries;
    }
  }
  const allowedProfiles = readAllowedProfiles(ns, settings, warnings);
  return { mode, ...(rawMode !== undefined && mode === null ? { invalidMode: rawMode } : {}), profileName, profile, allowedProfiles, warnings };
}

/**
 * allowed-profiles: a comma list, entries trimmed, empty ones dropped; no entry (or no
 * annotation) means any profile. Entries that name no profile are warned about and allow
 * nothing, so a list of only unknown names leaves just the namespace's own profile.
 */
function readAllowedProfiles(ns: NamespaceFacts, settings: Settings, warnings: string[]): string[] | null {
  const raw = ns.annotations[ALLOWED_PROFILES_ANNOTATION];
  if (raw === undefined) return null;
  const parts = raw.split(",");
  if (parts.length > MAX_ALLOWED_PROFILES)
    warnings.push(`namespace ${ns.name}: ${ALLOWED_PROFILES_ANNOTATION} has ${parts.length} entries; only the first ${MAX_ALLOWED_PROFILES} are read`);
  const entries = parts
    .slice(0, MAX_ALLOWED_PROFILES)
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (entries.length === 0) return null;
  const unknown = entries.filter((e) => !hasProfile(settings, e));
  if (unknown.length)
    warnings.push(
      `namespace ${ns.name}: ${ALLOWED_PROFILES_ANNOTATION} names no profile ${unknown.map((u) => JSON.stringify(u)).join(", ")} (have: ${Object.keys(settings.profiles).join(", ")})`,
    );
  return entries.filter((e) => hasProfile(settings, e));
}

/**
 * Why a pod gets its profile: a second reason code beside the decision's row reason, since
 * every row (inject, already-injected, audit, skips) can come with any of these. Stable,
 * kebab-case, a bounded set (metric label values); `explain` prints the text.
 */
export const PROFILE_REASONS = {
  "namespace-profile": "the namespace's profile, with its ndots and searches annotations",
  "pod-profile": "picked by the pod's pod-dns-injector.io/profile annotation; the namespace's ndots and searches annotations do not apply",
  "pod-profile-unknown": "the pod's pod-dns-injector.io/profile names no profile; the namespace's profile instead",
  "pod-profile-not-allowed": "the pod's pod-dns-injector.io/profile is not in the namespace's pod-dns-injector.io/allowed-profiles; the namespace's profile instead",
} as const;
export type ProfileReason = keyof typeof PROFILE_REASONS;

/** What a pod's own annotations pick, resolved against its namespace's policy. */
export interface PodProfileChoice {
  /** The pod's own pick (reason `pod-profile`), else the namespace's profile. */
  profileName: string;
  profileReason: ProfileReason;
  /** The pod's ndots annotation as the option value ("2"), when it is an integer 0-15. */
  ndots?: string | undefined;
  /** The pod's ignored annotations, one line each (admission warnings). */
  warnings: string[];
}

/**
 * The pod's profile choice: its `pod-dns-injector.io/profile` annotation when that names a
 * profile the namespace allows (allowed-profiles, or the namespace's own profile), else the
 * namespace's profile with a warning and the reason; its `pod-dns-injector.io/ndots` when
 * valid, else ignored with a warning. Non-string values (never sent by the API server) count
 * as absent. Pure.
 */
export function choosePodProfile(policy: NamespacePolicy, annotations: Readonly<Record<string, unknown>>, settings: Settings): PodProfileChoice {
  const warnings: string[] = [];
  const requested = annotations[PROFILE_ANNOTATION];
  let profileName = policy.profileName;
  let profileReason: ProfileReason = "namespace-profile";
  if (typeof requested === "string") {
    const fallback = `using the namespace's ${JSON.stringify(policy.profileName)}`;
    if (!hasProfile(settings, requested)) {
      profileReason = "pod-profile-unknown";
      warnings.push(`pod annotation ${PROFILE_ANNOTATION}=${JSON.stringify(requested)} names no profile (have: ${Object.keys(settings.profiles).join(", ")}); ${fallback}`);
    } else if (policy.allowedProfiles !== null && requested !== policy.profileName && !policy.allowedProfiles.includes(requested)) {
      profileReason = "pod-profile-not-allowed";
      warnings.push(
        `pod annotation ${PROFILE_ANNOTATION}=${JSON.stringify(requested)} is not allowed in this namespace (${ALLOWED_PROFILES_ANNOTATION}: ${[policy.profileName, ...policy.allowedProfiles.filter((p) => p !== policy.profileName)].join(", ")}); ${fallback}`,
      );
    } else {
      profileName = requested;
      profileReason = "pod-profile";
    }
  }
  const rawNdots = annotations[NDOTS_ANNOTATION];
  let ndots: string | undefined;
  if (typeof rawNdots === "string") {
    ndots = ndotsValue(rawNdots);
    if (ndots === undefined) warnings.push(`pod annotation ${NDOTS_ANNOTATION}=${JSON.stringify(rawNdots)} ignored (must be an integer 0-15)`);
  }
  return { profileName, profileReason, ndots, warnings };
}

/**
 * The profile a pod gets for `choice`: a picked profile as configured (the namespace's
 * ndots/searches tune the namespace's profile only), else the namespace's; then the pod's
 * own ndots, which wins over both. Pure; the settings and the policy are not changed.
 */
export function podProfile(policy: NamespacePolicy, choice: PodProfileChoice, settings: Settings): Profile {
  const picked = choice.profileReason === "pod-profile" ? settings.profiles[choice.profileName] : undefined;
  const base = picked ? copyProfile(picked) : policy.profile;
  return choice.ndots === undefined ? base : withNdots(base, choice.ndots);
}
