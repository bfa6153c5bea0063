"""The batch under stress: killed runs, concurrent runs, selection and rate limiting.

Every run is a real ``python -m pipeline run`` subprocess (real yt-dlp over a
loopback media server, real ffmpeg, the real tiny.en model, real speech). Runs
are killed with SIGKILL (its whole process group, ffmpeg included) at a stage
read from the run's trace ($DU_TRANSCRIPTS_TRACE, see pipeline.hooks.TRACE_ENV),
rerun, and their pages compared with those of one uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import pytest
from pipeline import pages
from pipeline.hooks import TRACE_ENV
from pipeline.runner import RATE_LIMIT_STRIKES

from evalkit.mediaserver import MediaServer
from test_run import EXAMPLE_AUDIO, make_page, run_cli

REPO = Path(__file__).resolve().parent.parent
# name -> chapters of its page; each video's page text is the same in every test,
# so the model sees the same page context and writes the same draft.
TALKS = {
    "jfk.flac": ["00:00 Inauguration"],
    "terminal.ogg": ["00:00 Introduction", "00:14 Intro to Terminal", "00:37 Helpful shortcuts"],
    "jfk.mp3": [],
    "jfk.ogg": [],
    "jfk.m4a": [],
}
POLL = 0.05  # seconds between looks at a running run


# -- helpers -----------------------------------------------------------------------------------


def make_site(folder: Path, server: MediaServer, names: list[str]) -> dict[str, Path]:
    """One page per talk, named ``NN-<talk>.md`` in the given order; returns talk name -> page."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        name: make_page(
            folder / f"{i:02d}-{name.replace('.', '-')}.md",
            server.url(name),
            TALKS.get(name, []),
            title=f"A talk on {name}",
        )
        for i, name in enumerate(names, start=1)
    }


def start_run(*args: str, trace: Path) -> subprocess.Popen:
    """``python -m pipeline run --quiet ARGS`` in its own process group, so a kill takes its children too."""
    log = open(trace.with_suffix(f".{time.monotonic_ns()}.log"), "w")
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run", "--quiet", *args],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, TRACE_ENV: str(trace), "HF_HUB_OFFLINE": "1"},
    )


def rerun(*args: str, trace: Path) -> subprocess.CompletedProcess:
    os.environ[TRACE_ENV] = str(trace)  # run_cli passes os.environ on
    try:
        return run_cli(*args)
    finally:
        del os.environ[TRACE_ENV]


def kill(run: subprocess.Popen) -> None:
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=30)


