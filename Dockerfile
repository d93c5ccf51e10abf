# syntax=docker/dockerfile:1
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
COPY webhook ./webhook
COPY kube ./kube
COPY controller ./controller
COPY certs ./certs
COPY audit ./audit
COPY cli ./cli
COPY test ./test
COPY bench ./bench
RUN node node_modules/typescript/bin/tsc -p tsconfig.json

FROM node:24-bookworm-slim AS production-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=production-deps /src/node_modules ./node_modules
COPY --from=build /src/dist/config ./dist/config
COPY --from=build /src/dist/webhook ./dist/webhook
COPY --from=build /src/dist/kube ./dist/kube
COPY --from=build /src/dist/controller ./dist/controller
COPY --from=build /src/dist/certs ./dist/certs
COPY --from=build /src/dist/audit ./dist/audit
COPY --from=build /src/dist/cli ./dist/cli
COPY package.json LICENSE ./
# distroless "nonroot" is uid/gid 65532; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli/main.js"]
CMD ["serve"]
