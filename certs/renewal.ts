/**
 * When to renew a certificate: a pure function of its validity and a clock, as in
 * cert-manager (renew once 2/3 of the lifetime has passed, leaving a third of it to retry
 * in, and for every client to pick up the new certificate).
 */

/** cert-manager's default: renew with a third of the lifetime left. */
export const DEFAULT_RENEWAL_FRACTION = 2 / 3;

/**
 * The instant at which a certificate valid from `notBefore` to `notAfter` is due for renewal:
 * `notBefore + fraction × lifetime`, rounded to the nearest millisecond (rounding, not
 * truncation, so that 2/3, which a double cannot hold exactly, still lands on the exact
 * instant when the lifetime is divisible by 3).
 *
 * The lifetime is measured from notBefore as written in the certificate, so for our
 * certificates (backdated an hour for clock skew) the renewal comes slightly earlier than
 * 2/3 after issuance, the safe direction.
 *
 * @throws RangeError when `fraction` is not strictly between 0 and 1, a date is invalid, or
 *   `notAfter` is not after `notBefore`: caller bugs (configuration is validated at load).
 */
export function renewalTime(notBefore: Date, notAfter: Date, fraction: number = DEFAULT_RENEWAL_FRACTION): Date {
  checkFraction(fraction);
  const start = notBefore.getTime();
  const end = notAfter.getTime();
  if (Number.isNaN(start) || Number.isNaN(end)) {
    throw new RangeError(`renewalTime: invalid date (notBefore ${String(notBefore)}, notAfter ${String(notAfter)})`);
  }
  if (end <= start) {
    throw new RangeError(
      `renewalTime: notAfter (${notAfter.toISOString()}) must be after notBefore (${notBefore.toISOString()})`,
    );
  }
  return new Date(start + Math.round((end - start) * fraction));
}

/**
 * Whether `cert` should be replaced at `now`: true from `renewalTime(...)` onwards, which
 * includes an expired certificate. A certificate that is not yet valid is not renewed (its
 * renewal time is still ahead).
 *
 * @throws RangeError as `renewalTime`, and for an invalid `now`.
 */
export function needsRenewal(
  cert: { notBefore: Date; notAfter: Date },
  now: Date,
  fraction: number = DEFAULT_RENEWAL_FRACTION,
): boolean {
  if (Number.isNaN(now.getTime())) throw new RangeError(`needsRenewal: invalid now ${String(now)}`);
  return now.getTime() >= renewalTime(cert.notBefore, cert.notAfter, fraction).getTime();
}

/**
 * Whether `fraction` is a usable renewal fraction, for configuration validation (an invalid
 * setting is an expected outcome there, reported as a value). 0 would renew continuously and
 * 1 only once the certificate has already expired, so both ends are excluded.
 */
export function isValidRenewalFraction(fraction: unknown): fraction is number {
  return typeof fraction === "number" && Number.isFinite(fraction) && fraction > 0 && fraction < 1;
}

function checkFraction(fraction: number): void {
  if (!isValidRenewalFraction(fraction)) {
    throw new RangeError(
      `renewal fraction must be a number strictly between 0 and 1 (e.g. 2/3 = renew with a third of the lifetime left), got ${String(fraction)}`,
    );
  }
}
