#!/usr/bin/env bash
# Set up .venv if needed, check lint, format and types, then run the whole test suite
# (about 5 minutes on 2 cores). Fails at the first check that fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "ruff check" && .venv/bin/ruff check pipeline
echo "ruff format --check" && .venv/bin/ruff format --check pipeline
echo "mypy" && .venv/bin/mypy pipeline
exec .venv/bin/python -m pytest "$@"
