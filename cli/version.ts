import { createRequire } from "node:module";

/** The package version, read once from package.json (two levels up from dist/cli). */
export const VERSION: string = (() => {
  try {
    return (createRequire(import.meta.url)("../../package.json") as { version: string }).version;
  } catch {
    return "0.0.0-unknown";
  }
})();
