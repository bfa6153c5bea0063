"""The batch: every page that needs a transcript, through every stage, resumably.

``run_batch`` is the library entry point behind ``python -m pipeline run``:

- pages are selected (state, ``--force``, ``--shard``, ``--limit``), then for each
  of their videos the audio is fetched (download + prepare) in background
  threads, a bounded number of videos ahead of the one being transcribed, so
  the model never waits on the network;
- the model is loaded once, and only if some video is not transcribed yet;
- every stage's result is cached atomically and guarded by a file lock, so a
  killed run redoes nothing that finished and two runs never do the same work;
- a failing page is reported and skipped; the batch goes on.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from . import align as align_stage
from . import audio as audio_stage
from . import context as context_stage
from . import download as download_stage
from . import export as export_stage
from . import flags as flags_stage
from . import glossary as glossary_stage
from . import pages as pages_mod
from . import render as render_stage
from . import transcribe as transcribe_stage
from .cache import Cache
from .config import Config, ConfigError

STAGES = ("download", "prepare", "transcribe", "align", "write")

# Set to a file name, every stage's start and end is appended there as a JSON line
# ({"t", "pid", "event", "stage", "page", "key", ...}): how the tests see where a run is
# (to kill it mid-stage) and count model calls across runs, and how the batch benchmark
# measures overlap. Unset (the default), nothing is written.
TRACE_ENV = "DU_TRANSCRIPTS_TRACE"

# After this many rate-limited downloads in a row the batch stops asking the
# site for more: hammering only lengthens the ban.
RATE_LIMIT_STRIKES = 3


@dataclass(frozen=True)
class Selection:
    force: bool = False  # also redo this tool's own unedited drafts
    limit: int | None = None  # at most this many pages
    shard: tuple[int, int] | None = None  # (i, n): only pages whose hash falls in shard i of n (1-based)
    dry_run: bool = False


@dataclass
class VideoOutcome:
    url: str
    key: str | None = None
    audio_seconds: float = 0.0
    downloaded: bool = False  # False when the media came from the cache (or a local file)
    transcribed: bool = False  # False when the transcription came from the cache
    exports: list[str] = field(default_factory=list)  # subtitle / word JSON files written (--export)


@dataclass
class PageOutcome:
    path: str
    state: str  # the page's state before the run
    status: str  # done | skipped | failed | planned (dry run)
    reason: str | None = None  # why skipped or failed, one line
    warnings: list[str] = field(default_factory=list)
    videos: list[VideoOutcome] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGES})
    flags: int = 0

    @property
    def audio_seconds(self) -> float:
        return sum(v.audio_seconds for v in self.videos)

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())

    def to_json(self) -> dict:
        data = asdict(self)
        data["error"] = self.reason if self.status == "failed" else None
        data["audio_seconds"] = round(self.audio_seconds, 3)
        data["timings"] = {k: round(v, 3) for k, v in self.timings.items()}
        return data


@dataclass
class RunReport:
    pages: list[PageOutcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    model: str | None = None
    model_loaded: bool = False
    executor: dict = field(default_factory=dict)  # executor hook (issue 13): the Ray pool's figures, if any

    def count(self, status: str) -> int:
        return sum(p.status == status for p in self.pages)

    @property
    def failed(self) -> bool:
        return self.count("failed") > 0

    def totals(self) -> dict:
        return {
            "pages": len(self.pages),
            "done": self.count("done"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "planned": self.count("planned"),
            "audio_seconds": round(sum(p.audio_seconds for p in self.pages), 3),
            "wall_seconds": round(self.wall_seconds, 3),
            "videos_downloaded": sum(v.downloaded for p in self.pages for v in p.videos),
            "videos_transcribed": sum(v.transcribed for p in self.pages for v in p.videos),
            "model": self.model,
            "model_loaded": self.model_loaded,
        }

    def to_json(self) -> dict:
        data = {"pages": [p.to_json() for p in self.pages], "totals": self.totals()}
        if self.executor:  # executor hook (issue 13)
            data["executor"] = self.executor
        return data


class Observer(Protocol):
    """What a progress display is told. Every method may be called from worker threads."""

    def batch_started(self, pages: list[pages_mod.Page]) -> None: ...
    def stage(self, page: pages_mod.Page, stage: str, detail: str = "") -> None: ...
    def transfer(self, key: str, stage: str, done: float, total: float | None) -> None: ...
    def page_finished(self, outcome: PageOutcome) -> None: ...


class NullObserver:
    def batch_started(self, pages):
        pass

    def stage(self, page, stage, detail=""):
        pass

    def transfer(self, key, stage, done, total):
        pass

    def page_finished(self, outcome):
        pass


def select_pages(
    found: Iterable[pages_mod.Page], selection: Selection
) -> tuple[list[pages_mod.Page], list[PageOutcome]]:
    """Split pages into those to transcribe and the skipped ones (with the reason)."""
    todo: list[pages_mod.Page] = []
    skipped: list[PageOutcome] = []
    for page in found:
        reason = _skip_reason(page, selection)
        if reason is None and selection.shard and not in_shard(page.path, *selection.shard):
            continue  # another machine's page: not ours to report
        if reason is None and selection.limit is not None and len(todo) >= selection.limit:
            reason = f"beyond --limit {selection.limit}"
        if reason is None:
            todo.append(page)
        else:
            skipped.append(
                PageOutcome(
                    path=page.path, state=page.state, status="skipped", reason=reason, warnings=list(page.warnings)
                )
            )
    return todo, skipped


def in_shard(page_path: str, index: int, count: int) -> bool:
    """Deterministic split of a backlog across ``count`` machines; ``index`` is 1-based.

    Hashing the page's path (not its position) keeps each page on the same shard
    when pages are added or removed.
    """
    digest = int(hashlib.sha256(page_path.replace("\\", "/").encode()).hexdigest(), 16)
    return digest % count == index - 1


def _skip_reason(page: pages_mod.Page, selection: Selection) -> str | None:
    if page.state == pages_mod.NEEDS_TRANSCRIPT:
        return None
    if page.state == pages_mod.HAS_DRAFT:
        return None if selection.force else "has this tool's draft (use --force to redo it)"
    return {
        pages_mod.HAS_TRANSCRIPT: "has a human transcript",
        pages_mod.NO_TRANSCRIPT_SECTION: "no '## Transcript' section",
        pages_mod.NO_VIDEO: "no video link",
        pages_mod.NOT_AN_EVENT: "not an event page",
    }.get(page.state, f"state {page.state}")


class _Trace:
    """Appends stage events to the file named by $DU_TRANSCRIPTS_TRACE (see TRACE_ENV)."""

    def __init__(self, path: str | None):
        self.path = path or None
        self._lock = threading.Lock()

    def __call__(
        self, event: str, stage: str, page: pages_mod.Page | None = None, key: str | None = None, **fields
    ) -> None:
        if self.path is None:
            return
        record = {
            "t": time.time(),
            "pid": os.getpid(),
            "event": event,
            "stage": stage,
            "page": page.path if page is not None else None,
            "key": key,
            **fields,
        }
        # One short write per line in append mode: lines from concurrent runs never interleave.
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


@dataclass
class _Fetched:
    """A video's audio, ready for the model (or its cached transcription)."""

    video: pages_mod.Video
    outcome: VideoOutcome
    transcript_path: Path
    context: context_stage.PromptContext = context_stage.PromptContext()
    cached: transcribe_stage.Transcription | None = None  # found in the cache when fetching
    audio_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None


