"""The batch: every page that needs a transcript, through every stage, resumably.

``run_batch`` is the library entry point behind ``python -m pipeline run``, ``plan``
behind ``status``; both start from the same plan (``plan.plan_pages``). The
``Runner`` only schedules: the work is done by the step functions of ``steps``,
each returning a new record.

- for each selected page's videos the audio is fetched (``steps.fetch_audio``) in
  background threads, a bounded number of videos ahead of the one being
  transcribed, so the model never waits on the network;
- the model is loaded once, and only if some video is not transcribed yet; with
  ``--speakers`` the diarization engine likewise, and each video is diarized right after
  its transcription, in the main thread, while its WAV exists (in sequence: on CPU the
  two compete for the same cores);
- every stage's result is cached atomically and guarded by a file lock, so a
  killed run redoes nothing that finished and two runs never do the same work;
- a failing page is reported and skipped; the batch goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import context as context_stage
from . import download as download_stage
from . import export as export_stage
from . import glossary as glossary_stage
from . import pages as pages_mod
from . import speakers as speakers_stage
from . import steps
from . import transcribe as transcribe_stage
from .cache import Cache
from .config import Config, ConfigError
from .hooks import TRACE_ENV, NullObserver, Observer, StageHooks, Trace
from .plan import OTHER_SHARD, SKIP, TODO, UNREADABLE, PagePlan, Selection, in_shard, plan_pages
from .report import STAGES, PageOutcome, RunReport, VideoOutcome
from .steps import Fetched, VideoJob, media_location, one_line

__all__ = [
    "RATE_LIMIT_STRIKES",
    "STAGES",
    "TRACE_ENV",
    "NullObserver",
    "Observer",
    "PageOutcome",
    "RunReport",
    "Runner",
    "Selection",
    "VideoOutcome",
    "in_shard",
    "media_location",
    "plan",
    "run_batch",
]

# After this many rate-limited downloads in a row the batch stops asking the
# site for more: hammering only lengthens the ban.
RATE_LIMIT_STRIKES = 3


@dataclass(frozen=True)
class _Prefetched:
    """One video as the fetch threads hand it to the model: its job (None when it has no key)."""

    url: str
    job: VideoJob | None
    fetched: Fetched


@dataclass
class _PageParts:
    """A page's videos as the main thread collects them, before its draft is rendered."""

    videos: list[VideoOutcome] = field(default_factory=list)
    transcriptions: list[tuple[pages_mod.Video, transcribe_stage.Transcription]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGES})
    error: str | None = None


class Interrupted(Exception):
    """Ctrl-C stopped the batch; ``finished`` are the outcomes of the pages completed meanwhile."""

    def __init__(self, finished: list[PageOutcome]):
        super().__init__("interrupted")
        self.finished = finished


