/**
 * `npm run chart:generate`: writes the chart's generated files (values.schema.json,
 * templates/_settings.tpl) from charts/values-schema.ts; the unit test
 * test/unit/charts/values-schema.test.ts fails until the committed files are these.
 */
import { writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CHART_DIR, generatedChartFiles } from "./values-schema.js";

// dist/charts/generate.js sits two levels below the repository root.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
for (const [file, text] of Object.entries(generatedChartFiles())) {
  const path = join(repoRoot, CHART_DIR, file);
  writeFileSync(path, text);
  console.log(path);
}
