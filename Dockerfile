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
# Non-root. The runtime container of a Pea runs as the same UID, so the sidecar can signal
# it through the shared PID namespace without any capability.
USER 65532:65532
ENV NODE_ENV=production \
    NODE_COMPILE_CACHE=/tmp/node-compile-cache
ENTRYPOINT ["node", "/app/dist/src/runtime/main.js"]
CMD ["sidecar", "--help"]