class Runner:
    """One batch run: holds the model (loaded at most once) and the cache."""

    def __init__(self, config: Config, cache: Cache, *, observer: Observer | None = None):
        self.config = config
        self.cache = cache
        self.observer = observer or NullObserver()
        self._model = None
        self._model_error: Exception | None = None
        self._model_lock = threading.Lock()
        self._rate_limit_strikes = 0  # consecutive rate-limited downloads, shared by the fetch threads
        self._strikes_lock = threading.Lock()
        self.date = _dt.date.today().isoformat()
        try:
            self.glossary = glossary_stage.load_glossary(config.run.glossary or None)
        except (OSError, ValueError) as e:
            raise ConfigError(f"glossary: {_one_line(e)}") from None
        unknown = set(config.run.export) - set(export_stage.FORMATS)
        if unknown:
            raise ConfigError(
                f"--export: unknown format(s) {', '.join(sorted(unknown))} (known: {', '.join(export_stage.FORMATS)})"
            )
        self._tokenizer = _model_tokenizer(config.model.name)
        self._trace = _Trace(os.environ.get(TRACE_ENV))

    def prompt(self, page: pages_mod.Page) -> context_stage.PromptContext:
        """The page's names and terms for the model (empty when switched off)."""
        return context_stage.prompt_for(page, self.config.transcribe, self._tokenizer, glossary=self.glossary)

    def transcript_path(self, key: str, context: context_stage.PromptContext) -> Path:
        fingerprint = transcribe_stage.transcription_fingerprint(
            self.config.model.name,
            self.config.transcribe,
            initial_prompt=context.initial_prompt,
            hotwords=context.hotwords,
        )
        return self.cache.transcript_path(key, fingerprint)

    # -- the batch -------------------------------------------------------------

    def run(self, paths: Iterable[str | Path], selection: Selection = Selection()) -> RunReport:
        started = time.perf_counter()
        if self.config.run.executor not in ("local", "ray"):  # executor hook (issue 13)
            raise ConfigError(f"--executor: unknown executor {self.config.run.executor!r} (use local or ray)")
        if self.config.run.executor == "ray" and not selection.dry_run:
            from .ray_executor import import_ray

            import_ray()  # without the extra: one line, before any page is scanned or fetched
        report = RunReport(model=self.config.model.name)
        found: list[pages_mod.Page] = []
        for item in pages_mod.scan(paths):
            if isinstance(item, pages_mod.PageError):
                report.pages.append(
                    PageOutcome(path=item.path, state="unreadable", status="failed", reason=item.reason)
                )
            else:
                found.append(item)
        todo, skipped = select_pages(found, selection)
        report.pages.extend(skipped)
        if selection.dry_run:
            report.pages.extend(
                PageOutcome(
                    path=p.path,
                    state=p.state,
                    status="planned",
                    warnings=list(p.warnings),
                    videos=[VideoOutcome(url=v.url) for v in p.videos],
                )
                for p in todo
            )
            report.wall_seconds = time.perf_counter() - started
            return report

        if todo:
            download_stage.check_options(self.config.download)  # a bad --cookies fails once, not per video
        self.observer.batch_started(todo)
        if self.config.run.executor == "ray":  # executor hook (issue 13): the model's work on a Ray actor pool
            from .ray_executor import process_on_ray

            report.pages.extend(process_on_ray(self, todo, report.executor))
        else:
            report.pages.extend(self._process(todo))  # the observer hears of each page as it finishes
        report.model_loaded = self._model is not None
        report.wall_seconds = time.perf_counter() - started
        return report

    def _process(self, todo: list[pages_mod.Page]):
        """Yield one outcome per page, transcribing in page order while later videos download."""
        ahead = max(1, self.config.run.downloads_ahead)
        jobs = [(page, video) for page in todo for video in page.videos]
        with (
            ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="fetch") as fetchers,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="write") as writer,
        ):
            pending: deque[Future] = deque()
            submitted = 0

            def top_up(consumed: int) -> None:
                # Keep at most `ahead` videos fetched or fetching beyond the one in the model.
                nonlocal submitted
                while submitted < len(jobs) and submitted < consumed + ahead + 1:
                    page, video = jobs[submitted]
                    pending.append(fetchers.submit(self._fetch, page, video))
                    submitted += 1

            consumed = 0
            writes: deque[Future] = deque()
            for page in todo:
                outcome = PageOutcome(path=page.path, state=page.state, status="done", warnings=list(page.warnings))
                parts = []
                for video in page.videos:
                    top_up(consumed)
                    fetched: _Fetched = pending.popleft().result()
                    consumed += 1
                    outcome.videos.append(fetched.outcome)
                    for stage, seconds in fetched.timings.items():
                        outcome.timings[stage] += seconds
                    if outcome.status == "failed":
                        continue  # an earlier video of this page failed: nothing will be written
                    if fetched.error:
                        outcome.status, outcome.reason = "failed", fetched.error
                        continue
                    try:
                        transcription = self._transcribe(page, fetched, outcome)
                    except Exception as e:  # one bad video never stops the batch
                        outcome.status, outcome.reason = "failed", f"transcribe: {_one_line(e)}"
                        continue
                    parts.append((video, transcription))
                top_up(consumed)
                if outcome.status == "failed":
                    self.observer.page_finished(outcome)
                    yield outcome
                    continue
                # Align, render and write in their own thread so the model goes on.
                writes.append(writer.submit(self._finish_page, page, parts, outcome))
                while writes and writes[0].done():
                    yield writes.popleft().result()
            while writes:
                yield writes.popleft().result()

    def process_cached(self, todo: list[pages_mod.Page]):
        """Executor hook (issue 13): align and write pages whose transcriptions another executor
        has put in the cache (the model is not loaded for them)."""
        return self._process(todo)

    # -- stages ------------------------------------------------------------------

    def _fetch(self, page: pages_mod.Page, video: pages_mod.Video) -> _Fetched:
        """Download and prepare one video, unless its transcription is already cached."""
        outcome = VideoOutcome(url=video.url)
        try:
            key = download_stage.media_key(media_location(page, video))
        except Exception as e:
            return _Fetched(video, outcome, Path(), error=f"download: {_one_line(e)}")
        outcome.key = key
        context = self.prompt(page)
        fetched = _Fetched(video, outcome, self.transcript_path(key, context), context=context)
        fetched.cached = transcribe_stage.read_cached(fetched.transcript_path)
        if fetched.cached is not None:
            return fetched  # nothing to fetch: the model's work is already done
        return self._fetch_audio(page, fetched)

    def _fetch_audio(self, page: pages_mod.Page, fetched: _Fetched) -> _Fetched:
        """Download (or find in the cache) and prepare a video's audio; errors go to ``fetched.error``."""
        video, outcome, key = fetched.video, fetched.outcome, fetched.outcome.key
        if self._rate_limit_strikes >= RATE_LIMIT_STRIKES:
            fetched.error = (
                "download: not attempted: the site rate-limited this batch "
                f"{RATE_LIMIT_STRIKES} times; rerun later with --sleep-requests/--sleep-interval or --cookies"
            )
            return fetched
        try:
            with self.cache.lock(f"fetch-{key}"):
                self.observer.stage(page, "download", video.url)
                self._trace("start", "download", page, key)
                t0 = time.perf_counter()
                media = download_stage.download(
                    media_location(page, video),
                    self.cache.root,
                    self.config.download,
                    progress=lambda done, total: self.observer.transfer(key, "download", done, total),
                )
                fetched.timings["download"] = time.perf_counter() - t0
                outcome.downloaded = not media.from_cache
                self._trace("end", "download", page, key, fetched=outcome.downloaded)
                with self._strikes_lock:
                    self._rate_limit_strikes = 0
                self.observer.stage(page, "prepare", video.url)
                self._trace("start", "prepare", page, key)
                t0 = time.perf_counter()
                try:
                    prepared = audio_stage.prepare(media.path, self.cache.audio_path(key))
                except audio_stage.AudioError:
                    download_stage.remove_cached(media)  # a corrupt download must not be reused next run
                    raise
                fetched.timings["prepare"] = time.perf_counter() - t0
                self._trace(
                    "end", "prepare", page, key, audio_seconds=prepared.duration, prepared=not prepared.from_cache
                )
                self.observer.stage(page, "fetched", video.url)  # ready, waiting for the model
            fetched.audio_path = prepared.path
            outcome.audio_seconds = prepared.duration
        except download_stage.RateLimitedError as e:
            with self._strikes_lock:
                self._rate_limit_strikes += 1
            fetched.error = f"download: {_one_line(e)}"
        except download_stage.DownloadError as e:
            fetched.error = f"download: {_one_line(e)}"
        except audio_stage.AudioError as e:
            fetched.error = f"prepare: {_one_line(e)}"
        except Exception as e:
            fetched.error = f"fetch: {type(e).__name__}: {_one_line(e)}"
        return fetched

    def _transcribe(self, page: pages_mod.Page, fetched: _Fetched, outcome: PageOutcome):
        key = fetched.outcome.key
        with self.cache.lock(f"transcribe-{key}"):
            # Another run may have finished this video while we waited for the lock.
            cached = fetched.cached or transcribe_stage.read_cached(fetched.transcript_path)
            if cached is None:
                if fetched.audio_path is None or not fetched.audio_path.is_file():
                    # Fetched ahead as cached, or its WAV since removed (keep_audio): prepare it again.
                    self._fetch_audio(page, fetched)
                    if fetched.error:
                        raise RuntimeError(fetched.error)
                self.observer.stage(page, "transcribe", fetched.video.url)
                self._trace("start", "transcribe", page, key)
                # The model reports progress only as each window ends: tell the display the length now.
                self.observer.transfer(key, "transcribe", 0.0, fetched.outcome.audio_seconds or None)
                t0 = time.perf_counter()
                cached = transcribe_stage.transcribe(
                    self.model,
                    fetched.audio_path,
                    self.config.transcribe,
                    cache_path=fetched.transcript_path,
                    initial_prompt=fetched.context.initial_prompt,
                    hotwords=fetched.context.hotwords,
                    progress=lambda done, total: self.observer.transfer(key, "transcribe", done, total),
                )
                outcome.timings["transcribe"] += time.perf_counter() - t0
                fetched.outcome.transcribed = True
                self._trace("end", "transcribe", page, key, audio_seconds=cached.audio_duration)
                if not self.config.run.keep_audio:
                    # The transcription is cached and the media kept: the WAV (115 MB per audio
                    # hour) can go, so the cache grows with downloads only.
                    with self.cache.lock(f"fetch-{key}"):
                        fetched.audio_path.unlink(missing_ok=True)
        fetched.outcome.audio_seconds = cached.audio_duration
        if self.config.run.export:
            stem = Path(page.path).stem
            written = export_stage.write_exports(cached, self.cache.export_dir(key), stem, self.config.run.export)
            fetched.outcome.exports = [str(p) for p in written]
        # The cache keeps the model's own words; spelling fixes apply on every use.
        return glossary_stage.apply_to_transcription(cached, self.glossary)

    def _finish_page(self, page: pages_mod.Page, parts, outcome: PageOutcome) -> PageOutcome:
        # Told here, in the writer thread, not when _process yields it: that waits
        # for the next video's transcription, and the display would lag by as much.
        try:
            return self._align_and_write(page, parts, outcome)
        finally:
            self.observer.page_finished(outcome)

    def _align_and_write(self, page: pages_mod.Page, parts, outcome: PageOutcome) -> PageOutcome:
        try:
            self.observer.stage(page, "align")
            t0 = time.perf_counter()
            rendered_parts = []
            for video, transcription in parts:
                alignment = align_stage.align(transcription, video.chapters, self.config.align)
                outcome.warnings.extend(alignment.warnings)
                flags = flags_stage.flag_segments(transcription.segments, self.config.flags)
                outcome.flags += len(flags)
                rendered_parts.append((video.url, video.label, alignment, flags))
            body = render_stage.render_transcript(rendered_parts, model=self.config.model.name, date=self.date)
            outcome.timings["align"] += time.perf_counter() - t0
            self.observer.stage(page, "write")
            t0 = time.perf_counter()
            with self.cache.page_lock(page.source):
                # Re-read under the lock: another run or a human may have written it since the scan.
                current = pages_mod.read_page(page.source)
                if current.state == pages_mod.HAS_DRAFT and page.state != pages_mod.HAS_DRAFT:
                    outcome.status, outcome.reason = "skipped", "another run wrote its draft meanwhile"
                    return outcome
                if current.state not in (pages_mod.NEEDS_TRANSCRIPT, pages_mod.HAS_DRAFT):
                    outcome.status, outcome.reason = "skipped", f"page changed meanwhile (now {current.state})"
                    return outcome
                self._trace("start", "write", page)
                pages_mod.write_transcript(
                    page.source,
                    body,
                    model=self.config.model.name,
                    date=self.date,
                    replace_draft=current.state == pages_mod.HAS_DRAFT,
                )
                self._trace("end", "write", page)
            outcome.timings["write"] += time.perf_counter() - t0
        except pages_mod.PageError as e:
            outcome.status, outcome.reason = "failed", f"write: {e.reason}"
        except Exception as e:
            outcome.status, outcome.reason = "failed", f"align/write: {type(e).__name__}: {_one_line(e)}"
        return outcome

    @property
    def model(self):
        with self._model_lock:
            if self._model_error is not None:
                raise self._model_error  # tried once already: no page waits on the hub again
            if self._model is None:
                self._trace("start", "load-model")
                try:
                    self._model = transcribe_stage.load_model(
                        self.config.model, batch_size=self.config.transcribe.batch_size
                    )
                except transcribe_stage.ModelError as e:
                    self._model_error = e
                    raise
                self._trace("end", "load-model")
            return self._model


