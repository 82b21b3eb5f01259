#!/usr/bin/env bash
# Make the VOT toolkit's own virtual environment, .vot-venv/ in the checkout (or $VOT_VENV):
# vot-toolkit 0.9.0 with the TraX library (vot-trax 4.0.2) and the attributee version it needs, and
# $VENV/trax-only/, the trax package alone (no dependencies), which the trackers.ini that
# `metatrack vot-workspace` writes puts on the path of metatrack's TraX server (python -m metatrack.vot_trax):
# that server runs in .venv/'s Python, which has numpy and six, the only packages trax needs.
# The toolkit pulls plain opencv-python, which clashes with the opencv-contrib build in .venv/, so it
# lives apart and nothing is installed into .venv/. The toolkit is GPL-3.0: metatrack runs it as an
# outside program and never imports it. Idempotent: a second run only checks. About 45 s.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VOT_VENV:-.vot-venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
PINS=(vot-toolkit==0.9.0 vot-trax==4.0.2 attributee==0.1.9)
stamp="$VENV/.metatrack-vot-pins"
if [ -x "$VENV/bin/vot" ] && [ -d "$VENV/trax-only/trax" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${PINS[*]}" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PINS[@]}"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --upgrade --target "$VENV/trax-only" \
  "${PINS[1]}"
# without the attributee pin every `vot` command fails on import; check that the toolkit and TraX load
"$VENV/bin/python" -c "import vot, trax; from vot.workspace import Workspace" >/dev/null
echo "${PINS[*]}" > "$stamp"
echo "vot toolkit ready: $VENV/bin/vot"
