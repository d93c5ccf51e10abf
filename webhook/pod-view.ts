/**
 * Reading an untrusted pod (an admission request's object, a manifest's pod template) into
 * the small, bounded view the decision and the patch need. Pure.
 *
 * Two kinds of bad input are told apart:
 * - a shape the API server can never send, because it decodes every pod into Go types first
 *   (metadata a string, an annotation value a number, a dnsConfig entry that is not a
 *   string): an error naming the field, answered with HTTP 400 (the CLI: exit 1);
 * - content the API server does send, since mutating admission runs before validation
 *   (an invalid IP, an uppercase search, 40 searches, an option without a name): read, and
 *   left to the dnsConfig builder to cut with a warning, so the result is valid.
 *
 * Work is bounded by Kubernetes' limits, not by the input: only the first entries of each
 * dnsConfig list are read (about twice what a valid pod can have) (the rest is counted, never looked at),
 * and only the labels and annotations the decision reads are copied. The view is what
 * crosses from the body-parsing worker to the main thread, so it must stay small.
 */
import { INJECTED_ANNOTATION, INJECT_LABEL, MIRROR_POD_ANNOTATION, NDOTS_ANNOTATION, OS_NODE_LABEL, PROFILE_ANNOTATION } from "../config/names.js";
import type { DNSOption } from "../config/settings.js";
import type { PodLike } from "./decision.js";
import type { UnreadEntries } from "./dns-config.js";
import { READ_LIMITS, annotationBytes, describeValue } from "../config/dns-limits.js";
import { isObject } from "../config/json-shapes.js";

/** The labels and annotations the decision reads; every other key is only measured. */
const READ_LABELS = [INJECT_LABEL];
/** The pod's own profile and ndots (choosePodProfile) are read too. */
const READ_ANNOTATIONS = [INJECTED_ANNOTATION, MIRROR_POD_ANNOTATION, PROFILE_ANNOTATION, NDOTS_ANNOTATION];
/** The nodeSelector key that tells a Windows pod (isWindowsPod). */
const READ_NODE_SELECTOR = [OS_NODE_LABEL];

export interface PodView extends PodLike {
  metadata?: { name?: string; generateName?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    dnsPolicy?: string;
    hostNetwork?: boolean;
    dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: DNSOption[] };
    os?: { name?: string };
    nodeSelector?: Record<string, string>;
  };
}

/** A pod as read: the view plus what the view leaves out but the decision must know. */
export interface PodRead {
  pod: PodView;
  /** Bytes of all annotations (keys + values) as the API server counts them. */
  annotationBytes: number;
  /** dnsConfig entries past the read limits, never looked at. */
  unread: UnreadEntries;
}

export type PodReadResult = { ok: true; read: PodRead } | { ok: false; error: string };

class ShapeError extends Error {}

/**
 * Reads `value` as a Pod (or pod template); `field` names it in errors, e.g.
 * `request.object` or `spec.template`. Never throws.
 */
export function readPod(value: unknown, field: string): PodReadResult {
  try {
    return { ok: true, read: readPodOrThrow(value, field) };
  } catch (err) {
    if (err instanceof ShapeError) return { ok: false, error: err.message };
    throw err;
  }
}

/** `a.b` under a prefix, or just `b` at the top (a manifest's Pod itself). */
const join = (prefix: string, key: string) => (prefix ? `${prefix}.${key}` : key);

function fail(field: string, expected: string, value: unknown): never {
  throw new ShapeError(`${field}: expected ${expected}, got ${describeValue(value, 40)}`);
}

function optionalString(obj: Record<string, unknown>, key: string, field: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") fail(`${field}.${key}`, "a string", v);
  return v;
}

