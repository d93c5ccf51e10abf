/** Number and column formatting for the benchmark reports, and the quantiles they print. */
export const fmt = (n: number, digits = 3) => n.toFixed(digits);
export const int = (n: number) => Math.round(n).toLocaleString("en-US");
export const pad = (s: string, w: number) => (s.length >= w ? s : s + " ".repeat(w - s.length));
export const lpad = (s: string, w: number) => (s.length >= w ? s : " ".repeat(w - s.length) + s);

/** The q-quantile of values, interpolating between the two nearest (the median of an even count is their mean). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}
