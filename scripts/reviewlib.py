"""Helpers shared by the review page's tests, its screenshot and its benchmark.

- ``launch_chromium(playwright)``: Debian's /usr/bin/chromium, headless (Playwright's
  own browser download cannot run here); autoplay allowed, so ``audio.play()`` works
  without a click.
- ``drafted_example(folder, cache_dir, flag_config=None) -> Path``: the bundled
  example page and its media copied into ``folder`` with a draft written by the real
  pipeline (tiny.en); ``flag_config`` a TOML file, e.g. lower flag thresholds.
  Copies of the page made in the same ``folder`` name the same media file (local
  media must lie beside or below the page), so they share one cached transcription.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from evalkit.harness import REPO

EXAMPLE_PAGE = REPO / "examples" / "01-sam-intro-to-terminal.md"
EXAMPLE_MEDIA = REPO / "examples" / "media" / "intro-to-terminal.ogg"
CHROMIUM = "/usr/bin/chromium"

# Enough low-confidence words in the example to flag some passages.
LOW_FLAG_THRESHOLDS = "[flags]\nword_probability_threshold = 0.9\nlow_word_run = 2\n"


def launch_chromium(playwright):
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
    )


def drafted_example(folder: Path, cache_dir: Path, flag_config: Path | None = None) -> Path:
    sys.path.insert(0, str(REPO))
    from pipeline.config import load_config
    from pipeline.runner import run_batch

    folder.mkdir(parents=True, exist_ok=True)
    media = folder / "media" / EXAMPLE_MEDIA.name
    media.parent.mkdir(exist_ok=True)
    shutil.copyfile(EXAMPLE_MEDIA, media)
    page = folder / EXAMPLE_PAGE.name
    shutil.copyfile(EXAMPLE_PAGE, page)
    report = run_batch([page], load_config(flag_config), cache_dir=cache_dir)
    if report.failed:
        raise RuntimeError(f"the example's draft failed: {report.pages[0].reason}")
    return page