class Runner:
    """One batch run: holds the model (loaded at most once), the cache and the hooks."""

    def __init__(self, config: Config, cache: Cache, *, observer: Observer | None = None):
        self.config = config
        self.cache = cache
        self.hooks = StageHooks(observer, Trace.from_environment())
        self._model: transcribe_stage.LoadedModel | None = None
        self._model_error: Exception | None = None
        self._model_lock = threading.Lock()
        self._engine: speakers_stage.Engine | None = None
        # Consecutive rate-limited downloads per site, shared by the fetch threads.
        self._rate_limit_strikes: Counter[str] = Counter()
        self._strikes_lock = threading.Lock()
        self.date = draft_date()
        try:
            self.glossary = glossary_stage.load_glossary(config.run.glossary or None)
        except (OSError, ValueError) as e:
            raise ConfigError(f"glossary: {one_line(e)}") from None
        unknown = set(config.run.export) - set(export_stage.FORMATS)
        if unknown:
            raise ConfigError(
                f"--export: unknown format(s) {', '.join(sorted(unknown))} (known: {', '.join(export_stage.FORMATS)})"
            )
        self._tokenizer = _model_tokenizer(config.model.name)

    @property
    def observer(self) -> Observer:
        return self.hooks.observer

    def prompt(self, page: pages_mod.Page) -> context_stage.PromptContext:
        """The page's names and terms for the model (empty when switched off)."""
        return context_stage.prompt_for(page, self.config.transcribe, self._tokenizer, glossary=self.glossary)

    def job(self, page: pages_mod.Page, video: pages_mod.Video) -> VideoJob:
        """One video's job: its cache key and transcription entry. Raises when the URL has no key."""
        location = media_location(page, video)
        key = download_stage.media_key(location)
        context = self.prompt(page)
        entry = self.cache.transcript(
            key,
            self.config.model.name,
            self.config.transcribe,
            initial_prompt=context.initial_prompt,
            hotwords=context.hotwords,
        )
        turns = self.cache.speakers(key, self.config.speakers) if self.config.speakers.enabled else None
        return VideoJob(page, video.url, location, key, context, entry, turns)

    def plan(self, paths: Iterable[str | Path], selection: Selection = Selection()) -> list[PagePlan]:
        return plan_pages(pages_mod.scan(paths), selection)

    # -- the batch -------------------------------------------------------------

    def run(self, paths: Iterable[str | Path], selection: Selection = Selection()) -> RunReport:
        started = time.perf_counter()
        report = RunReport(model=self.config.model.name)
        process = self._executor(report, check_extra=not selection.dry_run)
        plans = self.plan(paths, selection)
        report.pages.extend(
            PageOutcome(path=p.path, state=p.state, status="failed", reason=p.reason)
            for p in plans
            if p.decision == UNREADABLE
        )
        report.pages.extend(_skipped(p) for p in plans if p.decision == SKIP)
        todo = [p.page for p in plans if p.decision == TODO and p.page is not None]
        if todo:
            self.check(todo)
        if selection.dry_run:
            report.pages.extend(_planned(page) for page in todo)
        else:
            self.observer.batch_started(todo)
            finished: list[PageOutcome] = []
            try:
                finished.extend(process(todo))  # the observer hears of each page as it finishes
            except (Interrupted, KeyboardInterrupt) as stop:
                # Interrupted: Ctrl-C inside the batch, with the pages finished meanwhile; a bare
                # KeyboardInterrupt: it came while the batch was winding down (its threads' shutdown).
                report.interrupted = True
                finished.extend(stop.finished if isinstance(stop, Interrupted) else [])
                ended = Counter(o.path for o in finished)  # by path: two folders may hold the same one
                for page in todo:
                    if ended[page.path]:
                        ended[page.path] -= 1
                    else:
                        finished.append(_interrupted(page))
            report.pages.extend(finished)
        report.model_loaded = self._model is not None
        report.wall_seconds = time.perf_counter() - started
        return report

    def _executor(
        self, report: RunReport, *, check_extra: bool
    ) -> Callable[[list[pages_mod.Page]], Iterator[PageOutcome]]:
        """Where each video's download, prepare and transcribe run: the one place that chooses (issue 13)."""
        executor = self.config.run.executor
        if executor == "local":
            return self._process
        if executor != "ray":
            raise ConfigError(f"--executor: unknown executor {executor!r} (use local or ray)")
        from . import ray_executor  # only for --executor ray: a local run imports nothing of Ray

        if check_extra:
            ray_executor.import_ray()  # without the extra: one line, before any page is scanned or fetched
        return functools.partial(ray_executor.process_on_ray, self, stats_out=report.executor)

    def finish_cached(self, todo: list[pages_mod.Page]) -> Iterator[PageOutcome]:
        """Align and write pages whose transcriptions are all in the cache (another executor made them):
        the local per-page path, without loading the model."""
        return self._process(todo)

    def check(self, todo: list[pages_mod.Page]) -> None:
        """Refuse, before anything is downloaded, a setting that would fail every page: download
        options, the device and compute type, the model's files (when some video needs it) and,
        with --speakers, the speakers extra and its options."""
        download_stage.check_options(self.config.download)
        if self.config.speakers.enabled:
            try:
                speakers_stage.check_available(self.config.speakers)
            except speakers_stage.SpeakersUnavailable as e:
                raise ConfigError(f"--speakers: {e}") from None
        try:
            transcribe_stage.device_and_compute(self.config.model)
            if any(self._needs_model(page, video) for page in todo for video in page.videos):
                transcribe_stage.locate_model(self.config.model.name)
        except transcribe_stage.ModelError as e:
            raise ConfigError(str(e)) from None

    def _needs_model(self, page: pages_mod.Page, video: pages_mod.Video) -> bool:
        try:
            return not self.job(page, video).transcript.path.is_file()
        except Exception:  # a video without a key fails on its own page, with its reason
            return False

    def _process(self, todo: list[pages_mod.Page]) -> Iterator[PageOutcome]:
        """Yield one outcome per page, transcribing in page order while later videos download."""
        ahead = max(1, self.config.run.downloads_ahead)
        fetchers = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="fetch")
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write")
        writes: deque[Future[PageOutcome]] = deque()
        interrupted = False
        try:
            prefetched = _prefetch_in_order(fetchers, self._prefetch, [(p, v) for p in todo for v in p.videos], ahead)
            for page in todo:
                parts = self._collect(page, prefetched)
                if parts.error is not None:
                    outcome = _outcome(page, parts, status="failed", reason=parts.error)
                    self.observer.page_finished(outcome)
                    yield outcome
                    continue
                # Align, render and write in their own thread so the model goes on.
                writes.append(writer.submit(self._finish_page, page, parts))
                while writes and writes[0].done():
                    yield writes.popleft().result()
            while writes:
                yield writes.popleft().result()
        except KeyboardInterrupt:
            # Downloads in flight are abandoned (a partial file is resumed by the next run, never
            # used) and queued ones cancelled; a page being written is finished (short, atomic).
            interrupted = True
            fetchers.shutdown(wait=False, cancel_futures=True)
            raise Interrupted([w.result() for w in writes]) from None
        finally:
            fetchers.shutdown(wait=not interrupted)
            writer.shutdown(wait=True)

    def _collect(self, page: pages_mod.Page, prefetched: Iterator[_Prefetched]) -> _PageParts:
        """Transcribe a page's videos in order; after a failed one, the rest are only counted."""
        parts = _PageParts()
        for video in page.videos:
            item = next(prefetched)
            for stage, seconds in item.fetched.timings.items():
                parts.timings[stage] += seconds
            if parts.error is not None or item.job is None or item.fetched.error:
                parts.videos.append(_video_outcome(item))
                parts.error = parts.error or item.fetched.error
                continue
            try:
                video_outcome, transcription = self._transcribe(item.job, item.fetched, parts.timings)
            except Exception as e:  # one bad video never stops the batch
                parts.videos.append(_video_outcome(item))
                parts.error = f"transcribe: {one_line(e)}"
                continue
            parts.videos.append(video_outcome)
            parts.transcriptions.append((video, transcription))
        return parts

    # -- per video ---------------------------------------------------------------

    def _prefetch(self, page: pages_mod.Page, video: pages_mod.Video) -> _Prefetched:
        """In a fetch thread: the video's cached transcription, or its audio, downloaded and prepared."""
        try:
            job = self.job(page, video)
        except Exception as e:
            return _Prefetched(video.url, None, Fetched(error=f"download: {one_line(e)}"))
        cached = transcribe_stage.read_cached(job.transcript.path, job.transcript.fingerprint)
        if cached is not None and (job.speakers is None or steps.cached_turns(job) is not None):
            return _Prefetched(video.url, job, Fetched(cached=cached))  # the model's work is already done
        return _Prefetched(video.url, job, self._fetch_audio(job))

    def _fetch_audio(self, job: VideoJob) -> Fetched:
        site = download_stage.site_of(job.location)  # strikes count per site: others go on
        if site is not None and self._rate_limit_strikes[site] >= RATE_LIMIT_STRIKES:
            return Fetched(
                error=f"download: not attempted: {site} rate-limited this batch {RATE_LIMIT_STRIKES} times;"
                " rerun later with --sleep-requests/--sleep-interval or --cookies"
            )
        fetched = steps.fetch_audio(job, self.cache, self.config, self.hooks)
        if site is not None:
            with self._strikes_lock:
                if fetched.rate_limited:
                    self._rate_limit_strikes[site] += 1
                elif not fetched.download_failed:
                    self._rate_limit_strikes[site] = 0
        return fetched

    def _transcribe(
        self, job: VideoJob, fetched: Fetched, timings: dict[str, float]
    ) -> tuple[VideoOutcome, transcribe_stage.Transcription]:
        """In the main thread: transcription, then the steps that follow it, as named steps."""
        done = steps.transcribe_video(
            job,
            fetched,
            self._load_model,
            self.cache,
            self.config,
            self.hooks,
            refetch=lambda: self._fetch_audio(job),
        )
        for stage, seconds in done.timings.items():
            timings[stage] += seconds
        diarized = self._diarize(job, fetched, timings)
        if (done.transcribed or diarized is not None and diarized.diarized) and not self.config.run.keep_audio:
            steps.remove_audio(job, self.cache)
        transcription = steps.apply_glossary(done.transcription, self.glossary)
        labels: dict[int, str] = {}
        if diarized is not None:  # speakers for the glossary's words, so names are spelled as on the page
            transcription = steps.with_speakers(transcription, diarized.turns)
            video = next(v for v in job.page.videos if v.url == job.url)
            labels = steps.speaker_labels(job.page, video, transcription)
        exports = steps.write_exports(job, transcription, self.cache, self.config.run, labels)  # the page's words
        outcome = VideoOutcome(
            url=job.url,
            key=job.key,
            audio_seconds=done.transcription.audio_duration,
            downloaded=done.downloaded,
            transcribed=done.transcribed,
            diarized=diarized is not None and diarized.diarized,
            speakers=sorted(labels.values()),
            exports=exports,
        )
        return outcome, transcription

    def _diarize(self, job: VideoJob, fetched: Fetched, timings: dict[str, float]) -> steps.Diarized | None:
        """With --speakers: the video's speaker turns, before its WAV is removed."""
        if job.speakers is None:
            return None
        refetch = lambda: self._fetch_audio(job)  # noqa: E731
        diarized = steps.diarize_video(
            job, fetched, self._load_engine, self.cache, self.config, self.hooks, refetch=refetch
        )
        for stage, seconds in diarized.timings.items():
            timings[stage] += seconds
        return diarized

    def _load_engine(self) -> speakers_stage.Engine:
        """The diarization engine, loaded once, on the first video that needs it (main thread only)."""
        if self._engine is None:
            with self.hooks.stage("load-speakers", None):
                self._engine = speakers_stage.load_engine(self.config.speakers)
        return self._engine

    # -- per page ----------------------------------------------------------------

    def _finish_page(self, page: pages_mod.Page, parts: _PageParts) -> PageOutcome:
        # Told here, in the writer thread, not when _process yields it: that waits
        # for the next video's transcription, and the display would lag by as much.
        outcome = self._render_and_write(page, parts)
        self.observer.page_finished(outcome)
        return outcome

    def _render_and_write(self, page: pages_mod.Page, parts: _PageParts) -> PageOutcome:
        try:
            rendered = steps.render_page(page, parts.transcriptions, self.cache, self.config, self.date, self.hooks)
        except Exception as e:
            return _outcome(page, parts, status="failed", reason=f"align/write: {type(e).__name__}: {one_line(e)}")
        timings = {**parts.timings, "align": parts.timings["align"] + rendered.seconds}
        outcome = _outcome(page, parts, status="done", timings=timings, flags=rendered.flags)
        outcome.warnings.extend(rendered.warnings)
        try:
            written = steps.write_page(
                page, rendered.body, self.cache, self.config, self.date, self.hooks, proposed=rendered.proposed
            )
        except pages_mod.PageError as e:
            return dataclasses.replace(outcome, status="failed", reason=f"write: {e.reason}")
        except Exception as e:
            return dataclasses.replace(
                outcome, status="failed", reason=f"align/write: {type(e).__name__}: {one_line(e)}"
            )
        if written.skipped is not None:
            return dataclasses.replace(outcome, status="skipped", reason=written.skipped)
        outcome.timings["write"] += written.seconds
        return outcome

    def _load_model(self) -> transcribe_stage.LoadedModel:
        with self._model_lock:
            if self._model_error is not None:
                raise self._model_error  # tried once already: no page waits on the hub again
            if self._model is None:
                with self.hooks.stage("load-model", None):
                    try:
                        self._model = transcribe_stage.load_model(
                            self.config.model, batch_size=self.config.transcribe.batch_size
                        )
                    except transcribe_stage.ModelError as e:
                        self._model_error = e
                        raise
            return self._model

    @property
    def model(self) -> transcribe_stage.LoadedModel:
        return self._load_model()


