"""Chapters as the real backlog lists them, through `python -m pipeline run` as a user runs it.

Dense chapters and ` -- ` sub-chapters on the bundled example's real speech; a page whose chapter list is
a placeholder takes the video's own chapters, downloaded by the real yt-dlp from a YouTube-shaped info
dict whose audio lies on 127.0.0.1 (YouTube itself is the one thing that cannot run here); YouTube links
on flags and, with ``[render] link_times``, on headings.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.mediaserver import MediaServer

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples"
EXAMPLE_PAGE = "01-sam-intro-to-terminal.md"
VIDEO_ID = "dQw4w9WgXcQ"


def _transcript(page: Path) -> str:
    return page.read_text(encoding="utf-8").split("\n## Transcript\n", 1)[1]


def _sections(body: str) -> dict[str, str]:
    """Heading line -> the text under it, up to the next heading."""
    out: dict[str, str] = {}
    heading = None
    for line in body.splitlines():
        if line.startswith("#"):
            heading = line
            out[heading] = ""
        elif heading is not None and line.strip() and not line.startswith("<!--"):
            out[heading] += line + " "
    return {h: t.strip() for h, t in out.items()}


def test_dense_sub_chapters_each_get_their_sentence_as_level_four_headings(tmp_path):
    # The example's last chapter with two sub-chapters 3 s apart, as the backlog's pages list them.
    folder = tmp_path / "pages"
    shutil.copytree(EXAMPLE, folder)
    page = folder / EXAMPLE_PAGE
    text = page.read_text(encoding="utf-8")
    assert "00:37 Helpful shortcuts\n" in text
    page.write_text(
        text.replace(
            "00:37 Helpful shortcuts\n", "00:37 Helpful shortcuts\n00:42 -- The Tab key\n00:45 -- The arrow keys\n"
        ),
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--quiet", str(folder), "--cache-dir", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sections = _sections(_transcript(page))
    assert list(sections)[:5] == [
        "### Introduction (00:00)",
        "### Intro to Terminal (00:14)",
        "### Helpful shortcuts (00:37)",
        "#### The Tab key (00:42)",
        "#### The arrow keys (00:45)",
    ]
    assert "No speech" not in _transcript(page)
    # The model's casing varies with the decoding settings ("Tab key", "the tab key"): the words are what count.
    assert re.search(r"\btab key\b", sections["#### The Tab key (00:42)"], re.I)
    assert not re.search(r"\btab\b", sections["### Helpful shortcuts (00:37)"], re.I)
    assert re.search(r"\barrow keys\b", sections["#### The arrow keys (00:45)"], re.I)
    assert not re.search(r"\barrow\b", sections["#### The Tab key (00:42)"], re.I)


PLACEHOLDER_PAGE = """# Sam Bail:  Intro to Terminal (metadata chapters)

## Key Links
- Video: https://youtu.be/{video_id}
- Transcriber:  ? [needs a transcriber]

## About the Event
A test page whose chapter list is a placeholder.

```
## Timestamps
xx:xx Help us add timestamps
```

## Transcript
"""

YOUTUBE_CHAPTERS = [
    {"start_time": 0.0, "end_time": 14.0, "title": "Welcome"},
    {"start_time": 14.0, "end_time": 37.0, "title": "What the terminal is for"},
    {"start_time": 37.0, "end_time": 50.0, "title": "Shortcuts"},
]


@pytest.fixture
def youtube(monkeypatch, tmp_path):
    """YouTube's extractor answers with a YouTube-shaped info dict whose audio is served on 127.0.0.1."""
    from yt_dlp.extractor import youtube as youtube_extractor

    media = tmp_path / "served"
    media.mkdir()
    shutil.copy(EXAMPLE / "media" / "intro-to-terminal.ogg", media / "audio.ogg")
    state = {"chapters": YOUTUBE_CHAPTERS, "extracted": 0}
    with MediaServer(media) as server:

        def extract(self, url):
            state["extracted"] += 1
            return {
                "id": self._match_id(url),
                "title": "Intro to Terminal",
                "duration": 50.0,
                "chapters": state["chapters"],
                "webpage_url": url,
                "formats": [
                    {
                        "format_id": "251",
                        "url": server.url("audio.ogg"),
                        "ext": "ogg",
                        "acodec": "opus",
                        "vcodec": "none",
                    }
                ],
            }

        monkeypatch.setattr(youtube_extractor.YoutubeIE, "_real_extract", extract)
        yield state


def _run_in_process(*args: str):
    from pipeline.cli import app

    return CliRunner().invoke(app, ["run", "--quiet", *args], catch_exceptions=False)


def test_a_placeholder_chapter_list_takes_the_videos_own_chapters_with_linked_times(tmp_path, youtube):
    page = tmp_path / "pages" / "01-placeholder.md"
    page.parent.mkdir()
    page.write_text(PLACEHOLDER_PAGE.format(video_id=VIDEO_ID), encoding="utf-8")
    config = tmp_path / "links.toml"
    config.write_text("[render]\nlink_times = true\n", encoding="utf-8")
    report = tmp_path / "report.json"
    args = [str(page.parent), "--cache-dir", str(tmp_path / "cache"), "--report", str(report)]
    result = _run_in_process(*args, "--config", str(config))
    assert result.exit_code == 0, result.output
    headings = [line for line in _transcript(page).splitlines() if line.startswith("#")]
    link = f"https://youtu.be/{VIDEO_ID}?t="
    assert headings == [
        f"### Welcome [(00:00)]({link}0)",
        f"### What the terminal is for [(00:14)]({link}14)",
        f"### Shortcuts [(00:37)]({link}37)",
    ]
    assert "Tab key" in _sections(_transcript(page))[headings[2]]
    (outcome,) = json.loads(report.read_text())["pages"]
    assert any("the video's own 3 chapters" in w for w in outcome["warnings"]), outcome["warnings"]
    assert any("placeholder" in w for w in outcome["warnings"])
    # The record kept the chapters: a second run from the cache (--force) uses them again, with plain times.
    result = _run_in_process(*args, "--force")
    assert result.exit_code == 0, result.output
    assert youtube["extracted"] == 1
    headings = [line for line in _transcript(page).splitlines() if line.startswith("#")]
    assert headings == ["### Welcome (00:00)", "### What the terminal is for (00:14)", "### Shortcuts (00:37)"]


def test_without_chapters_in_the_metadata_a_placeholder_page_gets_proposed_chapters(tmp_path, youtube):
    youtube["chapters"] = None
    page = tmp_path / "pages" / "01-placeholder.md"
    page.parent.mkdir()
    page.write_text(PLACEHOLDER_PAGE.format(video_id=VIDEO_ID), encoding="utf-8")
    report = tmp_path / "report.json"
    result = _run_in_process(str(page.parent), "--cache-dir", str(tmp_path / "cache"), "--report", str(report))
    assert result.exit_code == 0, result.output
    headings = [line for line in _transcript(page).splitlines() if line.startswith("#")]
    # proposed from the talk (pipeline/propose.py; 50 s: one chapter), titled with its words, and said so
    assert len(headings) == 1 and re.fullmatch(r"### [A-Z][\w ]+ \(00:00\)", headings[0]), headings
    assert "The headings are proposed by this tool" in _transcript(page)
    (outcome,) = json.loads(report.read_text())["pages"]
    assert not any("own" in w for w in outcome["warnings"])
    assert any("proposed 1 from the talk" in w for w in outcome["warnings"]), outcome["warnings"]
