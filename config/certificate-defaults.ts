/**
 * The certificate rules settings validation needs: lifetimes and the renewal fraction. A leaf
 * (no imports) so that config/ reads them without importing certs/, which sits above it.
 */

/** Default CA lifetime: 10 years, so the CA rolls over rarely (issue 4). */
export const DEFAULT_CA_VALIDITY_DAYS = 3650;
/** Default serving-certificate lifetime: 1 year, renewed at 2/3 of it (certs/rotation.ts). */
export const DEFAULT_SERVING_VALIDITY_DAYS = 365;

/** cert-manager's default: renew with a third of the lifetime left. */
export const DEFAULT_RENEWAL_FRACTION = 2 / 3;

/**
 * Whether `fraction` is a usable renewal fraction, for configuration validation (an invalid
 * setting is an expected outcome there, reported as a value). 0 would renew continuously and
 * 1 only once the certificate has already expired, so both ends are excluded.
 */
export function isValidRenewalFraction(fraction: unknown): fraction is number {
  return typeof fraction === "number" && Number.isFinite(fraction) && fraction > 0 && fraction < 1;
}
