#!/usr/bin/env bash
# The main job on the embedded default, from a fresh checkout: set-up, then `metatrack demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/metatrack demo "$@"
