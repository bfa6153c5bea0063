#!/usr/bin/env bash
# Set up .venv if needed and run the whole test suite (about 5 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
