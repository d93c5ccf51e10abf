/** Type guards for untrusted JSON (admission bodies, manifests, configuration files). */

/** A JSON object: not null, not a list. */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
