"""Proposed chapters through the command line, as a user runs it, on a placeholder page in the style of
seed 000 (``00:00 Help us add timestamps``, a later ``## Timestamps`` saying ``[get from video]``) whose
video is a local file: the qa-webinar test talk (scripts/make_qa_talk.py), transcribed by the real tiny.en.

``run`` writes the proposals as the draft's headings and says so in its note; ``chapters PAGE`` prints
them as a Timestamps block from the cached transcription; ``--fill-timestamps`` writes them over the
placeholder line only (every other byte compared), and a second run changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline import pages

TALK = Path(__file__).resolve().parent / "fixtures" / "talks" / "qa-webinar"
PLACEHOLDER = b"00:00 Help us add timestamps"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def placeholder_page(folder: Path) -> Path:
    (folder / "media").mkdir(parents=True)
    shutil.copy(TALK / "audio.ogg", folder / "media" / "qa.ogg")
    page = folder / "99-joe-example.md"
    page.write_text((TALK / "page.md").read_text().replace("{VIDEO_URL}", "media/qa.ogg"), encoding="utf-8")
    return page


@pytest.fixture(scope="module")
def drafted(tmp_path_factory) -> tuple[Path, Path, bytes]:
    """(page, cache, its bytes before the run): the placeholder page after one `run`."""
    folder = tmp_path_factory.mktemp("qa-webinar")
    page = placeholder_page(folder / "site")
    before = page.read_bytes()
    result = cli("run", "--quiet", str(page), "--cache-dir", str(folder / "cache"))
    assert result.returncode == 0, result.stderr
    return page, folder / "cache", before


def test_run_heads_the_draft_with_proposed_chapters_and_says_so(drafted):
    page, _, before = drafted
    written = page.read_bytes()
    assert before.endswith(b"## Transcript\n") and written.startswith(before)  # only the section is new
    draft = pages.read_transcript(page)
    assert draft is not None
    headings = [line for line in draft.splitlines() if line.startswith("### ")]
    assert "### Q&A - How Does One Get into AI Security? (00:51)" in headings, headings
    assert headings[-1] == "### Thank You All for Coming (01:27)", headings
    assert all(h[4].isalpha() for h in headings), headings  # every heading titled with words, none a bare time
    assert "headings are proposed" in draft.splitlines()[0]


def test_chapters_prints_the_proposals_as_a_timestamps_block_from_the_cache(drafted):
    page, cache, _ = drafted
    result = cli("chapters", str(page), "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "## Timestamps" and lines[1].startswith("00:00 ")
    draft = pages.read_transcript(page) or ""
    heads = [h[4:] for h in draft.splitlines() if h.startswith("### ")]
    # the same chapters as the draft's headings: "Title (mm:ss)" there, "mm:ss Title" here
    assert [f"{line[6:]} ({line[:5]})" for line in lines[1:]] == heads
    as_json = json.loads(cli("chapters", "--json", str(page), "--cache-dir", str(cache)).stdout)
    assert [c["title"] for c in as_json[0]["chapters"]] == [line[6:] for line in lines[1:]]
    assert {c["cue"] for c in as_json[0]["chapters"]} >= {"start", "qa", "question", "closing"}


def test_fill_timestamps_replaces_only_the_placeholder_line_once(drafted):
    page, cache, _ = drafted
    copy = page.with_name("99-joe-example-copy.md")  # beside it: the same media, context and cache entry
    copy.write_bytes(page.read_bytes())
    before = copy.read_bytes()
    block = cli("chapters", str(copy), "--cache-dir", str(cache)).stdout.splitlines()[1:]
    result = cli("chapters", "--fill-timestamps", str(copy), "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    assert "wrote 5 proposed chapters" in result.stderr
    head, tail = before.split(PLACEHOLDER)
    assert copy.read_bytes() == head + "\n".join(block).encode() + tail  # every other byte as it was
    filled = copy.read_bytes()
    again = cli("chapters", "--fill-timestamps", str(copy), "--cache-dir", str(cache))
    assert again.returncode == 0 and "left as it is" in again.stderr
    assert cli("run", "--quiet", "--fill-timestamps", str(copy), "--cache-dir", str(cache)).returncode == 0
    assert copy.read_bytes() == filled  # a second fill, and a second run, change nothing


def test_run_with_fill_timestamps_writes_the_draft_and_the_block_in_one_go(drafted):
    page, cache, before = drafted
    fresh = page.with_name("99-joe-example-fresh.md")
    fresh.write_bytes(before)
    result = cli("run", "--quiet", "--fill-timestamps", str(fresh), "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    text = fresh.read_bytes()
    assert PLACEHOLDER not in text and b"## Timestamps\n[get from video]\n" in text
    head, _ = before.split(PLACEHOLDER)
    assert text.startswith(head + b"00:00 Welcome to Data Umbrella\n00:14 ")
    assert pages.read_transcript(fresh) == pages.read_transcript(page)


def test_chapters_refuses_a_setting_that_cannot_work_before_any_download(tmp_path):
    page = placeholder_page(tmp_path / "site")
    result = cli("chapters", str(page), "--model", "no-such-model", "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 2 and "config error" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "cache" / "media").exists()  # nothing was fetched
    missing = cli("chapters", str(tmp_path / "no-such-page.md"))
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
