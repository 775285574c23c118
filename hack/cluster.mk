# Local single-node cluster and offline images (included from the Makefile). Root needed.
# CLUSTER=kind: the three-node kind cluster instead (hack/kind/; podman when there is no Docker).
.PHONY: cluster-deps cluster-up cluster-down images kind-node-image

cluster-deps: ## install containerd, runc, buildah, CNI plugins, gcc from Debian (root)
	hack/cluster-deps.sh

cluster-up: ## start the local single-node cluster (root), or CLUSTER=kind; prints the kubeconfig path
	$(if $(filter kind,$(CLUSTER)),hack/kind/up.sh,hack/cluster-up.sh)

cluster-down: ## stop the local cluster (leaves no processes, mounts or pod networks), or CLUSTER=kind
	$(if $(filter kind,$(CLUSTER)),hack/kind/down.sh,hack/cluster-down.sh)

kind-node-image: ## build the kind node image offline into podman (cached; hack/kind/node-image.sh)
	hack/kind/node-image.sh

images: ## build peapods/peapods:dev from the Dockerfile offline (buildah) and load it into the local cluster
	hack/images.sh

.PHONY: e2e e2e-peaset demo
e2e: build ## end-to-end suite on a real cluster (CLUSTER=local or kind; root without Docker)
	CLUSTER=$(or $(CLUSTER),local) hack/e2e.sh

e2e-peaset: build ## only the PeaSet traffic test, on kind (make e2e CLUSTER=kind runs it too)
	CLUSTER=kind hack/e2e.sh test/e2e/peaset.test.ts

demo: deps ## a cluster, the image, helm install, a sample Pea waited for Ready (CLUSTER=local|kind)
	CLUSTER=$(or $(CLUSTER),local) hack/demo.sh
