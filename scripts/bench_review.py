"""Is the review page responsive on a 90-minute talk? Page load and click-to-seek, in headless chromium.

    .venv/bin/python scripts/bench_review.py [--minutes 90] [--words 15000] [--loads 5] [--clicks 30]

A synthetic talk: a silent Opus file of that length (made with the shipped ffmpeg),
a transcription of that many words (the bundled example's words over and over,
evenly timed, every 40th segment unsure so the draft has flags) put where the
cache keeps it, and the draft the real pipeline (`run_batch`: align, flags,
render) writes from it. Measured, each next to its baseline from the same run:

- open: ``open_review`` (read the page, align the draft's words to the cache's);
- load: navigation to the page rendered with every word (``body[data-ready]``),
  against a 1-minute draft made the same way;
- click to seek: a click on a random word (scrolled on screen first, untimed) until the
  audio element's ``seeked``,
  against seeking a bare ``<audio>`` element on the same file and server.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reviewlib  # noqa: E402

sys.path.insert(0, str(reviewlib.REPO))
from pipeline.config import load_config  # noqa: E402

CHAPTERS = 12  # one every 7.5 minutes of a 90-minute talk


def _silent_audio(path: Path, seconds: float) -> None:
    from pipeline.audio import ffmpeg_path

    command = [ffmpeg_path(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono"]
    subprocess.run([*command, "-t", str(seconds), "-c:a", "libopus", "-b:a", "16k", str(path)], check=True)


def _transcription(seconds: float, count: int):
    from pipeline.schema import Segment, Transcription, Word

    vocabulary = re.sub(r"<!--.*?-->|\[\?\]|[#*]", " ", reviewlib.EXAMPLE_PAGE.read_text(encoding="utf-8")).split()
    step = seconds / count
    segments = []
    for first in range(0, count, 20):
        words = [
            Word(i * step, i * step + step * 0.8, " " + vocabulary[i % len(vocabulary)], 0.9)
            for i in range(first, min(count, first + 20))
        ]
        unsure = (first // 20) % 40 == 39
        text = "".join(w.text for w in words)
        segments.append(Segment(words[0].start, words[-1].end, text, -1.6 if unsure else -0.2, 1.4, 0.01, 0.0, words))
    return Transcription(audio_duration=seconds, language="en", model="tiny.en", segments=segments)


def make_talk(folder: Path, minutes: float, words: int) -> tuple[Path, Path]:
    """(a page holding the pipeline's draft of a synthetic talk, its cache)."""
    from pipeline.cache import Cache
    from pipeline.job import JobMaker
    from pipeline.pages import read_page
    from pipeline.runner import run_batch
    from pipeline.utils import atomic_write_text

    folder.mkdir(parents=True)
    seconds = minutes * 60
    audio = folder / "talk.webm"
    _silent_audio(audio, seconds)
    stamps = "\n".join(f"{int(i * seconds / CHAPTERS) // 60:02d}:00 Chapter {i + 1}" for i in range(CHAPTERS))
    page = folder / "01-long-talk.md"
    text = reviewlib.EXAMPLE_PAGE.read_text(encoding="utf-8").replace("media/intro-to-terminal.ogg", audio.name)
    text = re.sub(r"```\n## Timestamps\n.*?```", f"```\n## Timestamps\n{stamps}\n```", text, flags=re.DOTALL)
    page.write_text(text, encoding="utf-8")
    config, cache = load_config(), folder / "cache"
    jobs = JobMaker(config, Cache.at(cache))
    parsed = read_page(page)
    import json

    entry = jobs.job(parsed, parsed.videos[0]).transcript
    payload = {"fingerprint": entry.fingerprint, **_transcription(seconds, words).to_json()}
    atomic_write_text(entry.path, json.dumps(payload))
    if run_batch([page], config, cache_dir=cache).failed:
        raise SystemExit("the synthetic draft could not be written")
    return page, cache


_SEEK_JS = """async ([index, selector]) => {
  const audio = document.querySelector('audio');
  const el = selector ? document.querySelectorAll(selector)[index] : null;
  if (el) {  // a reviewer clicks a word they see: bring it on screen first (not timed)
    el.scrollIntoView({ block: 'center' });
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  }
  const done = new Promise((resolve) => audio.addEventListener('seeked', resolve, { once: true }));
  const t0 = performance.now();
  if (el) el.click(); else audio.currentTime = index;
  await done;
  const ms = performance.now() - t0;
  audio.pause();
  return ms;
}"""


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):7.1f} ms, max {max(values):7.1f} ms (n={len(values)})"


def measure(browser, page: Path, cache: Path, loads: int, clicks: int) -> dict:
    from pipeline.review import open_review
    from pipeline.review_server import ReviewServer

    t0 = time.perf_counter()
    session = open_review(page, load_config(), cache_dir=cache)
    result: dict = {"open": (time.perf_counter() - t0) * 1000, "load": [], "fetch": [], "render": []}
    result["words"] = sum(len(b.words) for b in session.blocks if b.kind == "paragraph")
    with ReviewServer(session) as server:
        for _ in range(loads):
            tab = browser.new_page()
            t0 = time.perf_counter()
            tab.goto(server.url)
            tab.wait_for_selector("body[data-ready='1']", timeout=120_000)
            result["load"].append((time.perf_counter() - t0) * 1000)
            timings = tab.evaluate("window.reviewTimings")
            result["fetch"].append(timings["fetchMs"])
            result["render"].append(timings["renderMs"])
            tab.close()
        tab = browser.new_page()
        tab.goto(server.url)
        tab.wait_for_selector("body[data-ready='1']", timeout=120_000)
        tab.wait_for_function("document.querySelector('audio').readyState >= 1")
        picks = random.Random(1).sample(range(result["words"]), min(clicks, result["words"]))
        result["seek"] = [tab.evaluate(_SEEK_JS, [i, ".w"]) for i in picks]
        bare = browser.new_page()
        bare.set_content(f'<audio preload="metadata" src="{server.url}audio/0"></audio>')
        bare.wait_for_function("document.querySelector('audio').readyState >= 1")
        duration = bare.evaluate("document.querySelector('audio').duration")
        targets = [random.Random(2).uniform(0, duration) for _ in picks]
        result["bare"] = [bare.evaluate(_SEEK_JS, [t, None]) for t in targets]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=90.0)
    parser.add_argument("--words", type=int, default=15000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--clicks", type=int, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = reviewlib.launch_chromium(playwright)
        small_words = max(1, round(args.words / args.minutes))
        small = measure(browser, *make_talk(Path(folder) / "small", 1.0, small_words), args.loads, args.clicks)
        big = measure(browser, *make_talk(Path(folder) / "big", args.minutes, args.words), args.loads, args.clicks)
        browser.close()
    print(f"review page in headless chromium ({Path(reviewlib.CHROMIUM).name}), synthetic talks, silent Opus audio")
    for name, r in (("1-minute draft (the baseline)", small), (f"{args.minutes:g}-minute draft", big)):
        print(f"  {name}: {r['words']} words")
        print(f"    open_review (align draft to cached words)  {r['open']:8.1f} ms")
        print(f"    page load to every word rendered           {_summary(r['load'])}")
        print(f"      of which draft.json fetched and parsed   {_summary(r['fetch'])}")
        print(f"      of which the words built into the page   {_summary(r['render'])}")
        print(f"    click on a word to audio seeked            {_summary(r['seek'])}")
        print(f"    baseline: bare <audio> seek, same file     {_summary(r['bare'])}")


if __name__ == "__main__":
    main()
