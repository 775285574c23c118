#!/usr/bin/env bash
# Kubeconfigs (certificate auth, certificates embedded) for the admin and each component.
#   kubeconfigs.sh CLUSTER_DIR SERVER_URL
set -euo pipefail
dir="$1" server="$2"
b64() { base64 -w0 < "$1"; }
write() { # file cert-name
  cat > "$dir/$1" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: peapods
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$dir/pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$dir/pki/$2.crt")
    client-key-data: $(b64 "$dir/pki/$2.key")
contexts:
- name: peapods
  context: {cluster: peapods, user: $2}
current-context: peapods
YAML
  chmod 600 "$dir/$1"
}
write kubeconfig admin
write controller-manager.kubeconfig controller-manager
write scheduler.kubeconfig scheduler
write kubelet.kubeconfig kubelet-client