def _prefetch_in_order(
    fetchers: ThreadPoolExecutor,
    fetch: Callable[[pages_mod.Page, pages_mod.Video], _Prefetched],
    jobs: list[tuple[pages_mod.Page, pages_mod.Video]],
    ahead: int,
) -> Iterator[_Prefetched]:
    """The videos' prefetches in order, keeping at most ``ahead`` fetched or fetching beyond
    the one in the model."""
    pending: deque[Future[_Prefetched]] = deque()
    submitted = 0
    for consumed in range(len(jobs)):
        while submitted < len(jobs) and submitted < consumed + ahead + 1:
            page, video = jobs[submitted]
            pending.append(fetchers.submit(fetch, page, video))
            submitted += 1
        yield pending.popleft().result()


def _video_outcome(item: _Prefetched) -> VideoOutcome:
    key = item.job.key if item.job is not None else None
    return VideoOutcome(
        url=item.url, key=key, audio_seconds=item.fetched.audio_seconds, downloaded=item.fetched.downloaded
    )


def _outcome(page: pages_mod.Page, parts: _PageParts, *, status: str, **fields: Any) -> PageOutcome:
    fields.setdefault("timings", dict(parts.timings))
    return PageOutcome(
        path=page.path, state=page.state, status=status, warnings=list(page.warnings), videos=parts.videos, **fields
    )


