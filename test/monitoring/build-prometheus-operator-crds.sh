#!/usr/bin/env bash
# Generates the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs from their Go
# types (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring) with
# controller-gen (sigs.k8s.io/controller-tools), as the operator's own build does, and caches
# them outside the repository in $CACHE_BASE/prometheus-operator/<version>/ (the shared
# helpers and cache root: test/control-plane/go-modules.sh). The e2e manifests test applies
# them, so the monitoring overlay is dry-run against the real schemas. A folder holding both
# files wins: TEST_ASSET_PROMETHEUS_OPERATOR_CRDS. Prints PROMETHEUS_OPERATOR_CRDS=<dir>.
set -euo pipefail

GO_MODULES_LOG_PREFIX=prometheus-operator-crds
# shellcheck source=../control-plane/go-modules.sh
source "$(dirname "${BASH_SOURCE[0]}")/../control-plane/go-modules.sh"

OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.95.2}"
CONTROLLER_TOOLS_VERSION="${CONTROLLER_TOOLS_VERSION:-v0.23.0}"
OUT="$CACHE_BASE/prometheus-operator/$OPERATOR_VERSION"
CRDS=(monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml)

have_crds() { local f; for f in "${CRDS[@]}"; do [[ -f "$1/$f" ]] || return 1; done; }

main() {
  local given="${TEST_ASSET_PROMETHEUS_OPERATOR_CRDS:-}"
  if [[ -n "$given" ]]; then
    have_crds "$given" || die "TEST_ASSET_PROMETHEUS_OPERATOR_CRDS=$given does not hold ${CRDS[*]}"
    echo "PROMETHEUS_OPERATOR_CRDS=$given"; return 0
  fi
  if ! have_crds "$OUT"; then
    need_go "the Prometheus Operator CRDs"
    local work="$CACHE_BASE/prometheus-operator/build/$OPERATOR_VERSION" started=$SECONDS
    mkdir -p "$work" "$OUT"
    log "generating ${CRDS[*]} from pkg/apis/monitoring $OPERATOR_VERSION with controller-gen $CONTROLLER_TOOLS_VERSION in $work"
    ( cd "$work"
      printf 'module pod-dns-injector.local/prometheus-operator-crds\n\ngo 1.26\n\nrequire (\n\tgithub.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring %s\n\tsigs.k8s.io/controller-tools %s\n)\n' \
        "$OPERATOR_VERSION" "$CONTROLLER_TOOLS_VERSION" > go.mod
      # Keeps both requirements in the module graph for `go mod tidy`.
      printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"\n\t_ "sigs.k8s.io/controller-tools/cmd/controller-gen"\n)\n' > tools.go
      GOFLAGS=-mod=mod go mod tidy
      [[ -x controller-gen ]] || CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen
      rm -rf out
      GOFLAGS=-mod=mod ./controller-gen crd:crdVersions=v1 paths=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1 output:crd:dir="$work/out"
      local f; for f in "${CRDS[@]}"; do cp "out/$f" "$OUT/$f.tmp" && mv "$OUT/$f.tmp" "$OUT/$f"; done
    )
    log "generated in $((SECONDS - started)) s"
  fi
  echo "PROMETHEUS_OPERATOR_CRDS=$OUT"
}

main "$@"
