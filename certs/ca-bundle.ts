/**
 * caBundle diffing, pure: what a webhook configuration's caBundles trust, and the JSON Patch
 * that makes them equal to the trusted set. Equality is by certificate (SHA-256 of the DER),
 * not by text, so re-encoding or reordering by another tool does not cause a write.
 *
 * The patch replaces `/metadata/resourceVersion` with the version we read: the API server
 * treats that as a precondition and answers 409 Conflict if the object changed meanwhile, so
 * a concurrent edit (a `kubectl apply`, another replica) is never overwritten blindly and
 * the webhook indices we patch are the ones we looked at. (A JSON Patch `test` op would
 * also refuse, but with an unspecific 422.)
 */
import { splitCertificateBundle } from "./inspect.js";
import { parseCertificate, type ParsedCertificate } from "./secret-layout.js";
import type { ObservedBundle } from "./rotation.js";

/** The kinds of webhook configuration whose caBundles we keep. */
export type WebhookConfigurationKind = "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration";

/** The part of a webhook configuration we read (client-node's models match it). */
export interface WebhookConfigurationLike {
  metadata?: { name?: string | undefined; resourceVersion?: string | undefined } | undefined;
  webhooks?: { name: string; clientConfig?: { caBundle?: string | undefined } | undefined }[] | undefined;
}

/** An RFC 6902 operation, as the API server takes it with `application/json-patch+json`. */
export interface JsonPatchOperation {
  op: "add" | "replace";
  path: string;
  value: string;
}

/** The trusted set in the two forms we need: base64 PEM for the API, fingerprints to compare. */
export interface DesiredBundle {
  /** base64 of the PEM bundle: the wire form of `clientConfig.caBundle`. */
  caBundle: string;
  fingerprints: string[];
}

/** The desired caBundle for `certs` (in order). */
export function desiredBundle(certs: readonly ParsedCertificate[]): DesiredBundle {
  const pem = certs.map((c) => (c.pem.endsWith("\n") ? c.pem : `${c.pem}\n`)).join("");
  return { caBundle: Buffer.from(pem, "utf8").toString("base64"), fingerprints: certs.map((c) => c.fingerprint) };
}

/**
 * The certificates a caBundle (base64 PEM) holds. `clean` is false when anything in it is
 * not a parseable certificate (garbage, a key, truncated base64): the bundle is then rewritten
 * even if the fingerprints match, since what the API server makes of it is not ours to guess.
 */
export function readCABundle(caBundle: string | undefined): { fingerprints: string[]; clean: boolean } {
  if (caBundle === undefined || caBundle === "") return { fingerprints: [], clean: true };
  const pem = Buffer.from(caBundle, "base64").toString("utf8");
  const blocks = splitCertificateBundle(pem);
  const fingerprints: string[] = [];
  let clean = blocks.length > 0 && pem.replace(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g, "").trim() === "";
  for (const block of blocks) {
    const r = parseCertificate(block);
    if (r.ok) fingerprints.push(r.value.fingerprint);
    else clean = false;
  }
  return { fingerprints, clean };
}

/** Every webhook's caBundle of one configuration, named `<kind>/<configuration>/<webhook>`. */
export function observeBundles(kind: WebhookConfigurationKind, config: WebhookConfigurationLike): ObservedBundle[] {
  const name = config.metadata?.name ?? "";
  return (config.webhooks ?? []).map((w) => ({ name: `${kind}/${name}/${w.name}`, fingerprints: readCABundle(w.clientConfig?.caBundle).fingerprints }));
}

/**
 * The JSON Patch that sets every webhook's caBundle of `config` to `desired`, or null when
 * each already holds exactly the desired certificates (and nothing else). `webhooks` names
 * the webhooks the patch changes, for logs.
 */
export function planCABundlePatch(config: WebhookConfigurationLike, desired: DesiredBundle): { ops: JsonPatchOperation[]; webhooks: string[] } | null {
  const resourceVersion = config.metadata?.resourceVersion;
  const ops: JsonPatchOperation[] = [];
  const webhooks: string[] = [];
  (config.webhooks ?? []).forEach((w, i) => {
    const current = readCABundle(w.clientConfig?.caBundle);
    const same = current.clean && current.fingerprints.length === desired.fingerprints.length && desired.fingerprints.every((f) => current.fingerprints.includes(f));
    if (same) return;
    // "add" sets an object member whether or not it exists (RFC 6902 §4.1); an empty caBundle
    // is omitted from the stored object, so "replace" would fail on it.
    ops.push({ op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: desired.caBundle });
    webhooks.push(w.name);
  });
  if (ops.length === 0) return null;
  if (resourceVersion === undefined || resourceVersion === "")
    throw new Error(`planCABundlePatch: ${config.metadata?.name ?? "(unnamed)"} has no resourceVersion (not an object read from the API)`);
  return { ops: [{ op: "replace", path: "/metadata/resourceVersion", value: resourceVersion }, ...ops], webhooks };
}
