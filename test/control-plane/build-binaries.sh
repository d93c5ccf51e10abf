#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager, kubectl, etcd)
# from their Go modules and caches the binaries outside the repository, keyed by version
# (the how and why of the helper modules: go-modules.sh).
#
# Pre-installed binaries win: TEST_ASSET_KUBE_APISERVER, TEST_ASSET_ETCD,
# TEST_ASSET_KUBE_CONTROLLER_MANAGER, TEST_ASSET_KUBECTL, or KUBEBUILDER_ASSETS (a folder
# holding them, as controller-runtime's envtest uses). Prints the folder of each binary.
set -euo pipefail

GO_MODULES_LOG_PREFIX=control-plane
# shellcheck source=go-modules.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-modules.sh"

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE_ROOT="$CACHE_BASE/control-plane"
K8S_DIR="$CACHE_ROOT/kubernetes-$K8S_VERSION"
ETCD_DIR="$CACHE_ROOT/etcd-$ETCD_VERSION"

build_etcd() {
  local replaces=() m
  for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do
    replaces+=("go.etcd.io/etcd/$m => go.etcd.io/etcd/$m $ETCD_VERSION")
  done
  build_go_module_command "$ETCD_DIR/etcd" "$CACHE_ROOT/build/etcd-$ETCD_VERSION" etcd \
    go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 \
    "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" "${replaces[@]}"
}

main() {
  local apiserver etcd kcm kubectl
  apiserver="$(preinstalled kube-apiserver TEST_ASSET_KUBE_APISERVER || true)"
  kcm="$(preinstalled kube-controller-manager TEST_ASSET_KUBE_CONTROLLER_MANAGER || true)"
  kubectl="$(preinstalled kubectl TEST_ASSET_KUBECTL || true)"
  etcd="$(preinstalled etcd TEST_ASSET_ETCD || true)"
  if [[ -z "$apiserver" || -z "$kcm" || -z "$kubectl" ]]; then
    build_kubernetes_commands "$K8S_VERSION" "$K8S_DIR" kube-apiserver kube-controller-manager kubectl
  fi
  if [[ -z "$etcd" ]]; then build_etcd; fi
  echo "KUBE_APISERVER=${apiserver:-$K8S_DIR/kube-apiserver}"
  echo "KUBE_CONTROLLER_MANAGER=${kcm:-$K8S_DIR/kube-controller-manager}"
  echo "KUBECTL=${kubectl:-$K8S_DIR/kubectl}"
  echo "ETCD=${etcd:-$ETCD_DIR/etcd}"
}

main "$@"
