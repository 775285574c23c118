# Peapods. Every target brings its own toolchain: Node 24 from the npm registry and the
# Kubernetes binaries from the Go module proxy, both cached outside the clone
# (~/.cache/peapods, or $PEAPODS_CACHE).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
NODE_BIN := $(shell hack/node.sh)
ifeq ($(NODE_BIN),)
# Without it every target would run on the machine's own Node, which client-node cannot load.
$(error hack/node.sh could not install Node 24 (its message is above); the project needs it)
endif
export PATH := $(NODE_BIN):$(PATH)

.PHONY: help deps test-binaries install build lint typecheck test chaos bench bench-local bench-e2e
.PHONY: bench-burst bench-peaset sidecar generate clean

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json ## install Node 24 and the npm packages

# Before jest, not inside it: on a cold machine these builds take minutes, which the first
# test file's beforeAll would spend and time out on (seen: 243 s against a 120 s limit).
test-binaries: ## build once (cached) what the tests start: Kubernetes parts, helm, promtool, grpcurl
	hack/k8s-binaries.sh test helm kube-controller-manager >/dev/null
	hack/go-tools.sh promtool grpcurl >/dev/null

PREFIX ?= /usr/local
install: build ## put the kubectl plugin on PATH: $(PREFIX)/bin/kubectl-pea (then: kubectl pea --help)
	hack/install-plugin.sh "$(PREFIX)/bin"

build: deps ## compile TypeScript to dist/
	npm run --silent build

lint: deps ## eslint, prettier --check, and no line over 120 characters
	npm run --silent lint && npm run --silent format:check

typecheck: deps ## tsc --noEmit over src and test
	npm run --silent typecheck

test: deps test-binaries ## lint, type check, build, then every jest suite (unit and integration)
	npm test

chaos: build test-binaries ## operator SIGKILL, API server restart, leader failover on a real API server (prints counts)
	node --experimental-vm-modules node_modules/jest/bin/jest.js -c jest.chaos.config.js

bench: bench-local bench-e2e bench-burst bench-peaset ## every benchmark, each beside a baseline from the same run

bench-local: build test-binaries ## the sidecar and operator benchmarks (no cluster needed)
	node dist/bench/sidecar.bench.js
	node dist/bench/sidecar-flood.bench.js
	node dist/bench/operator.bench.js

bench-e2e: build ## apply → Ready and delete → gone on a real cluster, against bare pods (root for CLUSTER=local)
	CLUSTER=$(or $(CLUSTER),local) hack/bench-e2e.sh

bench-burst: build ## 10 and 30 Peas at once against as many bare pods: all-Ready, per-pod steps, CPU-seconds (root)
	CLUSTER=$(or $(CLUSTER),local) hack/bench-e2e.sh --burst

bench-peaset: build ## a PeaSet against a Deployment of the same pods: scale 0 → 20, a rolling update of 10 (root)
	CLUSTER=$(or $(CLUSTER),local) hack/bench-e2e.sh --peaset

sidecar: build ## run the sidecar locally around an example runtime (Ctrl-C cancels it)
	PEA_HEALTH_PORT=50061 node dist/src/runtime/main.js sidecar --ready grpc://127.0.0.1:50061 \
	  -- node dist/examples/slow-start.js --ready-after 2

generate: build ## regenerate the derived deploy/ (from src/api and charts/) and proto descriptor; tests fail on drift
	node --input-type=module \
	  -e "import('./dist/src/shared/lifecycle-proto.js').then((m) => process.stdout.write(m.lifecycleDescriptorJson()))" \
	  > proto/peapods/v1/lifecycle.descriptor.json
	hack/render-deploy.sh

clean: ## remove build output
	rm -rf dist coverage

include hack/cluster.mk
