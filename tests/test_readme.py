"""The README is tested like code: every command is documented with an example, and the
library example and the one-stage snippet run as written (on a copy of examples/)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline import pages
from pipeline.cli import app

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def fenced_blocks(language: str, after_heading: str) -> list[str]:
    section = README.split(f"\n{after_heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def test_every_command_has_a_section_with_an_example():
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    assert {"scan", "run", "status"} <= set(names)
    for name in names:
        heading = re.search(rf"^### `{name}\b[^\n]*\n(.*?)(?=^### |^## )", README, re.M | re.S)
        assert heading, f"README has no '### `{name} ...`' section"
        assert f"$ python -m pipeline {name} " in heading.group(1), f"no example of {name}"


def test_the_library_example_and_the_one_stage_snippet_run_as_written(tmp_path):
    [example] = fenced_blocks("python", "## Using it as a library")
    [one_stage] = fenced_blocks("bash", "## How the code is laid out")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    ran = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    assert re.search(r"^\s+0\.0 .*\bwelcome\b", ran.stdout, re.I | re.M), ran.stdout  # the first segment
    written = tmp_path / "examples" / "01-sam-intro-to-terminal.md"
    assert pages.read_page(written).state == pages.HAS_DRAFT
    assert "### Intro to Terminal (00:14)" in (pages.read_transcript(written) or "")

    snippet = one_stage.replace(".venv/bin/python", shlex.quote(sys.executable))
    ran = subprocess.run(["bash", "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "Intro to Terminal" in ran.stdout
