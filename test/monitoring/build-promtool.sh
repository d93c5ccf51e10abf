#!/usr/bin/env bash
# Builds Prometheus's `promtool` from its Go module (github.com/prometheus/prometheus/cmd/promtool)
# and caches it outside the repository, keyed by version, in $CACHE_BASE/promtool/<version>/
# (the shared helpers and cache root: test/control-plane/go-modules.sh). A pre-installed
# binary wins: TEST_ASSET_PROMTOOL. Prints PROMTOOL=<path>, the line scripts/run-tests.mjs
# turns into POD_DNS_INJECTOR_TEST_PROMTOOL.
#
# The Go module versions are v0.<minor*100+...>: v0.316.0 is the source of Prometheus v3.16.0.
set -euo pipefail

GO_MODULES_LOG_PREFIX=promtool
# shellcheck source=../control-plane/go-modules.sh
source "$(dirname "${BASH_SOURCE[0]}")/../control-plane/go-modules.sh"

PROMTOOL_VERSION="${PROMTOOL_VERSION:-v0.316.0}"
PROMTOOL_DIR="$CACHE_BASE/promtool/$PROMTOOL_VERSION"

main() {
  local promtool
  promtool="$(preinstalled promtool TEST_ASSET_PROMTOOL || true)"
  if [[ -z "$promtool" ]]; then
    # prometheus's go.mod has no replace lines, so the helper module only pins the version;
    # the -X flag is what `promtool --version` prints (github.com/prometheus/common/version).
    build_go_module_command "$PROMTOOL_DIR/promtool" "$CACHE_BASE/promtool/build/$PROMTOOL_VERSION" promtool \
      github.com/prometheus/prometheus "$PROMTOOL_VERSION" github.com/prometheus/prometheus/cmd/promtool \
      "-s -w -X github.com/prometheus/common/version.Version=$PROMTOOL_VERSION"
    promtool="$PROMTOOL_DIR/promtool"
  fi
  echo "PROMTOOL=$promtool"
}

main "$@"