def wait_for(condition, run: subprocess.Popen, what: str, timeout: float = 180.0):
    """Poll ``condition()`` until it returns something truthy; fail if the run ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if run.poll() is not None:
            pytest.fail(f"the run ended (exit {run.returncode}) before {what}")
        time.sleep(POLL)
    kill(run)
    pytest.fail(f"timed out waiting for {what}")


def read_trace(trace: Path) -> list[dict]:
    if not trace.exists():
        return []
    return [json.loads(line) for line in trace.read_text().splitlines() if line.endswith("}")]


def events(trace: Path, event: str, stage: str) -> list[dict]:
    return [e for e in read_trace(trace) if e["event"] == event and e["stage"] == stage]


def report_of(path: Path) -> tuple[dict[str, dict], dict]:
    """(page file name -> its report entry, totals)."""
    data = json.loads(path.read_text())
    return {Path(p["path"]).name: p for p in data["pages"]}, data["totals"]


def status(*args: str) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "status", "--json", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


class PageWatcher(threading.Thread):
    """Reads pages over and over while a run writes them: each read must be the page untouched
    or holding a complete draft (parsed state, draft hash verified, body as expected)."""

    def __init__(self, pages_by_talk: dict[str, Path], drafts: dict[str, str]):
        super().__init__(daemon=True)
        self.pages, self.drafts = pages_by_talk, drafts
        self.originals = {name: page.read_bytes() for name, page in pages_by_talk.items()}
        self.bad: list[str] = []
        self.reads = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for name, page in self.pages.items():
                data = page.read_bytes()
                self.reads += 1
                if data == self.originals[name]:
                    continue
                parsed = pages.parse_page(data.decode("utf-8"), path=page.name)
                if parsed.state != pages.HAS_DRAFT:  # an unverified draft hash reads as has-transcript
                    self.bad.append(f"{name}: state {parsed.state}")
                elif (
                    data.decode("utf-8").split("\n## Transcript\n", 1)[0]
                    != self.originals[name].decode("utf-8").split("\n## Transcript\n", 1)[0]
                ):
                    self.bad.append(f"{name}: text above the Transcript section changed")
                elif pages.read_transcript(page) not in (None, self.drafts[name]):
                    self.bad.append(f"{name}: a draft other than the uninterrupted run's")
            time.sleep(0.01)

    def stop(self) -> PageWatcher:
        self._halt.set()
        self.join(timeout=10)
        return self


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def talks_dir(tmp_path_factory, speech_media, jfk_flac) -> Path:
    folder = tmp_path_factory.mktemp("talks")
    shutil.copy(jfk_flac, folder / "jfk.flac")
    shutil.copy(EXAMPLE_AUDIO, folder / "terminal.ogg")
    for name in ("jfk.mp3", "jfk.ogg", "jfk.m4a"):
        shutil.copy(speech_media / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def server(talks_dir):
    # One server for the module: its port is in every URL, and so in every cache key.
    with MediaServer(talks_dir) as s:
        yield s


@pytest.fixture
def media(server):
    """The module's server with fresh hit counters, no throttle and no cuts."""
    server.hits.clear()
    server.range_requests.clear()
    server.throttle_bytes_per_s = None
    server.clear_cuts()
    yield server
    server.throttle_bytes_per_s = None


