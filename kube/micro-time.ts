/**
 * metav1.MicroTime (Lease times, Event eventTime) is RFC 3339 with exactly six fractional
 * digits. client-node passes values of that type through untouched, so we format them.
 */
export function microTime(d: Date): Date {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;
}
