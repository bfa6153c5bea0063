"""The batch's steps: plain functions from a video's job (``job.VideoJob``) to new records,
called by the scheduler.

Per video (``runner`` calls them from its threads; a remote executor calls
:func:`video_step`, the same steps in one call, or :func:`video_and_turns` with --speakers;
its driver caches what comes back with ``VideoJob.keep``):

- :func:`fetch_audio`: download, then prepare (16 kHz mono), into the cache;
- :func:`transcribe_video`: the cached transcription, or the model's (fetching the
  audio again when its WAV is gone);
- :func:`diarize_video` (``--speakers``): the cached speaker turns, or the engine's, while
  the WAV exists;
- :func:`page_words`: the words as the page shows them (:func:`apply_glossary`, then
  :func:`with_speakers` and :func:`speaker_labels`), labels computed once and carried;
- :func:`remove_audio`, :func:`write_exports`: what follows.

Per page: :func:`render_page` (align, flag, render: each video's :class:`VideoWords`; a
video without chapters on its page or in its metadata gets chapters proposed from its words)
and :func:`write_page` (with ``--fill-timestamps``, also those proposals over the page's
placeholder timestamps).

No step changes a record it was given: each returns a new one, so records never
pass half-filled between threads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import align as align_stage
from . import audio as audio_stage
from . import download as download_stage
from . import export as export_stage
from . import flags as flags_stage
from . import glossary as glossary_stage
from . import naming as naming_stage
from . import pages as pages_mod
from . import propose as propose_stage
from . import render as render_stage
from . import speakers as speakers_stage
from . import transcribe as transcribe_stage
from .cache import Cache
from .config import Config, RunOptions
from .download_errors import DownloadError, RateLimitedError
from .hooks import StageHooks
from .job import VideoJob, media_location
from .schema import Chapter, ProposedChapter, RenderedPart, Transcription
from .utils import add_timings, one_line

ModelProvider = Callable[[], transcribe_stage.LoadedModel]
EngineProvider = Callable[[], speakers_stage.Engine]


@dataclass(frozen=True)
class Fetched:
    """A video's audio, ready for the model; or why it is not."""

    audio_path: Path | None = None
    audio_seconds: float = 0.0
    downloaded: bool = False  # fetched from the network this time (not from the cache)
    timings: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None  # one line: "download: ...", "prepare: ..."
    rate_limited: bool = False
    cached: Transcription | None = None  # the transcription, found in the cache instead

    @property
    def download_failed(self) -> bool:
        return self.error is not None and not self.error.startswith("prepare:")


@dataclass(frozen=True)
class Transcribed:
    """A video's transcription (the model's own words, as cached) and how it was had."""

    transcription: Transcription
    downloaded: bool  # some fetch for it went to the network
    transcribed: bool  # the model ran (not read from the cache)
    timings: Mapping[str, float]  # of the work done by the step that returned it


@dataclass(frozen=True)
class Diarized:
    """A video's speaker turns and how they were had."""

    turns: list[speakers_stage.SpeakerTurn]
    diarized: bool  # the engine ran (not read from the cache)
    timings: Mapping[str, float]
    engine: str = ""  # the engine's name when it ran, as the cache records it


@dataclass(frozen=True)
class VideoWords:
    """A video's words as its page shows them (glossary applied, speakers given) and its speakers' labels."""

    video: pages_mod.Video
    transcription: Transcription
    labels: Mapping[int, str] = field(default_factory=dict)  # speaker index -> label; empty without speakers


@dataclass(frozen=True)
class Rendered:
    """A page's Transcript body, before it is written."""

    body: str
    warnings: tuple[str, ...]
    flags: int
    seconds: float
    proposed: tuple[ProposedChapter, ...] = ()  # a one-video page's proposed chapters (for --fill-timestamps)


class FetchFailed(RuntimeError):
    """A video's download or prepare failed; the message is the one-line reason (``download: ...``)."""


# -- per video ---------------------------------------------------------------------------


def fetch_audio(job: VideoJob, cache: Cache, config: Config, hooks: StageHooks) -> Fetched:
    """Download (or find in the cache) and prepare a video's audio; failures become ``error``."""
    try:
        with cache.lock(f"fetch-{job.key}"):
            return _download_and_prepare(job, cache, config, hooks)
    except RateLimitedError as e:
        return Fetched(error=f"download: {one_line(e)}", rate_limited=True)
    except DownloadError as e:
        return Fetched(error=f"download: {one_line(e)}")
    except Exception as e:
        return Fetched(error=f"fetch: {type(e).__name__}: {one_line(e)}")


