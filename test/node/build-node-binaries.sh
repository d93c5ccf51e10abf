#!/usr/bin/env bash
# Builds the real-node test binaries from Go modules and caches them outside the repository,
# keyed by version: kubelet, kube-proxy and kube-scheduler (same Kubernetes version and
# helper module as the control plane), CoreDNS, and our own two tiny static programs (the
# pause binary of the sandbox image and the dnsprobe test client; keyed by a hash of their
# source and the Go version). Prints KEY=/path lines on stdout, progress on stderr.
#
# Pre-built binaries win: TEST_ASSET_KUBELET, TEST_ASSET_KUBE_PROXY, TEST_ASSET_KUBE_SCHEDULER,
# TEST_ASSET_COREDNS (or a KUBEBUILDER_ASSETS folder holding them).
set -euo pipefail

GO_MODULES_LOG_PREFIX=node
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../control-plane/go-modules.sh
source "$HERE/../control-plane/go-modules.sh"

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
CACHE_ROOT="$CACHE_BASE/node"
K8S_DIR="$CACHE_ROOT/kubernetes-$K8S_VERSION"
COREDNS_DIR="$CACHE_ROOT/coredns-$COREDNS_VERSION"

# Our own programs use the standard library only: `go build main.go` needs no go.mod.
build_own_program() { # name -> prints the binary's path
  local name="$1" src="$HERE/$1/main.go" key out started
  need_go "$name"
  key="$( { cat "$src"; go version; } | sha256sum | cut -c1-12)"
  out="$CACHE_ROOT/$name-$key/$name"
  if [[ ! -x "$out" ]]; then
    mkdir -p "$(dirname "$out")"
    started=$SECONDS
    ( cd "$(dirname "$src")" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp" "$src" )
    mv "$out.tmp" "$out"
    log "built $name in $((SECONDS - started)) s"
  fi
  echo "$out"
}

main() {
  local kubelet proxy scheduler coredns pause dnsprobe
  kubelet="$(preinstalled kubelet TEST_ASSET_KUBELET || true)"
  proxy="$(preinstalled kube-proxy TEST_ASSET_KUBE_PROXY || true)"
  scheduler="$(preinstalled kube-scheduler TEST_ASSET_KUBE_SCHEDULER || true)"
  coredns="$(preinstalled coredns TEST_ASSET_COREDNS || true)"
  local wanted=()
  [[ -z "$kubelet" ]] && wanted+=(kubelet)
  [[ -z "$proxy" ]] && wanted+=(kube-proxy)
  [[ -z "$scheduler" ]] && wanted+=(kube-scheduler)
  (( ${#wanted[@]} > 0 )) && build_kubernetes_commands "$K8S_VERSION" "$K8S_DIR" "${wanted[@]}"
  if [[ -z "$coredns" ]]; then
    coredns="$COREDNS_DIR/coredns"
    build_go_module_command "$coredns" "$CACHE_ROOT/build/coredns-$COREDNS_VERSION" coredns \
      github.com/coredns/coredns "$COREDNS_VERSION" github.com/coredns/coredns \
      "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION"
  fi
  pause="$(build_own_program pause)"
  dnsprobe="$(build_own_program dnsprobe)"
  echo "KUBELET=${kubelet:-$K8S_DIR/kubelet}"
  echo "KUBE_PROXY=${proxy:-$K8S_DIR/kube-proxy}"
  echo "KUBE_SCHEDULER=${scheduler:-$K8S_DIR/kube-scheduler}"
  echo "COREDNS=$coredns"
  echo "PAUSE=$pause"
  echo "DNSPROBE=$dnsprobe"
}

main "$@"