def _model_tokenizer(model_name: str):
    """The model's tokenizer when its files are on disk (to size the page prompt exactly), else None."""
    try:
        path = Path(transcribe_stage.resolve_model_path(model_name))
        return context_stage.load_tokenizer(path) if (path / "tokenizer.json").is_file() else None
    except Exception:
        return None


def media_location(page: pages_mod.Page, video: pages_mod.Video) -> str:
    """The URL to download, or a local file's path (relative paths are relative to the page)."""
    if "://" in video.url or page.source is None:
        return video.url
    path = Path(video.url).expanduser()
    return str(path if path.is_absolute() else (Path(page.source).parent / path).resolve())


def run_batch(
    paths: Iterable[str | Path],
    config: Config,
    *,
    cache_dir: str | Path | None = None,
    selection: Selection = Selection(),
    observer: Observer | None = None,
) -> RunReport:
    """Transcribe every selected page under ``paths``; see the module docstring."""
    cache = Cache.at(cache_dir if cache_dir is not None else (config.run.cache_dir or None))
    return Runner(config, cache, observer=observer).run(paths, selection)


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def plan(
    paths: Iterable[str | Path],
    config: Config,
    *,
    cache_dir: str | Path | None = None,
    selection: Selection = Selection(),
) -> list[dict]:
    """What a run would do with each page, and what the cache holds for its videos. Runs nothing."""
    cache = Cache.at(cache_dir if cache_dir is not None else (config.run.cache_dir or None))
    runner = Runner(config, cache)
    found, rows = [], []
    for item in pages_mod.scan(paths):
        if isinstance(item, pages_mod.PageError):
            rows.append({"path": item.path, "state": "unreadable", "action": f"skip: {item.reason}", "videos": []})
        else:
            found.append(item)
    todo, skipped = select_pages(found, selection)
    # By identity, not path: pages under two folders given at once can share a relative path.
    chosen = {id(p) for p in todo}
    skips = iter(skipped)  # in the order of `found`, one per page neither chosen nor another shard's
    next_skip = next(skips, None)
    for page in found:
        videos = []
        for video in page.videos:
            try:
                key = download_stage.media_key(media_location(page, video))
            except Exception:
                videos.append({"url": video.url, "key": None, "media": False, "audio": False, "transcript": False})
                continue
            videos.append(
                {
                    "url": video.url,
                    "key": key,
                    "media": download_stage.cached_media(media_location(page, video), cache.root) is not None,
                    "audio": cache.audio_path(key).is_file(),
                    "transcript": transcribe_stage.read_cached(runner.transcript_path(key, runner.prompt(page)))
                    is not None,
                }
            )
        if id(page) in chosen:
            action = "write" if videos and all(v["transcript"] for v in videos) else "transcribe"
        elif next_skip is not None and next_skip.path == page.path:
            action = f"skip: {next_skip.reason}"
            next_skip = next(skips, None)
        else:
            action = "skip: another shard"
        rows.append({"path": page.path, "state": page.state, "action": action, "videos": videos})
    return rows