def _download_and_prepare(job: VideoJob, cache: Cache, config: Config, hooks: StageHooks) -> Fetched:
    page, key = job.page, job.key
    with hooks.stage("download", page, key, detail=job.url) as downloading:
        media = download_stage.download(job.location, cache, config.download, progress=hooks.progress(key, "download"))
        downloading.fields["fetched"] = not media.from_cache
    downloaded = not media.from_cache
    try:
        with hooks.stage("prepare", page, key, detail=job.url) as preparing:
            prepared = audio_stage.prepare(media.path, cache.audio_path(key))
            preparing.fields.update(audio_seconds=prepared.duration, prepared=not prepared.from_cache)
    except audio_stage.AudioError as e:
        download_stage.remove_cached(media)  # a corrupt download must not be reused next run
        timings = {"download": downloading.seconds}
        return Fetched(downloaded=downloaded, timings=timings, error=f"prepare: {one_line(e)}")
    hooks.observer.stage(page, "fetched", job.url)  # ready, waiting for the model
    return Fetched(
        audio_path=prepared.path,
        audio_seconds=prepared.duration,
        downloaded=downloaded,
        timings={"download": downloading.seconds, "prepare": preparing.seconds},
    )


def transcribe_video(
    job: VideoJob,
    fetched: Fetched,
    model: ModelProvider,
    cache: Cache,
    config: Config,
    hooks: StageHooks,
    *,
    refetch: Callable[[], Fetched] | None = None,
) -> Transcribed:
    """The video's transcription from the cache, or from the model (under the video's lock).

    ``fetched`` may hold no audio (the transcription was cached when it was fetched, or
    its WAV has since been removed): then ``refetch`` (default :func:`fetch_audio`)
    prepares it again. Raises RuntimeError with the fetch's one-line reason.
    """
    with cache.lock(f"transcribe-{job.key}"):
        # Another run may have finished this video while we waited for the lock.
        cached = fetched.cached or job.transcript.read()
        if cached is not None:
            return Transcribed(cached, fetched.downloaded, False, {})
        fetched, timings = _with_audio(job, fetched, refetch, cache, config, hooks)
        assert fetched.audio_path is not None
        with hooks.stage("transcribe", job.page, job.key, detail=job.url) as transcribing:
            # The model reports progress only as each window ends: tell the display the length now.
            hooks.observer.transfer(job.key, "transcribe", 0.0, fetched.audio_seconds or None)
            transcription = transcribe_stage.transcribe(
                model(),
                fetched.audio_path,
                config.transcribe,
                cache_path=job.transcript.path,
                fingerprint=job.transcript.fingerprint,
                initial_prompt=job.context.initial_prompt,
                hotwords=job.context.hotwords,
                progress=hooks.progress(job.key, "transcribe"),
            )
            transcribing.fields["audio_seconds"] = transcription.audio_duration
        timings["transcribe"] = transcribing.seconds
        return Transcribed(transcription, fetched.downloaded, True, timings)


def _with_audio(
    job: VideoJob,
    fetched: Fetched,
    refetch: Callable[[], Fetched] | None,
    cache: Cache,
    config: Config,
    hooks: StageHooks,
) -> tuple[Fetched, dict[str, float]]:
    """``fetched`` while its WAV exists, else the audio fetched again (``refetch``, default
    :func:`fetch_audio`); and the timings of the work done here, not of ``fetched``'s.
    Raises RuntimeError with the fetch's one-line reason."""
    if fetched.audio_path is not None and fetched.audio_path.is_file():
        return fetched, {}
    again = refetch() if refetch is not None else fetch_audio(job, cache, config, hooks)
    if again.error:
        raise RuntimeError(again.error)
    # Either fetch may be the one that went to the network (two pages' fetches of one
    # video race for its lock): keep what both did, never only the last one's.
    return dataclasses.replace(again, downloaded=fetched.downloaded or again.downloaded), dict(again.timings)


def video_step(job: VideoJob, model: ModelProvider, cache: Cache, config: Config, hooks: StageHooks) -> Transcribed:
    """download -> prepare -> transcribe -> transcription, in one call: what an executor's worker runs.

    A failed download or prepare raises :class:`FetchFailed` with the reason a local run reports."""
    fetched = Fetched(cached=job.transcript.read())
    if fetched.cached is None:
        fetched = fetch_audio(job, cache, config, hooks)
        if fetched.error:
            raise FetchFailed(fetched.error)
    done = transcribe_video(job, fetched, model, cache, config, hooks)
    return dataclasses.replace(done, timings=add_timings(fetched.timings, done.timings))


