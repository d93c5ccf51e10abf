# syntax=docker/dockerfile:1
# GENERATED from image/product-image.ts by image/dockerfile.ts: do not edit by hand; run
# `npm run image -- --write-dockerfile`. `npm run image` builds the same content without Docker.
#
# pod-dns-injector container image: build with the dev dependencies, run on distroless
# Node.js 24 (current LTS) as a non-root numeric user with production dependencies only.
# The process handles SIGTERM itself (drains in-flight reviews, exits 0), so no init shim.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` dev dependency would fetch a second Node runtime we do not need here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY config ./config
COPY kube ./kube
COPY webhook ./webhook
COPY policy ./policy
COPY controller ./controller
COPY certs ./certs
COPY audit ./audit
COPY cli ./cli
RUN node node_modules/typescript/bin/tsc -p tsconfig.json

FROM node:24-bookworm-slim AS production-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV PATH=/nodejs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV NODE_ENV=production
COPY --from=production-deps /src/node_modules /app/node_modules
COPY --from=build /src/dist/config /app/dist/config
COPY --from=build /src/dist/kube /app/dist/kube
COPY --from=build /src/dist/webhook /app/dist/webhook
COPY --from=build /src/dist/policy /app/dist/policy
COPY --from=build /src/dist/controller /app/dist/controller
COPY --from=build /src/dist/certs /app/dist/certs
COPY --from=build /src/dist/audit /app/dist/audit
COPY --from=build /src/dist/cli /app/dist/cli
COPY package.json LICENSE /app/
# distroless "nonroot" is uid/gid 65532; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=4", "--no-maglev", "--heap-growing-percent=50", "/app/dist/cli/main.js"]
CMD ["serve"]
