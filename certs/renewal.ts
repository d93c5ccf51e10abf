/**
 * When to renew a certificate: a pure function of its validity and a clock, as in
 * cert-manager (renew once 2/3 of the lifetime has passed, leaving a third of it to retry
 * in, and for every client to pick up the new certificate).
 */
import { DEFAULT_RENEWAL_FRACTION, isValidRenewalFraction } from "../config/certificate-defaults.js";

export { DEFAULT_RENEWAL_FRACTION, isValidRenewalFraction };

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
    throw new RangeError(`renewalTime: notAfter (${notAfter.toISOString()}) must be after notBefore (${notBefore.toISOString()})`);
  }
  return new Date(start + Math.round((end - start) * fraction));
}

/**
 * Whether `cert` should be replaced at `now`: true from `renewalTime(...)` onwards, which
 * includes an expired certificate. A certificate that is not yet valid is not renewed (its
 * renewal time is still ahead). The rotation plan (rotation.ts) decides with it for the CA
 * and the serving certificate, passing the issuance-based lifetime (`lifetimeStart`, the
 * notBefore without the clock-skew backdating) as `notBefore`.
 *
 * @throws RangeError as `renewalTime`, and for an invalid `now`.
 */
export function needsRenewal(cert: { notBefore: Date; notAfter: Date }, now: Date, fraction: number = DEFAULT_RENEWAL_FRACTION): boolean {
  if (Number.isNaN(now.getTime())) throw new RangeError(`needsRenewal: invalid now ${String(now)}`);
  return now.getTime() >= renewalTime(cert.notBefore, cert.notAfter, fraction).getTime();
}

function checkFraction(fraction: number): void {
  if (!isValidRenewalFraction(fraction)) {
    throw new RangeError(`renewal fraction must be a number strictly between 0 and 1 (e.g. 2/3 = renew with a third of the lifetime left), got ${String(fraction)}`);
  }
}
