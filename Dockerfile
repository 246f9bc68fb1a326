# syntax=docker/dockerfile:1
# tokenmeter: one image, two commands — `extproc` (the Envoy ext_proc data plane, the default) and `operator`.
#   docker build -t tokenmeter:0.1.0 .
#   docker run --rm -p 50051:50051 -p 9464:9464 tokenmeter:0.1.0 extproc
#   docker run --rm tokenmeter:0.1.0 operator --help
# test/integration/pack.test.ts checks what this file relies on: the build stage's inputs (through .dockerignore)
# build, the runtime files copied into the final stage are the npm package's, and the packed runtime starts and
# serves both commands with production dependencies only.

# Node 24 is the active LTS line; pinned to a minor tag here (bump with the lockfile; pin a digest in CI).
ARG NODE_VERSION=24.11

# ---- build: compile TypeScript with the dev dependencies, then drop them ----
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-console.mjs ./scripts/build-console.mjs
COPY src ./src
COPY proto ./proto
COPY vocab ./vocab
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: Node 24 on distroless Debian 12 (no shell, no package manager), non-root ----
FROM gcr.io/distroless/nodejs24-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="tokenmeter" \
      org.opencontainers.image.description="Token-aware metering and rate limiting for LLM traffic behind Envoy (ext_proc) and its Kubernetes operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/nodejs24-debian12:nonroot"
WORKDIR /app
# Owned by root and read-only for the runtime user. proto/ is read at start-up (src/extproc/protos.ts finds it
# upwards from dist/src/extproc).
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/proto ./proto
COPY --from=build /app/vocab ./vocab
COPY --from=build /app/dist/src ./dist/src
USER 65532:65532
# 50051 ext_proc gRPC + grpc.health.v1; 9464 extproc admin (/metrics, /healthz, /readyz); 9465 operator admin.
EXPOSE 50051 9464 9465
# distroless has node at /nodejs/bin/node (it is not on a shell PATH: there is no shell). The Node flag and the
# malloc setting are src/cli/runtime-flags.ts's (a smaller V8 young generation and fewer malloc arenas: ~25 MiB less
# memory at rest after traffic).
ENV MALLOC_ARENA_MAX=2
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=4", "/app/dist/src/cli/main.js"]
CMD ["extproc"]
