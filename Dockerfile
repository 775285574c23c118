# One image for the operator and the runtime sidecar (`pea-runtime`), plus the example
# runtimes the tests and samples use. Multi-stage: the build stage has the dev tools, the
# final one only production dependencies and the compiled JavaScript.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY examples ./examples
COPY bench ./bench
COPY test/harness ./test/harness
COPY test/helpers ./test/helpers
COPY proto ./proto
# tsconfig.build.json compiles the benchmarks and their test harness too; the image needs
# only src/ and examples/ (the example runtimes test workloads run from this image).
RUN npx tsc -p tsconfig.build.json && rm -rf dist/bench dist/test && npm prune --omit=dev

FROM ${NODE_IMAGE}
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/proto ./proto
# Node's compile cache (V8 code for every module), filled below by one real start of the
# sidecar and read at run time, also from the sidecar's read-only root filesystem: every Pea
# pod's first and only sidecar start then compiles nothing. Node keys the cache by UID, so it
# is made as the UID the pods run as; a pod run as another UID simply compiles as before.
RUN mkdir /app/.node-compile-cache && chown 65532:65532 /app/.node-compile-cache
# Non-root. The runtime container of a Pea runs as the same UID, so the sidecar can signal
# it through the shared PID namespace without any capability.
USER 65532:65532
ENV NODE_ENV=production \
    NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN node /app/dist/src/runtime/main.js sidecar --host 127.0.0.1 --grpc-port 0 --http-port 0 \
      --termination-log /dev/null --log-level error -- node -e 0
ENTRYPOINT ["node", "/app/dist/src/runtime/main.js"]
CMD ["sidecar", "--help"]