def video_and_turns(
    job: VideoJob, model: ModelProvider, engine: EngineProvider, cache: Cache, config: Config, hooks: StageHooks
) -> tuple[Transcribed, Diarized | None]:
    """:func:`video_step`, then (a job made with --speakers) who speaks when, from the WAV it just
    prepared: what a Ray worker runs, so the driver never fetches the video again to diarize it."""
    done = video_step(job, model, cache, config, hooks)
    if job.speakers is None:
        return done, None
    diarized = diarize_video(job, Fetched(audio_path=cache.audio_path(job.key)), engine, cache, config, hooks)
    return dataclasses.replace(done, timings=add_timings(done.timings, diarized.timings)), diarized


def cached_turns(job: VideoJob) -> list[speakers_stage.SpeakerTurn] | None:
    """The video's cached speaker turns; None when missing (or --speakers is off)."""
    return job.speakers.read() if job.speakers is not None else None


def diarize_video(
    job: VideoJob,
    fetched: Fetched,
    engine: EngineProvider,
    cache: Cache,
    config: Config,
    hooks: StageHooks,
    *,
    refetch: Callable[[], Fetched] | None = None,
) -> Diarized:
    """Who speaks when in the video's audio: from the cache, or from the engine (under the video's
    lock), fetching the audio again when its WAV is gone. Call it before :func:`remove_audio`."""
    assert job.speakers is not None, "diarize_video needs a job made with --speakers"
    with cache.lock(f"speakers-{job.key}"):
        cached = cached_turns(job)
        if cached is not None:
            return Diarized(cached, False, {})
        fetched, timings = _with_audio(job, fetched, refetch, cache, config, hooks)
        assert fetched.audio_path is not None
        with hooks.stage("speakers", job.page, job.key, detail=job.url) as diarizing:
            turns = speakers_stage.diarize(
                fetched.audio_path, config.speakers, engine=engine(), cache_path=job.speakers.path
            )
            diarizing.fields["speakers"] = len({t.speaker for t in turns})
        timings["speakers"] = diarizing.seconds
        return Diarized(turns, True, timings, engine=engine().name)


def with_speakers(transcription: Transcription, turns: list[speakers_stage.SpeakerTurn]) -> Transcription:
    """A copy whose words carry their speaker (the turn each overlaps most)."""
    segments = []
    for segment in transcription.segments:
        who = speakers_stage.assign_speakers(segment.words, turns)
        words = [dataclasses.replace(w, speaker=s) for w, s in zip(segment.words, who, strict=True)]
        segments.append(dataclasses.replace(segment, words=words))
    return dataclasses.replace(transcription, segments=segments)


def speaker_labels(page: pages_mod.Page, video: pages_mod.Video, transcription: Transcription) -> dict[int, str]:
    """Each speaker's label from the page and the words (glossary applied, so names are spelled
    as on the page); empty when the words carry no speaker."""
    words = transcription.words
    who = [w.speaker for w in words]
    if all(s is None for s in who):
        return {}
    chapters = [(c.start, c.title) for c in video.chapters]
    return naming_stage.label_speakers(words, who, page_speakers=page.speakers, chapters=chapters)


def page_words(
    job: VideoJob,
    transcription: Transcription,
    turns: list[speakers_stage.SpeakerTurn] | None,
    glossary: glossary_stage.Glossary,
) -> VideoWords:
    """The video's words as its page shows them: the glossary's spellings, then (given ``turns``)
    each word's speaker and the speakers' labels, named as on the page."""
    transcription = apply_glossary(transcription, glossary)
    if turns is None:
        return VideoWords(job.video, transcription)
    transcription = with_speakers(transcription, turns)
    return VideoWords(job.video, transcription, speaker_labels(job.page, job.video, transcription))


def remove_audio(job: VideoJob, cache: Cache) -> None:
    """Delete a video's WAV (115 MB per audio hour) once its transcription is cached: the
    media stays, so the cache grows with downloads only."""
    with cache.lock(f"fetch-{job.key}"):
        cache.audio_path(job.key).unlink(missing_ok=True)


def write_exports(
    job: VideoJob,
    transcription: Transcription,
    cache: Cache,
    run: RunOptions,
    labels: Mapping[int, str] | None = None,
) -> list[str]:
    """Subtitles and word JSON (--export) of one video, named after its page: under ``--export-dir``
    (mirroring the pages' folders) or else the cache's exports folder; the files written. With
    ``labels`` (speaker index -> label) cues split at speaker changes and carry the label."""
    if not run.export:
        return []
    page = Path(job.page.path).with_suffix("")
    urls = [v.url for v in job.page.videos]
    part = f".part{urls.index(job.url) + 1}" if len(urls) > 1 and job.url in urls else ""
    export_dir = run.export_dir
    folder = export_stage.mirrored_folder(export_dir, job.page.path) if export_dir else cache.export_dir(job.key)
    written = export_stage.write_exports(transcription, folder, page.name + part, run.export, labels=labels)
    return [str(p) for p in written]