def _skipped(plan: PagePlan) -> PageOutcome:
    warnings = list(plan.page.warnings) if plan.page is not None else []
    return PageOutcome(path=plan.path, state=plan.state, status="skipped", reason=plan.reason, warnings=warnings)


def _interrupted(page: pages_mod.Page) -> PageOutcome:
    return PageOutcome(
        path=page.path,
        state=page.state,
        status="interrupted",
        reason="interrupted (Ctrl-C) before this page was done; a rerun resumes it",
        warnings=list(page.warnings),
    )


def _planned(page: pages_mod.Page) -> PageOutcome:
    return PageOutcome(
        path=page.path,
        state=page.state,
        status="planned",
        warnings=list(page.warnings),
        videos=[VideoOutcome(url=v.url) for v in page.videos],
    )


def draft_date() -> str:
    """The date a draft's note gives: today, or the day of $SOURCE_DATE_EPOCH when set (the
    reproducible-builds convention), so runs either side of midnight can write the same draft."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.UTC).date().isoformat()
    return _dt.date.today().isoformat()


def _model_tokenizer(model_name: str) -> Any:
    """The model's tokenizer when its files are on disk (to size the page prompt exactly), else None."""
    try:
        path = Path(transcribe_stage.resolve_model_path(model_name))
        return context_stage.load_tokenizer(path) if (path / "tokenizer.json").is_file() else None
    except Exception:
        return None


