// Strict, type-aware lint: no floating promises (a lost rejection in an admission path is a
// silent outage), no `any` leaks, bounded complexity, and layers that import downward.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Layers point down: config <- kube <- webhook/controller/certs/audit <- cli (README
// "Developing"). Each folder lists the folders it must not import; test/, bench/ and image/
// may import anything, charts/ (the Helm chart's generator) config/ only. The audit reuses
// the webhook's pure decision, never its HTTP side.
const ABOVE_EVERYTHING = ["cli", "test", "bench", "image", "charts"];
const PARTS = ["webhook", "controller", "certs", "audit"];
const WEBHOOK_HTTP_SIDE = [
  "app",
  "mutate-handler",
  "mutate-review",
  "ops-app",
  "review-parser",
  "review-parser-worker",
  "admission-review",
  "admission-facts",
  "cluster-facts",
  "metrics",
  "registration",
];
const forbidden = {
  config: ["kube", "policy", ...PARTS, ...ABOVE_EVERYTHING],
  kube: ["policy", ...PARTS, ...ABOVE_EVERYTHING],
  // The in-tree policy renderer is pure: settings in, API objects out.
  policy: ["kube", ...PARTS, ...ABOVE_EVERYTHING],
  webhook: ["controller", "certs", "audit", ...ABOVE_EVERYTHING],
  controller: ["webhook", "certs", "audit", ...ABOVE_EVERYTHING],
  certs: ["webhook", "controller", "audit", ...ABOVE_EVERYTHING],
  audit: ["controller", "certs", ...ABOVE_EVERYTHING],
  cli: ["test", "bench", "image", "charts"],
};
const layerRules = Object.entries(forbidden).map(([layer, banned]) => ({
  files: [`${layer}/**/*.ts`],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          {
            group: banned.map((b) => `../${b}/*`),
            message: `${layer}/ sits below these folders (config <- kube <- webhook/controller/certs/audit <- cli): move the shared code down instead.`,
          },
          ...(layer === "audit" ? [{ group: WEBHOOK_HTTP_SIDE.map((f) => `../webhook/${f}.js`), message: "audit/ reuses the webhook's pure decision, not its HTTP side." }] : []),
        ],
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", "scripts/", "eslint.config.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": ["error", { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it", "test", "suite"] }] }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Interface implementations are async by contract even when an implementation is not.
      "@typescript-eslint/require-await": "off",
      // An error, not a warning: decide, decodeAdmissionReview and runServe were split to get
      // under it, and a function that grows past it should be split too.
      complexity: ["error", 25],
    },
  },
  ...layerRules,
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      complexity: "off",
    },
  },
);