def apply_glossary(transcription: Transcription, glossary: glossary_stage.Glossary) -> Transcription:
    """The spelling fixes: applied on every use, so the cache keeps the model's own words."""
    return glossary_stage.apply_to_transcription(transcription, glossary)


# -- per page ----------------------------------------------------------------------------


def chapters_for(page: pages_mod.Page, video: pages_mod.Video, cache: Cache) -> tuple[list[Chapter], str | None]:
    """The page's chapters for a video; where the page gives none (no list, or a placeholder such as
    "Help us add timestamps"), the video's own chapters from its download record, with a warning."""
    if video.chapters:
        return list(video.chapters), None
    media = download_stage.cached_media(media_location(page, video), cache)
    chapters = align_stage.metadata_chapters(media.chapters if media is not None else [])
    if not chapters:
        return [], None
    return chapters, (
        f"{video.url}: the page lists no chapters; used the video's own {len(chapters)} chapters"
        " (from its description on the site)"
    )


def render_page(
    page: pages_mod.Page,
    parts: list[VideoWords],
    cache: Cache,
    config: Config,
    date: str,
    hooks: StageHooks,
) -> Rendered:
    """Align each video's words to its chapters, flag doubtful passages, render the body."""
    with hooks.stage("align", page, traced=False) as aligning:
        warnings: list[str] = []
        flag_count = 0
        rendered_parts = []
        proposed: list[ProposedChapter] = []
        for part in parts:
            video, transcription = part.video, part.transcription
            chapters, warning = chapters_for(page, video, cache)
            proposed = [] if chapters else propose_stage.propose_chapters(transcription, config.chapters)
            if proposed:
                chapters = [c.to_chapter() for c in proposed]
                warning = f"{video.url}: no chapters on the page or the video; proposed {len(proposed)} from the talk"
            warnings.extend([warning] if warning else [])
            alignment = align_stage.align(transcription, chapters, config.align)
            warnings.extend(alignment.warnings)
            flags = flags_stage.flag_segments(transcription.segments, config.flags)
            flag_count += len(flags)
            labels = dict(part.labels)
            rendered_parts.append(
                RenderedPart(video.url, video.label, alignment, flags, labels, proposed=bool(proposed))
            )
        body = render_stage.render_transcript(
            rendered_parts, model=config.model.name, date=date, link_times=config.render.link_times
        )
    filled = tuple(proposed) if len(parts) == 1 else ()
    return Rendered(body, tuple(warnings), flag_count, aligning.seconds, filled)


@dataclass(frozen=True)
class Written:
    skipped: str | None  # why the draft was not written (another run wrote it meanwhile); None: written
    seconds: float


def write_page(
    page: pages_mod.Page,
    body: str,
    cache: Cache,
    config: Config,
    date: str,
    hooks: StageHooks,
    *,
    proposed: tuple[ProposedChapter, ...] = (),
) -> Written:
    """Write the draft into the page, unless the page changed since the scan; with
    ``[chapters] fill_timestamps``, also the ``proposed`` chapters over its placeholder timestamps."""
    with hooks.stage("write", page, traced=False) as writing:
        skipped = _write_unless_changed(page, body, cache, config, date, hooks)
        if skipped is None and proposed and config.chapters.fill_timestamps and page.source is not None:
            with cache.page_lock(page.source):
                pages_mod.fill_timestamps(page.source, proposed)
    return Written(skipped, writing.seconds)


def _write_unless_changed(
    page: pages_mod.Page, body: str, cache: Cache, config: Config, date: str, hooks: StageHooks
) -> str | None:
    if page.source is None:
        raise ValueError(f"{page.path}: a page parsed from text has no file to write")
    with cache.page_lock(page.source):
        # Re-read under the lock: another run or a human may have written it since the scan.
        current = pages_mod.read_page(page.source)
        if current.state == pages_mod.HAS_DRAFT and page.state != pages_mod.HAS_DRAFT:
            return "another run wrote its draft meanwhile"
        if current.state not in (pages_mod.NEEDS_TRANSCRIPT, pages_mod.HAS_DRAFT):
            # A human wrote in it since the scan: a failure to report, never a page to overwrite.
            raise pages_mod.PageError(page.path, f"the page changed meanwhile (now {current.state}); not overwritten")
        with hooks.stage("write", page, observed=False):
            pages_mod.write_transcript(
                page.source,
                body,
                model=config.model.name,
                date=date,
                replace_draft=current.state == pages_mod.HAS_DRAFT,
            )
    return None
