# Local single-node cluster and offline images (included from the Makefile). Root needed.
.PHONY: cluster-deps cluster-up cluster-down images

cluster-deps: ## install containerd, runc, buildah, CNI plugins, gcc from Debian (root)
	hack/cluster-deps.sh

cluster-up: ## start the local single-node cluster (root); prints the kubeconfig path
	hack/cluster-up.sh

cluster-down: ## stop the local cluster; leaves no processes, mounts or pod networks
	hack/cluster-down.sh

images: ## build peapods/peapods:dev from the Dockerfile offline (buildah) and load it into the local cluster
	hack/images.sh

.PHONY: e2e demo
e2e: deps ## end-to-end suite on a real cluster (CLUSTER=local, root; or CLUSTER=kind with Docker)
	CLUSTER=$(or $(CLUSTER),local) hack/e2e.sh

demo: deps ## a cluster, the image, helm install, a sample Pea waited for Ready (CLUSTER=local|kind)
	CLUSTER=$(or $(CLUSTER),local) hack/demo.sh
