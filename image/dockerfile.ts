// Renders the Dockerfile from the image spec module, so users with Docker build the same
// image content and settings that `npm run image` builds without it. The committed
// Dockerfile is this output: a unit test compares them, and
// `npm run image -- --write-dockerfile` rewrites it.
import { APP_DIR, APP_REPO_FILES, PRODUCT_DIST_DIRS, RUNTIME } from "./product-image.js";

/** The Dockerfile text for the product image. */
export function renderDockerfile(): string {
  const json = (list: readonly string[]): string => JSON.stringify(list).replace(/","/g, '", "');
  const lines = [
    "# syntax=docker/dockerfile:1",
    "# GENERATED from image/product-image.ts by image/dockerfile.ts: do not edit by hand; run",
    "# `npm run image -- --write-dockerfile`. `npm run image` builds the same content without Docker.",
    "#",
    "# pod-dns-injector container image: build with the dev dependencies, run on distroless",
    "# Node.js 24 (current LTS) as a non-root numeric user with production dependencies only.",
    "# The process handles SIGTERM itself (drains in-flight reviews, exits 0), so no init shim.",
    "",
    "FROM node:24-bookworm-slim AS build",
    "WORKDIR /src",
    "COPY package.json package-lock.json ./",
    "# --ignore-scripts: the `node` dev dependency would fetch a second Node runtime we do not need here.",
    "RUN npm ci --ignore-scripts --no-audit --no-fund",
    "COPY tsconfig.json ./",
    // tsc compiles whatever of tsconfig's include is present: only the product's sources here.
    ...PRODUCT_DIST_DIRS.map((dir) => `COPY ${dir} ./${dir}`),
    "RUN node node_modules/typescript/bin/tsc -p tsconfig.json",
    "",
    "FROM node:24-bookworm-slim AS production-deps",
    "WORKDIR /src",
    "COPY package.json package-lock.json ./",
    "RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund",
    "",
    "FROM gcr.io/distroless/nodejs24-debian12:nonroot",
    `WORKDIR ${RUNTIME.workingDir}`,
    ...RUNTIME.env.map((e) => `ENV ${e}`),
    `COPY --from=production-deps /src/node_modules ${APP_DIR}/node_modules`,
    ...PRODUCT_DIST_DIRS.map((dir) => `COPY --from=build /src/dist/${dir} ${APP_DIR}/dist/${dir}`),
    `COPY ${APP_REPO_FILES.join(" ")} ${APP_DIR}/`,
    '# distroless "nonroot" is uid/gid 65532; numeric so runAsNonRoot can verify it.',
    `USER ${RUNTIME.user}`,
    `EXPOSE ${RUNTIME.exposedPorts.map((p) => p.replace(/\/tcp$/, "")).join(" ")}`,
    `ENTRYPOINT ${json(RUNTIME.entrypoint)}`,
    `CMD ${json(RUNTIME.cmd)}`,
    "",
  ];
  return lines.join("\n");
}
