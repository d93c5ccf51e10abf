/** Number and column formatting for the benchmark reports. */
export const fmt = (n: number, digits = 3) => n.toFixed(digits);
export const int = (n: number) => Math.round(n).toLocaleString("en-US");
export const pad = (s: string, w: number) => (s.length >= w ? s : s + " ".repeat(w - s.length));
export const lpad = (s: string, w: number) => (s.length >= w ? s : " ".repeat(w - s.length) + s);
