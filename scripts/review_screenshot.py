"""docs/review.png: the review page of the bundled example, as the tests' browser shows it.

    .venv/bin/python scripts/review_screenshot.py [--out docs/review.png]

The example is drafted by the real pipeline (tiny.en) with lowered flag thresholds
(so some passages show as flagged), in a temporary folder; the page is shown in
Debian's headless chromium, paused on a word of the second chapter.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reviewlib  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=reviewlib.REPO / "docs" / "review.png")
    args = parser.parse_args()
    from pipeline.config import load_config
    from pipeline.review import open_review
    from pipeline.review_server import ReviewServer
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        flags = Path(folder) / "flags.toml"
        flags.write_text(reviewlib.LOW_FLAG_THRESHOLDS, encoding="utf-8")
        page = reviewlib.drafted_example(Path(folder) / "pages", Path(folder) / "cache", flag_config=flags)
        session = open_review(page, load_config(), cache_dir=Path(folder) / "cache")
        with sync_playwright() as playwright, ReviewServer(session) as server:
            browser = reviewlib.launch_chromium(playwright)
            tab = browser.new_page(viewport={"width": 1100, "height": 760})
            tab.goto(server.url)
            tab.wait_for_selector("body[data-ready='1']")
            tab.keyboard.press("Control+Period")  # to the first flag ...
            tab.keyboard.press("Control+Period")  # ... and the next
            tab.locator(".w", has_text="webinar.").first.click()
            tab.wait_for_timeout(300)
            tab.keyboard.press("Escape")  # pause, so the shot shows one current word
            tab.evaluate("window.scrollTo(0, 0)")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(args.out), full_page=False)
            browser.close()
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} kB")


if __name__ == "__main__":
    main()
