"""`python -m pipeline run` end to end, called the way a user calls it.

Real yt-dlp downloads from a media server on 127.0.0.1, real ffmpeg (imageio-ffmpeg),
the real faster-whisper with the embedded tiny.en model, real speech.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from pipeline import pages

from evalkit.mediaserver import MediaServer

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_AUDIO = REPO / "examples" / "media" / "intro-to-terminal.ogg"

PAGE = """# Jane Doe:  {title}

## Key Links
- Transcript: https://github.com/data-umbrella/event-transcripts/blob/main/2026/01-test.md
- Meetup Event: https://www.meetup.com/data-umbrella/events/1/
- Video: {url}
- Transcriber:  ? [needs a transcriber]

## About the Event
A talk for the tests.

```
## Timestamps
{chapters}
```

## About the Speaker
Jane is a speaker.

#python #datascience

## Transcript
"""


def make_page(path: Path, url: str, chapters: list[str], title: str = "A test talk") -> Path:
    path.write_text(PAGE.format(title=title, url=url, chapters="\n".join(chapters)), encoding="utf-8")
    return path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def transcript_section(text: str) -> str:
    return text.split("\n## Transcript\n", 1)[1]


def spoken_text(body: str) -> str:
    """The words of a draft body: no headings, notes, markers or flags."""
    lines = []
    for line in body.splitlines():
        line = re.sub(r"<!--.*?-->", "", line).replace("[?]", "")
        if line.startswith("#") or (line.startswith("*") and line.endswith("*")) or line.startswith("**Part"):
            continue
        lines.append(line)
    return " ".join(" ".join(lines).split())


def test_run_writes_a_draft_with_the_page_headings_and_a_second_run_changes_nothing(tmp_path, media):
    server, _ = media
    site = tmp_path / "site"
    site.mkdir()
    page = make_page(
        site / "01-terminal.md",
        server.url("terminal.ogg"),
        ["00:00 Introduction", "00:14 Intro to Terminal", "00:37 Helpful shortcuts"],
    )
    before = page.read_bytes()
    report = tmp_path / "report.json"
    cache = tmp_path / "cache"

    first = run_cli(str(site), "--cache-dir", str(cache), "--report", str(report))
    assert first.returncode == 0, first.stdout + first.stderr
    after = page.read_bytes()
    head = before.split(b"## Transcript\n")[0]
    assert after.startswith(head + b"## Transcript\n"), "bytes before the section changed"
    body = pages.read_transcript(page)
    headings = re.findall(r"^### (.+)$", body, flags=re.M)
    assert headings == ["Introduction (00:00)", "Intro to Terminal (00:14)", "Helpful shortcuts (00:37)"]
    words = spoken_text(body).lower()
    assert "terminal" in words and "arrow keys" in words
    # each chapter holds its own sentences: nothing was split across a heading
    sections = re.split(r"^### .+$", body, flags=re.M)[1:]
    assert "hey everybody, welcome to" in spoken_text(sections[0]).lower()
    assert "my name is sam" in spoken_text(sections[1]).lower()
    assert "tab key" in spoken_text(sections[2]).lower()
    assert pages.read_page(page).state == pages.HAS_DRAFT
    data = json.loads(report.read_text())
    assert data["totals"]["done"] == 1 and data["totals"]["videos_transcribed"] == 1
    # the transcription is cached, so the 16 kHz WAV is gone: the cache grows with downloads only
    assert list((cache / "transcripts").rglob("*.json")) and not list((cache / "audio").glob("*.wav"))

    second = run_cli(str(site), "--cache-dir", str(cache), "--report", str(report))
    assert second.returncode == 0, second.stderr
    assert page.read_bytes() == after
    data = json.loads(report.read_text())
    assert data["totals"]["done"] == 0 and data["totals"]["skipped"] == 1
    assert data["totals"]["model_loaded"] is False


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def _music(seconds: float, rate: int = 16000) -> np.ndarray:
    """Chords on a beat with a little noise: music-like, no speech."""
    t = np.arange(int(seconds * rate)) / rate
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6), (164.8, 207.7, 246.9)]
    out = np.zeros_like(t)
    for i, start in enumerate(np.arange(0, seconds, 0.5)):
        sel = (t >= start) & (t < start + 0.5)
        env = np.exp(-3 * (t[sel] - start))
        for f in chords[(i // 4) % 4]:
            out[sel] += 0.12 * env * np.sin(2 * math.pi * f * t[sel])
    rng = np.random.default_rng(0)
    return out + 0.005 * rng.standard_normal(len(t))


@pytest.mark.parametrize("kind", ["silence", "music"])
def test_silence_and_music_produce_no_invented_sentences(tmp_path, kind):
    folder = tmp_path / "media"
    folder.mkdir()
    samples = np.zeros(16000 * 40) if kind == "silence" else _music(40)
    _write_wav(folder / f"{kind}.wav", samples)
    with MediaServer(folder) as server:
        page = make_page(tmp_path / "page.md", server.url(f"{kind}.wav"), ["00:00 Opening", "00:20 Second half"])
        result = run_cli(str(page), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    body = pages.read_transcript(page)
    assert re.findall(r"^### (.+)$", body, flags=re.M) == ["Opening (00:00)", "Second half (00:20)"]
    assert spoken_text(body) == "", f"invented text on {kind}: {spoken_text(body)!r}"
    assert body.lower().count("no speech") >= 2


def test_a_bad_page_never_stops_the_batch(tmp_path, media):
    """Two good pages, a 404 and a human transcript: the good ones are written, the 404 is
    reported with its URL, the exit status says a page failed, the human page is untouched."""
    server, _ = media
    site = tmp_path / "site"
    site.mkdir()
    good1 = make_page(site / "01-good.md", server.url("jfk.flac"), ["00:00 Inauguration"])
    gone_url = server.url("status/404")
    gone = make_page(site / "02-gone.md", gone_url, ["00:00 Start"])
    good2 = make_page(site / "03-good.md", server.url("terminal.ogg"), [])
    human = make_page(site / "04-human.md", server.url("jfk.flac"), ["00:00 Start"])
    human.write_text(human.read_text() + "\n### Start (00:00)\n\nAnd so, my fellow Americans: a human wrote this.\n")
    human_bytes, gone_bytes = human.read_bytes(), gone.read_bytes()
    report = tmp_path / "report.json"

    result = run_cli(str(site), "--cache-dir", str(tmp_path / "cache"), "--report", str(report))
    assert result.returncode == 1
    data = {Path(p["path"]).name: p for p in json.loads(report.read_text())["pages"]}
    assert data["01-good.md"]["status"] == "done"
    assert data["03-good.md"]["status"] == "done"
    assert data["02-gone.md"]["status"] == "failed"
    assert gone_url in data["02-gone.md"]["error"] and "404" in data["02-gone.md"]["error"]
    assert data["04-human.md"]["status"] == "skipped"
    assert human.read_bytes() == human_bytes
    assert gone.read_bytes() == gone_bytes
    assert "ask not what your country can do for you" in spoken_text(pages.read_transcript(good1)).lower()
    # no chapters: a chapter proposed from the talk, titled with its words (50 s: one)
    (heading,) = re.findall(r"^### (.+)$", pages.read_transcript(good2), flags=re.M)
    assert re.fullmatch(r"[A-Z][\w ]+ \(00:00\)", heading), heading


def test_dry_run_and_status_touch_nothing(tmp_path, media):
    server, _ = media
    page = make_page(tmp_path / "page.md", server.url("jfk.flac"), ["00:00 Start"])
    before = page.read_bytes()
    result = run_cli(str(page), "--dry-run", "--json", "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [p["status"] for p in data["pages"]] == ["planned"]
    status = subprocess.run(
        [sys.executable, "-m", "pipeline", "status", "--json", str(page), "--cache-dir", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)
    assert rows[0]["action"] == "transcribe"
    assert rows[0]["videos"][0] | {"url": None, "key": None} == {
        "url": None,
        "key": None,
        "media": False,
        "audio": False,
        "transcript": False,
    }
    assert page.read_bytes() == before
    assert server.hits.get("/jfk.flac", 0) == 0


def test_a_bad_option_fails_once_with_a_clear_message(tmp_path, media):
    server, _ = media
    page = make_page(tmp_path / "page.md", server.url("jfk.flac"), ["00:00 Start"])
    result = run_cli(str(page), "--rate-limit", "fast", "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 2
    assert "config error" in result.stderr and "Traceback" not in result.stderr
    assert server.hits.get("/jfk.flac", 0) == 0


TALK = Path(__file__).resolve().parent / "fixtures" / "talks" / "five-chapters"


def test_unseen_multi_speaker_talk_lands_in_its_chapters_at_bare_whisper_accuracy(tmp_path):
    """Three voices, five chapters whose page times are off by up to 4 s (see truth.json)."""
    from pipeline.config import load_config

    import evalkit

    truth = evalkit.load_truth(TALK / "truth.json")
    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copy(TALK / "audio.ogg", folder / "talk.ogg")
    with MediaServer(folder) as server:
        page = tmp_path / "16-hugo-james-dask.md"
        page.write_text((TALK / "page.md").read_text().replace("{VIDEO_URL}", server.url("talk.ogg")))
        before = page.read_bytes()
        result = run_cli(str(page), "--cache-dir", str(tmp_path / "cache"))
        assert result.returncode == 0, result.stderr
        written = page.read_bytes()
        again = run_cli(str(page), "--cache-dir", str(tmp_path / "cache"))
        assert again.returncode == 0 and page.read_bytes() == written

    # every byte outside the Transcript section is as it was
    assert before.endswith(b"## Transcript\n") and written.startswith(before)
    score = evalkit.score_draft(truth, pages.read_transcript(page))
    assert score.chapters.share >= 0.995, score.to_json()
    assert all(e is not None and e <= 1.5 for e in score.chapters.boundary_errors), score.to_json()
    # paragraphs a person can read: none over 250 words, most between 40 and 150
    assert score.paragraphs.max <= 250
    assert 40 <= score.paragraphs.median <= 150, score.to_json()

    settings = evalkit.BareSettings.from_config(load_config())
    bare_text = evalkit.bare_transcribe(evalkit.load_bare_model(settings), folder / "talk.ogg", settings)
    bare = evalkit.word_error_rate(truth.reference_text, bare_text)
    assert score.wer.wer <= bare.wer + 0.005, (score.wer, bare)


def test_one_video_on_two_pages_with_different_context(tmp_path, media):
    """Like 2022/71's two pages: each page's own names bias the model, so each gets its own
    transcription; the second prepares the audio again after the first removed its WAV."""
    server, _ = media
    site = tmp_path / "site"
    site.mkdir()
    first = make_page(site / "71-a.md", server.url("jfk.flac"), ["00:00 Start"], title="Inaugural address")
    second = make_page(site / "71-b.md", server.url("jfk.flac"), ["00:00 Start"], title="Kennedy and the New Frontier")
    report = tmp_path / "report.json"
    result = run_cli(str(site), "--context", "--cache-dir", str(tmp_path / "cache"), "--report", str(report))
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["totals"]["done"] == 2 and data["totals"]["videos_transcribed"] == 2
    assert server.hits["/jfk.flac"] >= 1 and data["totals"]["videos_downloaded"] == 1
    for page in (first, second):
        assert "ask not what your country can do for you" in spoken_text(pages.read_transcript(page)).lower()


def two_jfk_pages(tmp_path: Path, server: MediaServer) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    for name in ("01-a.md", "02-b.md"):
        make_page(site / name, server.url("jfk.flac"), ["00:00 Start"])
    return site


def test_a_model_folder_without_a_model_is_refused_before_any_download(tmp_path, media):
    server, _ = media
    site = two_jfk_pages(tmp_path, server)
    missing = tmp_path / "no-such-model"
    missing.mkdir()  # a folder without model.bin
    result = run_cli(str(site), "--model", str(missing), "--cache-dir", str(tmp_path / "cache"), "--json")
    assert result.returncode == 2
    assert "no model.bin" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert server.hits["/jfk.flac"] == 0


def test_a_model_that_cannot_load_fails_each_page_with_one_clear_line(tmp_path, media):
    server, _ = media
    site = two_jfk_pages(tmp_path, server)
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"not a CTranslate2 model")  # passes the check, fails to load
    result = run_cli(str(site), "--model", str(broken), "--cache-dir", str(tmp_path / "cache"), "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert [p["status"] for p in data["pages"]] == ["failed", "failed"]
    assert all("cannot load model" in p["error"] and "\n" not in p["error"] for p in data["pages"])
    assert "Traceback" not in result.stderr
