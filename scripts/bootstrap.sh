#!/usr/bin/env bash
# Create .venv in the checkout, install the pinned requirements and metatrack (editable), and place
# the ImageNet MobileNetV2 checkpoint where torchvision looks for it (checked by sha256); as root with
# apt-get, Debian's chromium and chromium-driver for the browser test (METATRACK_NO_APT=1 skips that).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.metatrack-requirements
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
# The browser test of the HTML report (tests/test_report_browser.py) drives Debian's Chromium and its
# driver: install them when missing, as root with apt-get (CI); elsewhere that test skips and says why.
if ! { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${METATRACK_NO_APT:-}" ]; then
    echo "bootstrap: installing chromium and chromium-driver with apt-get (the HTML report's browser test)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
      >/dev/null 2>&1 || echo "bootstrap: warning: chromium could not be installed; the browser test will skip" >&2
  fi
fi
.venv/bin/python -m metatrack.weights
