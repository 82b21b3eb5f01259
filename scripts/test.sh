#!/usr/bin/env bash
# The whole test suite, from a fresh checkout: set-up, lint, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check src tests bench docs/examples
.venv/bin/python -m pytest -q "$@"