@pytest.fixture(scope="module")
def reference(tmp_path_factory, server) -> dict:
    """One uninterrupted run over every talk: its drafts (talk -> body) and its warm cache."""
    root = tmp_path_factory.mktemp("reference")
    site = make_site(root / "site", server, list(TALKS))
    result = run_cli(str(root / "site"), "--cache-dir", str(root / "cache"), "--report", str(root / "report.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    drafts = {name: pages.read_transcript(page) for name, page in site.items()}
    assert all(drafts.values())
    assert "ask not what your country can do for you" in drafts["jfk.flac"].lower()
    return {"drafts": drafts, "cache": root / "cache"}


# -- killed runs -------------------------------------------------------------------------------


def test_a_run_killed_mid_download_resumes_the_partial_file_and_never_uses_it_as_is(
    tmp_path, media, reference, talks_dir
):
    site = make_site(tmp_path / "site", media, ["jfk.flac"])
    page, cache, trace = site["jfk.flac"], tmp_path / "cache", tmp_path / "trace.jsonl"
    source = (talks_dir / "jfk.flac").read_bytes()
    media.throttle_bytes_per_s = 100_000  # 1.15 MB: about 11 s

    run = start_run(str(tmp_path / "site"), "--cache-dir", str(cache), trace=trace)
    part = wait_for(
        lambda: next((p for p in cache.glob("media/*/*.part") if p.stat().st_size > 64_000), None),
        run,
        "a partial download",
    )
    kill(run)
    kept = part.stat().st_size
    assert 0 < kept < len(source)
    assert not list(cache.glob("media/*/download.json")), "a record vouches for an unfinished download"
    assert not list(cache.glob("audio/*.wav")) and not list(cache.glob("transcripts/*/*.json"))
    assert pages.read_page(page).state == pages.NEEDS_TRANSCRIPT

    media.throttle_bytes_per_s = None
    result = rerun(str(tmp_path / "site"), "--cache-dir", str(cache), "--report", str(tmp_path / "r.json"), trace=trace)
    assert result.returncode == 0, result.stdout + result.stderr
    # Resumed where the killed run stopped (HTTP Range), and the result is the source, byte for byte.
    resumed_from = [
        int(r.split("=")[1].split("-")[0]) for r in media.range_requests["/jfk.flac"] if r.split("=")[1].split("-")[0]
    ]
    assert resumed_from and min(resumed_from) > 0, media.range_requests
    [record] = cache.glob("media/*/download.json")
    downloaded = record.parent / json.loads(record.read_text())["file"]
    assert downloaded.read_bytes() == source
    assert not list(cache.glob("media/*/*.part"))
    data, totals = report_of(tmp_path / "r.json")
    assert data[page.name]["status"] == "done" and totals["videos_downloaded"] == 1
    # the audio transcribed was the whole 11 s (its WAV is removed once the transcription is cached)
    assert abs(data[page.name]["audio_seconds"] - 11.0) < 0.1
    assert not list(cache.glob("audio/*.wav"))
    assert pages.read_transcript(page) == reference["drafts"]["jfk.flac"]


def test_a_run_killed_mid_transcription_downloads_nothing_again_and_transcribes_once(tmp_path, media, reference):
    site = make_site(tmp_path / "site", media, ["terminal.ogg"])
    page, cache, trace = site["terminal.ogg"], tmp_path / "cache", tmp_path / "trace.jsonl"

    run = start_run(str(tmp_path / "site"), "--cache-dir", str(cache), trace=trace)
    # The model is loaded once the first transcription starts; 50 s of speech takes it seconds more.
    wait_for(lambda: events(trace, "end", "load-model"), run, "the model to start transcribing")
    kill(run)
    assert events(trace, "start", "transcribe") and not events(trace, "end", "transcribe")
    assert not list(cache.glob("transcripts/*/*.json")), "the killed transcription left a cache entry"
    assert pages.read_page(page).state == pages.NEEDS_TRANSCRIPT
    media_hits = media.hits["/terminal.ogg"]
    assert media_hits >= 1
    [row] = status(str(tmp_path / "site"), "--cache-dir", str(cache))
    assert row["action"] == "transcribe"
    assert [(v["media"], v["audio"], v["transcript"]) for v in row["videos"]] == [(True, True, False)]

    result = rerun(str(tmp_path / "site"), "--cache-dir", str(cache), "--report", str(tmp_path / "r.json"), trace=trace)
    assert result.returncode == 0, result.stdout + result.stderr
    assert media.hits["/terminal.ogg"] == media_hits, "the finished download was fetched again"
    data, totals = report_of(tmp_path / "r.json")
    assert data[page.name]["status"] == "done"
    assert totals["videos_downloaded"] == 0 and totals["videos_transcribed"] == 1
    assert len(events(trace, "end", "transcribe")) == 1
    assert [e["prepared"] for e in events(trace, "end", "prepare")] == [True, False]  # the WAV was reused
    assert pages.read_transcript(page) == reference["drafts"]["terminal.ogg"]
    [row] = status(str(tmp_path / "site"), "--cache-dir", str(cache))
    assert row["state"] == pages.HAS_DRAFT and row["action"].startswith("skip")
    # the WAV went once its transcription was cached; the media stays for another model
    assert [(v["media"], v["audio"], v["transcript"]) for v in row["videos"]] == [(True, False, True)]


def test_a_run_killed_after_writing_a_page_redoes_nothing_and_no_page_is_ever_half_written(tmp_path, media, reference):
    names = ["jfk.flac", "jfk.mp3", "jfk.ogg"]
    site = make_site(tmp_path / "site", media, names)
    cache, trace = tmp_path / "cache", tmp_path / "trace.jsonl"
    watcher = PageWatcher(site, reference["drafts"])
    watcher.start()

    run = start_run(str(tmp_path / "site"), "--cache-dir", str(cache), "--downloads-ahead", "2", trace=trace)
    wait_for(lambda: events(trace, "end", "write"), run, "the first page to be written")
    kill(run)
    written = {e["page"] for e in events(trace, "end", "write")}
    transcribed_before = len(events(trace, "end", "transcribe"))
    written_bytes = {n: p.read_bytes() for n, p in site.items() if p.name in written}
    assert written and len(written) < len(names)
    transcribed_pages = {e["page"] for e in events(trace, "end", "transcribe")}
    for row in status(str(tmp_path / "site"), "--cache-dir", str(cache)):
        expected = "skip" if row["path"] in written else "write" if row["path"] in transcribed_pages else "transcribe"
        assert row["action"].startswith(expected), row

    result = rerun(str(tmp_path / "site"), "--cache-dir", str(cache), "--report", str(tmp_path / "r.json"), trace=trace)
    assert result.returncode == 0, result.stdout + result.stderr
    watcher.stop()
    assert watcher.bad == [] and watcher.reads > 100
    data, totals = report_of(tmp_path / "r.json")
    for name, page in site.items():
        if page.name in written:
            assert data[page.name]["status"] == "skipped"
            assert page.read_bytes() == written_bytes[name], "a finished page was written again"
        else:
            assert data[page.name]["status"] == "done"
        assert pages.read_transcript(page) == reference["drafts"][name]
    # Every video went through the model exactly once over both runs.
    assert totals["videos_transcribed"] == len(names) - transcribed_before
    ends = events(trace, "end", "transcribe")
    assert len(ends) == len(names) and len({e["key"] for e in ends}) == len(names)


def test_two_runs_on_one_folder_transcribe_each_video_once(tmp_path, media, reference):
    names = ["jfk.flac", "jfk.m4a"]
    site = make_site(tmp_path / "site", media, names)
    cache, trace = tmp_path / "cache", tmp_path / "trace.jsonl"
    watcher = PageWatcher(site, reference["drafts"])
    watcher.start()

    runs = [
        start_run(
            str(tmp_path / "site"), "--cache-dir", str(cache), "--report", str(tmp_path / f"r{i}.json"), trace=trace
        )
        for i in (1, 2)
    ]
    for run in runs:
        assert run.wait(timeout=300) == 0
    watcher.stop()
    assert watcher.bad == []
    reports = [report_of(tmp_path / f"r{i}.json") for i in (1, 2)]
    for name, page in site.items():
        assert sorted(r[0][page.name]["status"] for r in reports) == ["done", "skipped"]
        assert pages.read_transcript(page) == reference["drafts"][name]
    assert sum(r[1]["videos_transcribed"] for r in reports) == len(names)
    assert sum(r[1]["videos_downloaded"] for r in reports) == len(names)
    ends = events(trace, "end", "transcribe")
    assert sorted(e["key"] for e in ends) == sorted({e["key"] for e in ends}) and len(ends) == len(names)
    assert len({e["pid"] for e in read_trace(trace)}) == 2  # both runs really ran


# -- selection -------------------------------------------------------------------------------


def test_limit_and_shards_split_the_backlog_exactly_and_dry_run_touches_nothing(tmp_path, media):
    names = [f"talk-{i}.flac" for i in range(10)]
    site = make_site(tmp_path / "site", media, names)
    human = site[names[3]]
    human.write_text(human.read_text() + "\nAnd so, my fellow Americans: a human wrote this.\n")
    before = {p: p.read_bytes() for p in site.values()}
    cache = tmp_path / "cache"

    def planned(*args: str) -> list[str]:
        result = run_cli(str(tmp_path / "site"), "--dry-run", "--json", "--cache-dir", str(cache), *args)
        assert result.returncode == 0, result.stderr
        return [p["path"] for p in json.loads(result.stdout)["pages"] if p["status"] == "planned"]

    everything = planned()
    assert everything == sorted(p.name for p in site.values() if p != human)
    assert planned("--limit", "3") == everything[:3]
    first, second = planned("--shard", "1/2"), planned("--shard", "2/2")
    assert sorted(first + second) == everything and not set(first) & set(second)
    assert first and second  # ten pages: both halves hold some
    thirds = [planned("--shard", f"{i}/3") for i in (1, 2, 3)]
    assert sorted(sum(thirds, [])) == everything
    assert planned("--shard", "1/2", "--limit", "1") == first[:1]
    # Nothing fetched, nothing written, nothing cached.
    assert sum(media.hits.values()) == 0
    assert {p: p.read_bytes() for p in site.values()} == before
    assert not [f for f in cache.rglob("*") if f.is_file()]


def test_force_redoes_the_tools_draft_but_never_a_human_edited_one(tmp_path, media, reference):
    site = make_site(tmp_path / "site", media, ["jfk.flac", "jfk.mp3"])
    drafted, edited = site["jfk.flac"], site["jfk.mp3"]
    for page in (drafted, edited):
        pages.write_transcript(page, "An older draft of this talk.\n", model="tiny.en", date="2020-01-01")
    edited.write_text(edited.read_text().replace("An older draft", "A human's corrected draft"))
    assert pages.read_page(edited).state == pages.HAS_TRANSCRIPT
    edited_bytes, drafted_bytes = edited.read_bytes(), drafted.read_bytes()
    cache = tmp_path / "cache"
    shutil.copytree(reference["cache"], cache)  # the transcriptions are done: only writing is tested

    plain = run_cli(str(tmp_path / "site"), "--cache-dir", str(cache), "--report", str(tmp_path / "plain.json"))
    assert plain.returncode == 0, plain.stderr
    assert drafted.read_bytes() == drafted_bytes  # without --force a draft stays
    data, _ = report_of(tmp_path / "plain.json")
    assert "--force" in data[drafted.name]["reason"]

    forced = run_cli(str(tmp_path / "site"), "--force", "--cache-dir", str(cache), "--report", str(tmp_path / "f.json"))
    assert forced.returncode == 0, forced.stderr
    data, totals = report_of(tmp_path / "f.json")
    assert data[drafted.name]["status"] == "done"
    assert pages.read_transcript(drafted) == reference["drafts"]["jfk.flac"]
    assert data[edited.name]["status"] == "skipped" and "human" in data[edited.name]["reason"]
    assert edited.read_bytes() == edited_bytes
    assert totals["model_loaded"] is False and sum(media.hits.values()) == 0


# -- rate limiting -----------------------------------------------------------------------------


def test_rate_limited_downloads_are_reported_with_the_hint_and_stop_after_the_strikes(tmp_path, media):
    limited = media.url("status/429")
    site = tmp_path / "site"
    site.mkdir()
    order = ["429", "jfk.flac"] + ["429"] * (RATE_LIMIT_STRIKES + 1) + ["jfk.mp3"]
    made = []
    for i, what in enumerate(order, start=1):
        # query strings keep the URLs (and so the cache keys) apart; the server ignores them
        url = f"{limited}?page={i}" if what == "429" else media.url(what)
        made.append(make_page(site / f"{i:02d}-{what.replace('.', '-')}.md", url, [], title=f"Talk {i}"))
    report = tmp_path / "r.json"

    # One fetch at a time, no retries: the order of the strikes is the page order.
    result = run_cli(
        str(site),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--report",
        str(report),
        "--downloads-ahead",
        "1",
        "--retries",
        "0",
    )
    assert result.returncode == 1
    data, totals = report_of(report)
    statuses = [data[p.name]["status"] for p in made]
    assert statuses == ["failed", "done"] + ["failed"] * (RATE_LIMIT_STRIKES + 2)
    attempted = [data[p.name]["error"] for p in made[2 : 2 + RATE_LIMIT_STRIKES]] + [data[made[0].name]["error"]]
    for error in attempted:
        assert "rate limited" in error and "--sleep-requests" in error and "--cookies" in error
    for page in made[2 + RATE_LIMIT_STRIKES :]:
        assert "not attempted" in data[page.name]["error"] and "--cookies" in data[page.name]["error"]
    # The site was asked once per attempted page, never for the pages after the strikes.
    assert media.hits["/status/429"] == 1 + RATE_LIMIT_STRIKES
    assert media.hits["/jfk.mp3"] == 0
    assert totals["done"] == 1
