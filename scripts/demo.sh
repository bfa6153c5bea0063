#!/usr/bin/env bash
# The main job on the bundled example: set up .venv, copy examples/ to demo/ (git-ignored),
# transcribe it with the embedded tiny.en model, and show the page's new Transcript section.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf demo && cp -r examples demo
.venv/bin/python -m pipeline run demo/ --cache-dir .cache
echo
echo "== demo/01-sam-intro-to-terminal.md, from its Transcript section on =="
sed -n '/^## Transcript/,$p' demo/01-sam-intro-to-terminal.md