def _cache_of(config: Config, cache_dir: str | Path | None) -> Cache:
    return Cache.at(cache_dir if cache_dir is not None else (config.run.cache_dir or None))


def run_batch(
    paths: Iterable[str | Path],
    config: Config,
    *,
    cache_dir: str | Path | None = None,
    selection: Selection = Selection(),
    observer: Observer | None = None,
) -> RunReport:
    """Transcribe every selected page under ``paths``; see the module docstring."""
    return Runner(config, _cache_of(config, cache_dir), observer=observer).run(paths, selection)


def plan(
    paths: Iterable[str | Path],
    config: Config,
    *,
    cache_dir: str | Path | None = None,
    selection: Selection = Selection(),
) -> list[dict[str, Any]]:
    """What a run would do with each page, and what the cache holds for its videos. Runs nothing."""
    runner = Runner(config, _cache_of(config, cache_dir))
    plans = runner.plan(paths, selection)
    rows = [_status_row(p, []) for p in plans if p.decision == UNREADABLE]
    for page_plan in plans:
        if page_plan.page is not None:
            videos = [_cached_parts(runner, page_plan.page, v) for v in page_plan.page.videos]
            rows.append(_status_row(page_plan, videos))
    return rows


def _status_row(page_plan: PagePlan, videos: list[dict[str, Any]]) -> dict[str, Any]:
    if page_plan.decision == TODO:
        action = "write" if videos and all(v["transcript"] for v in videos) else "transcribe"
    elif page_plan.decision == OTHER_SHARD:
        action = "skip: another shard"
    else:
        action = f"skip: {page_plan.reason}"
    return {"path": page_plan.path, "state": page_plan.state, "action": action, "videos": videos}


def _cached_parts(runner: Runner, page: pages_mod.Page, video: pages_mod.Video) -> dict[str, Any]:
    """What the cache holds for one video: media, audio, transcription."""
    try:
        job = runner.job(page, video)
    except Exception:
        return {"url": video.url, "key": None, "media": False, "audio": False, "transcript": False}
    cache = runner.cache
    return {
        "url": video.url,
        "key": job.key,
        "media": download_stage.cached_media(job.location, cache) is not None,
        "audio": cache.audio_path(job.key).is_file(),
        "transcript": transcribe_stage.read_cached(job.transcript.path, job.transcript.fingerprint) is not None,
    }
