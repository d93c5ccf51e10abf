# Shared by build-binaries.sh (control plane) and test/node/build-node-binaries.sh (node):
# builds Kubernetes components and other Go programs from their Go modules into a cache
# keyed by version. Source it; it defines functions only.
#
# Why a helper module: k8s.io/kubernetes's own go.mod replaces every k8s.io/<staging>
# module with a local ./staging path, so `go install k8s.io/kubernetes/cmd/...@vX` refuses
# it. A throwaway main module that requires k8s.io/kubernetes and pins each staging module
# to the matching v0.X.Y builds the exact same sources. etcd's server module has the same
# problem with its sibling modules; CoreDNS builds the same way for uniformity.

GO_MODULES_LOG_PREFIX="${GO_MODULES_LOG_PREFIX:-go-modules}"
CACHE_BASE="${POD_DNS_INJECTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-dns-injector}"

log() { printf '[%s] %s\n' "$GO_MODULES_LOG_PREFIX" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$GO_MODULES_LOG_PREFIX" "$*" >&2; exit 1; }

need_go() { # what-for
  command -v go >/dev/null 2>&1 || die "Go is required to build $1 (install Go >= 1.26, or set the TEST_ASSET_* variables to pre-built binaries)"
}

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

# Runs `go build` for one package into out_file (atomically), logging the wall time: the
# figures in the README come from these lines.
go_build_timed() { # out_file package ldflags
  local out="$1" pkg="$2" ldflags="$3" started=$SECONDS
  log "go build $pkg"
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg"
  mv "$out.tmp" "$out"
  log "built $(basename "$out") in $((SECONDS - started)) s"
}

# Builds k8s.io/kubernetes/cmd/<bin> for each missing bin into out_dir, from one helper
# module per version (shared by every caller, so the module download happens once).
build_kubernetes_commands() { # version out_dir bin...
  local version="$1" out_dir="$2"; shift 2
  local missing=() bin
  for bin in "$@"; do [[ -x "$out_dir/$bin" ]] || missing+=("$bin"); done
  (( ${#missing[@]} == 0 )) && return 0
  need_go "${missing[*]}"
  local work="$CACHE_BASE/control-plane/build/kubernetes-$version"
  local staging_version="v0.${version#v1.}" minor
  minor="$(echo "${version#v1.}" | cut -d. -f1)"
  mkdir -p "$work" "$out_dir"
  log "building ${missing[*]} $version in $work (staging modules at $staging_version); a cold build takes several minutes"
  # The list of staging modules comes from the release's own go.mod, so a version bump
  # needs no edit here.
  ( cd "$work"
    if [[ ! -f go.mod ]]; then
      cat > go.mod <<GOMOD
module pod-dns-injector.local/control-plane

go 1.26

require k8s.io/kubernetes $version
GOMOD
      local upstream
      upstream="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
      [[ -f "$upstream" ]] || die "could not download the go.mod of k8s.io/kubernetes@$version"
      { echo; echo "replace ("
        grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$upstream" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
        echo ")"; } >> go.mod
    fi
    local ldflags="-s -w" pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    for bin in "${missing[@]}"; do
      go_build_timed "$out_dir/$bin" "k8s.io/kubernetes/cmd/$bin" "$ldflags"
    done
  )
}

# Builds the main package `pkg` of module@version into out_file from a helper module in
# work_dir (module name `pod-dns-injector.local/<name>`); extra arguments are go.mod
# `replace` lines (pinning sibling modules).
build_go_module_command() { # out_file work_dir name module version pkg ldflags [replace-line...]
  local out="$1" work="$2" name="$3" module="$4" version="$5" pkg="$6" ldflags="$7"; shift 7
  [[ -x "$out" ]] && return 0
  need_go "$pkg"
  mkdir -p "$work" "$(dirname "$out")"
  log "building $pkg $version in $work"
  ( cd "$work"
    if [[ ! -f go.mod ]]; then
      { printf 'module pod-dns-injector.local/%s\n\ngo 1.26\n\nrequire %s %s\n' "$name" "$module" "$version"
        if (( $# > 0 )); then echo; echo "replace ("; printf '\t%s\n' "$@"; echo ")"; fi
      } > go.mod
    fi
    go_build_timed "$out" "$pkg" "$ldflags"
  )
}
