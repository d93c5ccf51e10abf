#!/usr/bin/env bash
# Builds the `helm` CLI from its Go module (helm.sh/helm/v4/cmd/helm) and caches it outside
# the repository, keyed by version, in $CACHE_BASE/helm/<version>/helm (the shared helpers
# and cache root: test/control-plane/go-modules.sh). A pre-installed binary wins:
# TEST_ASSET_HELM. Prints HELM=<path>, the line scripts/run-tests.mjs turns into
# POD_DNS_INJECTOR_TEST_HELM.
set -euo pipefail

GO_MODULES_LOG_PREFIX=helm
# shellcheck source=../control-plane/go-modules.sh
source "$(dirname "${BASH_SOURCE[0]}")/../control-plane/go-modules.sh"

HELM_VERSION="${HELM_VERSION:-v4.3.2}"
HELM_DIR="$CACHE_BASE/helm/$HELM_VERSION"

main() {
  local helm
  helm="$(preinstalled helm TEST_ASSET_HELM || true)"
  if [[ -z "$helm" ]]; then
    # helm's own go.mod has no replace lines, so a helper module only pins the version; the
    # -X flag is what `helm version` prints (helm.sh/helm/v4/internal/version).
    build_go_module_command "$HELM_DIR/helm" "$CACHE_BASE/helm/build/$HELM_VERSION" helm \
      helm.sh/helm/v4 "$HELM_VERSION" helm.sh/helm/v4/cmd/helm \
      "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
    helm="$HELM_DIR/helm"
  fi
  echo "HELM=$helm"
}

main "$@"
