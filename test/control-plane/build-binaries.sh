#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager, kubectl, etcd)
# from their Go modules and caches the binaries outside the repository, keyed by version.
#
# Why a helper module: k8s.io/kubernetes's own go.mod replaces every k8s.io/<staging>
# module with a local ./staging path, so `go install k8s.io/kubernetes/cmd/...@vX` refuses
# it. A throwaway main module that requires k8s.io/kubernetes and pins each staging module
# to the matching v0.X.Y builds the exact same sources. etcd's server module has the same
# problem with its sibling modules (api, client/pkg, client/v3, pkg).
#
# Pre-installed binaries win: TEST_ASSET_KUBE_APISERVER, TEST_ASSET_ETCD,
# TEST_ASSET_KUBE_CONTROLLER_MANAGER, TEST_ASSET_KUBECTL, or KUBEBUILDER_ASSETS (a folder
# holding them, as controller-runtime's envtest uses). Prints the folder of each binary.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE_ROOT="${POD_DNS_INJECTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-dns-injector}/control-plane"
K8S_DIR="$CACHE_ROOT/kubernetes-$K8S_VERSION"
ETCD_DIR="$CACHE_ROOT/etcd-$ETCD_VERSION"

log() { printf '[control-plane] %s\n' "$*" >&2; }
die() { printf '[control-plane] error: %s\n' "$*" >&2; exit 1; }

# An explicit binary (env var or KUBEBUILDER_ASSETS) means "do not build this one".
preinstalled() { # name envvar
  local name="$1" var="$2" path="${!2:-}"
  if [[ -n "$path" ]]; then
    [[ -x "$path" ]] || die "$var=$path is not an executable file"
    echo "$path"; return 0
  fi
  if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/$name" ]]; then
    echo "$KUBEBUILDER_ASSETS/$name"; return 0
  fi
  return 1
}

need_go() {
  command -v go >/dev/null 2>&1 || die "Go is required to build the test control plane (install Go >= 1.26, or set KUBEBUILDER_ASSETS / TEST_ASSET_* to pre-built binaries)"
}

k8s_minor() { local v="${K8S_VERSION#v}"; echo "${v#*.}" | cut -d. -f1; }

build_kubernetes() {
  local missing=()
  for bin in kube-apiserver kube-controller-manager kubectl; do
    [[ -x "$K8S_DIR/$bin" ]] || missing+=("$bin")
  done
  (( ${#missing[@]} == 0 )) && return 0
  need_go
  local work="$CACHE_ROOT/build/kubernetes-$K8S_VERSION"
  mkdir -p "$work" "$K8S_DIR"
  local staging_version="v0.${K8S_VERSION#v1.}"
  log "building ${missing[*]} $K8S_VERSION in $work (staging modules at $staging_version); a cold build takes several minutes"
  # The list of staging modules comes from the release's own go.mod, so a version bump
  # needs no edit here.
  ( cd "$work"
    if [[ ! -f go.mod ]]; then
      cat > go.mod <<GOMOD
module pod-dns-injector.local/control-plane

go 1.26

require k8s.io/kubernetes $K8S_VERSION
GOMOD
      local upstream
      upstream="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
      [[ -f "$upstream" ]] || die "could not download the go.mod of k8s.io/kubernetes@$K8S_VERSION"
      { echo; echo "replace ("
        grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$upstream" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
        echo ")"; } >> go.mod
    fi
    local ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(k8s_minor) -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    for bin in "${missing[@]}"; do
      log "go build k8s.io/kubernetes/cmd/$bin"
      CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$K8S_DIR/$bin.tmp" "k8s.io/kubernetes/cmd/$bin"
      mv "$K8S_DIR/$bin.tmp" "$K8S_DIR/$bin"
    done
  )
}

build_etcd() {
  [[ -x "$ETCD_DIR/etcd" ]] && return 0
  need_go
  local work="$CACHE_ROOT/build/etcd-$ETCD_VERSION"
  mkdir -p "$work" "$ETCD_DIR"
  log "building etcd $ETCD_VERSION in $work"
  ( cd "$work"
    if [[ ! -f go.mod ]]; then
      cat > go.mod <<GOMOD
module pod-dns-injector.local/etcd

go 1.26

require go.etcd.io/etcd/server/v3 $ETCD_VERSION

replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
GOMOD
    fi
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
      -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" \
      -o "$ETCD_DIR/etcd.tmp" go.etcd.io/etcd/server/v3
    mv "$ETCD_DIR/etcd.tmp" "$ETCD_DIR/etcd"
  )
}

main() {
  local apiserver etcd kcm kubectl
  apiserver="$(preinstalled kube-apiserver TEST_ASSET_KUBE_APISERVER || true)"
  kcm="$(preinstalled kube-controller-manager TEST_ASSET_KUBE_CONTROLLER_MANAGER || true)"
  kubectl="$(preinstalled kubectl TEST_ASSET_KUBECTL || true)"
  etcd="$(preinstalled etcd TEST_ASSET_ETCD || true)"
  if [[ -z "$apiserver" || -z "$kcm" || -z "$kubectl" ]]; then build_kubernetes; fi
  if [[ -z "$etcd" ]]; then build_etcd; fi
  echo "KUBE_APISERVER=${apiserver:-$K8S_DIR/kube-apiserver}"
  echo "KUBE_CONTROLLER_MANAGER=${kcm:-$K8S_DIR/kube-controller-manager}"
  echo "KUBECTL=${kubectl:-$K8S_DIR/kubectl}"
  echo "ETCD=${etcd:-$ETCD_DIR/etcd}"
}

main "$@"
