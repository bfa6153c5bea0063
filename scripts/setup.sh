#!/usr/bin/env bash
# Create .venv at the checkout's root and install the project into it: the core for the main job
# (`bash scripts/setup.sh`), or with extras (`bash scripts/setup.sh test,speakers,ray,gpu`, what the tests use; `workstation` on a GPU workstation).
# Needs only Python 3.11+ and access to PyPI; no system package.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
EXTRAS=${1:-}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".${EXTRAS:+[$EXTRAS]}"
echo "installed: $(.venv/bin/python -m pipeline --version)${EXTRAS:+ with $EXTRAS}"
