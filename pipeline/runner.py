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

from . import cuda, steps
from . import download as download_stage
from . import pages as pages_mod
from . import speakers as speakers_stage
from . import transcribe as transcribe_stage
from .cache import Cache
from .config import Config, ConfigError
from .hooks import Observer, StageHooks, Trace
from .job import JobMaker, VideoJob, cache_of, lazy_engine, lazy_model
from .locations import site_of
from .plan import SKIP, TODO, UNREADABLE, PagePlan, Selection, plan_pages
from .report import STAGES, PageOutcome, RunReport, VideoOutcome
from .steps import Fetched, VideoWords
from .utils import add_timings, one_line, writable_folder

Amend = Callable[[PageOutcome], PageOutcome]

__all__ = ["RATE_LIMIT_STRIKES", "Runner", "run_batch"]

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
    words: list[VideoWords] = field(default_factory=list)
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
        self.model = lazy_model(config, self.hooks)
        self.engine = lazy_engine(config, self.hooks)  # used with --speakers only (main thread)
        # Consecutive rate-limited downloads per site, shared by the fetch threads.
        self._rate_limit_strikes: Counter[str] = Counter()
        self._strikes_lock = threading.Lock()
        self.date = draft_date()
        self.jobs = JobMaker(config, cache)

    @property
    def observer(self) -> Observer:
        return self.hooks.observer

    # -- the batch -------------------------------------------------------------

    def run(self, paths: Iterable[str | Path], selection: Selection = Selection()) -> RunReport:
        started = time.perf_counter()
        report = RunReport(model=self.config.model.name)
        process = self._executor(report, check_extra=not selection.dry_run)
        plans = plan_pages(pages_mod.scan(paths), selection)
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
        report.model_loaded = self.model.loaded
        report.wall_seconds = time.perf_counter() - started
        return report

    def _executor(
        self, report: RunReport, *, check_extra: bool
    ) -> Callable[[list[pages_mod.Page]], Iterator[PageOutcome]]:
        """Where each video's download, prepare and transcribe run: the one place that chooses (issue 13)."""
        executor = self.config.run.executor
        if executor == "local":
            return self.process_pages
        from . import ray_executor  # only for --executor ray: a local run imports nothing of Ray

        ray_executor.check_address(self.config.run.ray_address)  # --dry-run too: a run would refuse it
        if check_extra:
            ray_executor.import_ray()  # without the extra: one line, before any page is scanned or fetched
        return functools.partial(
            ray_executor.process_on_ray, self.jobs, self.observer, self.process_pages, stats_out=report.executor
        )

    def check(self, todo: list[pages_mod.Page]) -> None:
        """Refuse, before anything is downloaded, a setting that would fail every page: download
        options, the device and compute type, the model's files (when some video needs it) and,
        with --speakers, the speakers extra and its options."""
        download_stage.check_options(self.config.download)
        cuda.check_pool_packing(self.config)  # --gpus-per-worker 0.5: the models packed on a GPU must fit it
        if self.config.run.export and self.config.run.export_dir:
            writable_folder(self.config.run.export_dir, "--export-dir", create=False)
        if self.config.speakers.enabled:
            try:
                speakers_stage.check_available(self.config.speakers)
            except speakers_stage.SpeakersUnavailable as e:
                raise ConfigError(f"--speakers: {e}") from None
            speakers_stage.check_device(self.config.speakers)  # [speakers] device cuda where torch sees no GPU
        try:
            transcribe_stage.device_and_compute(self.config.model)
            if any(self._needs_model(page, video) for page in todo for video in page.videos):
                transcribe_stage.locate_model(self.config.model.name)
        except transcribe_stage.ModelError as e:
            raise ConfigError(str(e)) from None

    def _needs_model(self, page: pages_mod.Page, video: pages_mod.Video) -> bool:
        try:
            return not self.jobs.job(page, video).transcript.path.is_file()
        except Exception:  # a video without a key fails on its own page, with its reason
            return False

    def process_pages(self, todo: list[pages_mod.Page], amend: Amend | None = None) -> Iterator[PageOutcome]:
        """Yield one outcome per page, transcribing in page order while later videos download.

        ``amend`` completes each outcome before it is told or yielded (another executor's figures):
        an outcome is never changed once published. Pages whose transcriptions are all cached
        (another executor made them) are aligned and written without loading the model."""
        amend = amend or _unchanged
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
                    outcome = amend(_outcome(page, parts, status="failed", reason=parts.error))
                    self.observer.page_finished(outcome)
                    yield outcome
                    continue
                # Align, render and write in their own thread so the model goes on.
                writes.append(writer.submit(self._finish_page, page, parts, amend))
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
        for _ in page.videos:
            item = next(prefetched)
            parts.timings = add_timings(parts.timings, item.fetched.timings)
            if parts.error is not None or item.job is None or item.fetched.error:
                parts.videos.append(_video_outcome(item))
                parts.error = parts.error or item.fetched.error
                continue
            try:
                video_outcome, words, timings = self._transcribe(item.job, item.fetched)
            except Exception as e:  # one bad video never stops the batch
                parts.videos.append(_video_outcome(item))
                parts.error = f"transcribe: {one_line(e)}"
                continue
            parts.videos.append(video_outcome)
            parts.words.append(words)
            parts.timings = add_timings(parts.timings, timings)
        return parts

    # -- per video ---------------------------------------------------------------

    def _prefetch(self, page: pages_mod.Page, video: pages_mod.Video) -> _Prefetched:
        """In a fetch thread: the video's cached transcription, or its audio, downloaded and prepared."""
        try:
            job = self.jobs.job(page, video)
        except Exception as e:
            return _Prefetched(video.url, None, Fetched(error=f"download: {one_line(e)}"))
        cached = job.transcript.read()
        if cached is not None and (job.speakers is None or steps.cached_turns(job) is not None):
            return _Prefetched(video.url, job, Fetched(cached=cached))  # the model's work is already done
        return _Prefetched(video.url, job, self._fetch_audio(job))

    def _fetch_audio(self, job: VideoJob) -> Fetched:
        site = site_of(job.location)  # strikes count per site: others go on
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

    def _transcribe(self, job: VideoJob, fetched: Fetched) -> tuple[VideoOutcome, VideoWords, dict[str, float]]:
        """In the main thread: transcription, then the steps that follow it, as named steps; and
        the timings of the work done here."""
        refetch = functools.partial(self._fetch_audio, job)
        done = steps.transcribe_video(job, fetched, self.model, self.cache, self.config, self.hooks, refetch=refetch)
        timings = dict(done.timings)
        diarized = None
        if job.speakers is not None:  # --speakers: the video's speaker turns, before its WAV is removed
            diarized = steps.diarize_video(
                job, fetched, self.engine, self.cache, self.config, self.hooks, refetch=refetch
            )
            timings = add_timings(timings, diarized.timings)
        if (done.transcribed or diarized is not None and diarized.diarized) and not self.config.run.keep_audio:
            steps.remove_audio(job, self.cache)
        # speakers after the glossary's words, so names are spelled as on the page
        words = steps.page_words(job, done.transcription, diarized.turns if diarized else None, self.jobs.glossary)
        exports = steps.write_exports(job, words.transcription, self.cache, self.config.run, words.labels)
        outcome = VideoOutcome(
            url=job.url,
            key=job.key,
            audio_seconds=done.transcription.audio_duration,
            downloaded=done.downloaded,
            transcribed=done.transcribed,
            diarized=diarized is not None and diarized.diarized,
            speakers=sorted(words.labels.values()),
            exports=exports,
        )
        return outcome, words, timings

    # -- per page ----------------------------------------------------------------

    def _finish_page(self, page: pages_mod.Page, parts: _PageParts, amend: Amend) -> PageOutcome:
        # Told here, in the writer thread, not when process_pages yields it: that waits
        # for the next video's transcription, and the display would lag by as much.
        outcome = amend(self._render_and_write(page, parts))
        self.observer.page_finished(outcome)
        return outcome

    def _render_and_write(self, page: pages_mod.Page, parts: _PageParts) -> PageOutcome:
        try:
            rendered = steps.render_page(page, parts.words, self.cache, self.config, self.date, self.hooks)
        except Exception as e:
            return _outcome(page, parts, status="failed", reason=f"align/write: {type(e).__name__}: {one_line(e)}")
        timings = add_timings(parts.timings, {"align": rendered.seconds})
        done = functools.partial(
            _outcome, page, parts, timings=timings, flags=rendered.flags, more_warnings=rendered.warnings
        )
        try:
            written = steps.write_page(
                page, rendered.body, self.cache, self.config, self.date, self.hooks, proposed=rendered.proposed
            )
        except pages_mod.PageError as e:
            return done(status="failed", reason=f"write: {e.reason}")
        except Exception as e:
            return done(status="failed", reason=f"align/write: {type(e).__name__}: {one_line(e)}")
        if written.skipped is not None:
            return done(status="skipped", reason=written.skipped)
        return done(status="done", timings=add_timings(timings, {"write": written.seconds}))


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


def _outcome(
    page: pages_mod.Page,
    parts: _PageParts,
    *,
    status: str,
    reason: str | None = None,
    timings: dict[str, float] | None = None,
    flags: int = 0,
    more_warnings: tuple[str, ...] = (),
) -> PageOutcome:
    return PageOutcome(
        path=page.path,
        state=page.state,
        status=status,
        reason=reason,
        warnings=[*page.warnings, *more_warnings],
        videos=list(parts.videos),
        timings=dict(timings if timings is not None else parts.timings),
        flags=flags,
    )


def _unchanged(outcome: PageOutcome) -> PageOutcome:
    return outcome


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


def run_batch(
    paths: Iterable[str | Path],
    config: Config,
    *,
    cache_dir: str | Path | None = None,
    selection: Selection = Selection(),
    observer: Observer | None = None,
) -> RunReport:
    """Transcribe every selected page under ``paths``; see the module docstring."""
    return Runner(config, cache_of(config, cache_dir), observer=observer).run(paths, selection)