/** `metadata.annotations["pod-dns-injector.io/injected"]`: keys with dots or slashes quoted. */
function keyField(field: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${field}.${key}` : `${field}[${describeValue(key, 60)}]`;
}

/** The `keep` entries of a mapping of strings, every value checked; `bytes` counted only when asked (annotations). */
function readStringMap(value: unknown, field: string, keep: readonly string[], countBytes = false): { map: Record<string, string>; bytes: number } {
  if (!isObject(value)) fail(field, "a mapping of strings", value);
  const map: Record<string, string> = {};
  let bytes = 0;
  for (const key in value) {
    const v = value[key];
    if (typeof v !== "string") fail(keyField(field, key), "a string", v);
    if (countBytes) bytes += annotationBytes(key, v);
    if (keep.includes(key)) map[key] = v;
  }
  return { map, bytes };
}

function readPodOrThrow(value: unknown, field: string): PodRead {
  if (!isObject(value)) fail(field || "the object", "an object", value);
  const pod: PodView = {};
  const unread: UnreadEntries = { nameservers: 0, searches: 0, options: 0 };
  let bytes = 0;

  if (value.metadata !== undefined) {
    const m = value.metadata;
    const f = join(field, "metadata");
    if (!isObject(m)) fail(f, "an object", m);
    const metadata: NonNullable<PodView["metadata"]> = {};
    const name = optionalString(m, "name", f);
    const generateName = optionalString(m, "generateName", f);
    if (name !== undefined) metadata.name = name;
    if (generateName !== undefined) metadata.generateName = generateName;
    if (m.labels !== undefined) metadata.labels = readStringMap(m.labels, `${f}.labels`, READ_LABELS).map;
    if (m.annotations !== undefined) {
      const a = readStringMap(m.annotations, `${f}.annotations`, READ_ANNOTATIONS, true);
      metadata.annotations = a.map;
      bytes = a.bytes;
    }
    pod.metadata = metadata;
  }

  if (value.spec !== undefined) {
    const s = value.spec;
    const f = join(field, "spec");
    if (!isObject(s)) fail(f, "an object", s);
    const spec: NonNullable<PodView["spec"]> = {};
    const dnsPolicy = optionalString(s, "dnsPolicy", f);
    if (dnsPolicy !== undefined) spec.dnsPolicy = dnsPolicy;
    if (s.hostNetwork !== undefined) {
      if (typeof s.hostNetwork !== "boolean") fail(`${f}.hostNetwork`, "true or false", s.hostNetwork);
      spec.hostNetwork = s.hostNetwork;
    }
    // null is what a YAML `dnsConfig:` with nothing under it gives: the same as absent.
    if (s.dnsConfig !== undefined && s.dnsConfig !== null) spec.dnsConfig = readDNSConfig(s.dnsConfig, `${f}.dnsConfig`, unread);
    if (s.os !== undefined && s.os !== null) {
      if (!isObject(s.os)) fail(`${f}.os`, "an object", s.os);
      const osName = optionalString(s.os, "name", `${f}.os`);
      spec.os = osName === undefined ? {} : { name: osName };
    }
    if (s.nodeSelector !== undefined && s.nodeSelector !== null) spec.nodeSelector = readStringMap(s.nodeSelector, `${f}.nodeSelector`, READ_NODE_SELECTOR).map;
    pod.spec = spec;
  }
  return { pod, annotationBytes: bytes, unread };
}

function readList<T>(value: unknown, field: string, limit: number, readEntry: (entry: unknown, field: string) => T): { entries: T[]; unread: number } | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) fail(field, "a list", value);
  const entries: T[] = [];
  const n = Math.min(value.length, limit);
  for (let i = 0; i < n; i++) entries.push(readEntry(value[i], `${field}[${i}]`));
  return { entries, unread: value.length - n };
}

const readString = (entry: unknown, field: string): string => (typeof entry === "string" ? entry : fail(field, "a string", entry));

function readOption(entry: unknown, field: string): DNSOption {
  if (!isObject(entry)) fail(field, "an object with name and value", entry);
  // An option without a name is content the API server passes on (and refuses later): the
  // builder cuts it with a warning. The empty name stands for it.
  const name = optionalString(entry, "name", field) ?? "";
  const v = entry.value;
  if (v !== undefined && v !== null && typeof v !== "string") fail(`${field}.value`, "a string", v);
  return typeof v === "string" ? { name, value: v } : { name };
}

function readDNSConfig(value: unknown, field: string, unread: UnreadEntries): NonNullable<NonNullable<PodView["spec"]>["dnsConfig"]> {
  if (!isObject(value)) fail(field, "an object", value);
  const cfg: NonNullable<NonNullable<PodView["spec"]>["dnsConfig"]> = {};
  const nameservers = readList(value.nameservers, `${field}.nameservers`, READ_LIMITS.nameservers, readString);
  const searches = readList(value.searches, `${field}.searches`, READ_LIMITS.searches, readString);
  const options = readList(value.options, `${field}.options`, READ_LIMITS.options, readOption);
  if (nameservers) {
    cfg.nameservers = nameservers.entries;
    unread.nameservers = nameservers.unread;
  }
  if (searches) {
    cfg.searches = searches.entries;
    unread.searches = searches.unread;
  }
  if (options) {
    cfg.options = options.entries;
    unread.options = options.unread;
  }
  return cfg;
}
