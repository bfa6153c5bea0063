"""A video's job: everything one video of one page needs to be transcribed, made in one place.

:class:`JobMaker` turns (page, video) under a config and a cache into a :class:`VideoJob`:
the video's cache key, the page's prompt context and the fingerprinted cache entries
of its transcription and speaker turns. The batch (``runner``), the Ray executor, the
review page and ``status`` all make their jobs here, so the same video always meets
the same cache entries. :class:`Lazy` holds a model (or the diarization engine),
loaded on first use, once, remembering a failure.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import context as context_stage
from . import glossary as glossary_stage
from . import pages as pages_mod
from . import speakers as speakers_stage
from . import transcribe as transcribe_stage
from .cache import Cache, transcription_fingerprint
from .config import Config, ConfigError
from .context import PromptContext
from .download_errors import DownloadError
from .hooks import StageHooks
from .locations import is_local, local_media_path, media_key
from .schema import Transcription
from .utils import one_line

if TYPE_CHECKING:  # steps imports this module: the type only
    from .steps import Diarized

T = TypeVar("T")


@dataclass(frozen=True)
class TranscriptEntry:
    """Where one video's transcription lives in the cache, and the fingerprint it must carry to count."""

    path: Path
    fingerprint: str

    def read(self) -> Transcription | None:
        """The cached transcription; None when missing, corrupt or made otherwise."""
        return transcribe_stage.read_cached(self.path, self.fingerprint)

    def write(self, transcription: Transcription) -> None:
        transcribe_stage.write_cached(self.path, transcription, self.fingerprint)


@dataclass(frozen=True)
class TurnsEntry:
    """Where one video's speaker turns live in the cache, and the fingerprint they must carry."""

    path: Path
    fingerprint: str

    def read(self) -> list[speakers_stage.SpeakerTurn] | None:
        """The cached speaker turns; None when missing, corrupt or made otherwise."""
        return speakers_stage.read_cached(self.path, self.fingerprint)

    def write(self, turns: list[speakers_stage.SpeakerTurn], engine: str) -> None:
        speakers_stage.write_cached(self.path, turns, self.fingerprint, engine=engine)


@dataclass(frozen=True)
class VideoJob:
    """Everything needed to turn one video of one page into a transcription."""

    page: pages_mod.Page
    video: pages_mod.Video
    location: str  # what to download: the URL, or a local file's absolute path
    key: str  # the cache key (locations.media_key)
    context: PromptContext  # the page's names and terms for the model
    transcript: TranscriptEntry  # where its transcription lives in the cache
    speakers: TurnsEntry | None = None  # where its speaker turns live; None: --speakers is off

    @property
    def url(self) -> str:
        """The video as the page gives it."""
        return self.video.url

    def keep(self, transcription: Transcription, diarized: Diarized | None = None) -> None:
        """What another process (a Ray worker) made for this video, written where and as a local run writes it."""
        self.transcript.write(transcription)
        if diarized is not None and self.speakers is not None:
            self.speakers.write(diarized.turns, diarized.engine)


def in_cache(job: VideoJob, cache: Cache) -> VideoJob:
    """The job with its cache entries (the same fingerprints) in ``cache``: a Ray worker's scratch."""
    transcript = TranscriptEntry(
        cache.entry("transcripts", job.key, job.transcript.fingerprint), job.transcript.fingerprint
    )
    turns = job.speakers and TurnsEntry(
        cache.entry("speakers", job.key, job.speakers.fingerprint), job.speakers.fingerprint
    )
    return dataclasses.replace(job, transcript=transcript, speakers=turns)


def media_location(page: pages_mod.Page, video: pages_mod.Video) -> str:
    """The URL to download, or a local file's path: relative to the page, inside the folder given to run
    (the page's own folder for a page given alone); anything else raises DownloadError."""
    if not is_local(video.url):
        return video.url
    if page.source is None:
        raise DownloadError(video.url, "a local file, but the page is not read from a folder")
    root = page.root if page.root is not None else Path(page.source).parent
    return str(local_media_path(video.url, Path(page.source), root))


