#!/usr/bin/env bash
# Certificates and keys of the local cluster, made once (kept across cluster-down):
# one CA; the API server's serving cert; client certs whose subject is the identity the
# default RBAC already knows (admin in system:masters, the controller-manager, the
# scheduler, the node in system:nodes); the kubelet's serving cert; the service-account
# key pair.   pki.sh DIR NODE_IP API_SERVICE_IP NODE_NAME
set -euo pipefail
dir="$1" node_ip="$2" svc_ip="$3" node="$4"
cd "$dir"
[[ -f .complete && "$(cat .complete)" == "$node_ip $svc_ip $node" ]] && exit 0
rm -f ./*.crt ./*.key ./*.pub ./*.csr ./*.srl .complete

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
  -subj "/CN=peapods-local-ca" 2>/dev/null
cert() { # name subject [extensions]
  local name="$1" subj="$2" ext="${3:-}"
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -out "$name.crt" -extfile <(printf 'basicConstraints=CA:FALSE\n%s\n' "$ext") 2>/dev/null
  rm -f "$name.csr"
}
sans="IP:$node_ip,IP:$svc_ip,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default"
sans+=",DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert apiserver "/CN=kube-apiserver" "subjectAltName=$sans"
cert admin "/O=system:masters/CN=peapods-admin" "extendedKeyUsage=clientAuth"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
cert controller-manager "/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth"
cert scheduler "/CN=system:kube-scheduler" "extendedKeyUsage=clientAuth"
cert kubelet-client "/O=system:nodes/CN=system:node:$node" "extendedKeyUsage=clientAuth"
cert kubelet-serving "/CN=$node" "subjectAltName=IP:$node_ip,DNS:$node
extendedKeyUsage=serverAuth"
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
chmod 600 ./*.key
echo "$node_ip $svc_ip $node" > .complete