class JobMaker:
    """Makes each video's job under one config and cache; loads the glossary and the tokenizer once."""

    def __init__(self, config: Config, cache: Cache):
        self.config = config
        self.cache = cache
        try:
            self.glossary = glossary_stage.load_glossary(config.run.glossary or None)
        except (OSError, ValueError) as e:
            raise ConfigError(f"glossary: {one_line(e)}") from None
        self._tokenizer = model_tokenizer(config.model.name)

    def prompt(self, page: pages_mod.Page) -> PromptContext:
        """The page's names and terms for the model (empty when switched off)."""
        return context_stage.prompt_for(page, self.config.transcribe, self._tokenizer, glossary=self.glossary)

    def job(self, page: pages_mod.Page, video: pages_mod.Video) -> VideoJob:
        """One video's job: its cache key and cache entries. Raises when the URL has no key."""
        location = media_location(page, video)
        key = media_key(location)
        context = self.prompt(page)
        fingerprint = transcription_fingerprint(
            self.config.model.name,
            self.config.transcribe,
            initial_prompt=context.initial_prompt,
            hotwords=context.hotwords,
        )
        transcript = TranscriptEntry(self.cache.entry("transcripts", key, fingerprint), fingerprint)
        turns = None
        if self.config.speakers.enabled:  # the turns come from the audio alone: not the model's fingerprint
            turns_fingerprint = speakers_stage.fingerprint(self.config.speakers)
            turns = TurnsEntry(self.cache.entry("speakers", key, turns_fingerprint), turns_fingerprint)
        return VideoJob(page, video, location, key, context, transcript, turns)


def model_tokenizer(model_name: str) -> Any:
    """The model's tokenizer when its files are on disk (to size the page prompt exactly), else None."""
    try:
        path = Path(transcribe_stage.resolve_model_path(model_name))
        return context_stage.load_tokenizer(path) if (path / "tokenizer.json").is_file() else None
    except Exception:
        return None


def cache_of(config: Config, cache_dir: str | Path | None) -> Cache:
    """The cache a command uses: ``cache_dir`` when given, else the configured one, else the user's."""
    return Cache.at(cache_dir if cache_dir is not None else (config.run.cache_dir or None))


class Lazy(Generic[T]):
    """A thing loaded on first use, once (thread-safe); a failure of a ``remember`` type is raised
    again on every later use, so no page waits on a failing load (the hub, a bad name) twice."""

    def __init__(
        self,
        load: Callable[[], T],
        hooks: StageHooks,
        stage: str,
        remember: tuple[type[Exception], ...] = (),
    ):
        self._load = load
        self._hooks = hooks
        self._stage = stage
        self._remember = remember
        self._value: T | None = None
        self._error: Exception | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def __call__(self) -> T:
        with self._lock:
            if self._error is not None:
                raise self._error  # tried once already
            if self._value is None:
                with self._hooks.stage(self._stage, None):
                    try:
                        self._value = self._load()
                    except self._remember as e:
                        self._error = e
                        raise
            return self._value


def lazy_model(config: Config, hooks: StageHooks) -> Lazy[transcribe_stage.LoadedModel]:
    """The transcription model under ``config``, loaded on first use; a ModelError is remembered."""
    return Lazy(
        lambda: transcribe_stage.load_model(config.model, batch_size=config.transcribe.batch_size),
        hooks,
        "load-model",
        remember=(transcribe_stage.ModelError,),
    )


def lazy_engine(config: Config, hooks: StageHooks) -> Lazy[speakers_stage.Engine]:
    """The diarization engine under ``config``, loaded on first use; ``[speakers] device = "auto"``
    follows the model's device (a CUDA run, or a GPU worker, diarizes on the GPU)."""

    def load() -> speakers_stage.Engine:
        try:
            device, _ = transcribe_stage.device_and_compute(config.model)
        except transcribe_stage.ModelError:  # reported by the model's own load
            device = "cpu"
        return speakers_stage.load_engine(config.speakers, run_device=device)

    return Lazy(load, hooks, "load-speakers")
