"""``chapters PAGE``: the chapters proposed for each video of a page, and filling its placeholder timestamps.

CONTRACT (other modules rely on these names; keep them):

- ``page_proposals(page_path, config) -> list[VideoProposals]``: per video, the chapters
  ``propose.propose_chapters`` finds in its words: from the cached transcription when ``run``
  left one (same model, options and page context: the same cache entry), else by the same
  download and transcription steps as ``run`` (cached for the next run). The words are the
  page's words as ``run`` makes them (``steps.page_words``: the glossary's spellings, and with
  ``--speakers`` the turns ``run`` cached; never diarized here), so the proposals match the
  draft's headings.
- ``fill_page(page_path, found) -> str``: ``--fill-timestamps``: what was done, in one line.

Raises ``ProposalError`` (one line) for a page that cannot be read or a video that cannot be
had. Nothing is written but by ``fill_page``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import download as download_stage
from . import pages as pages_mod
from . import propose as propose_stage
from . import steps
from . import transcribe as transcribe_stage
from .config import Config, ConfigError
from .download_errors import DownloadError
from .hooks import StageHooks, Trace
from .job import JobMaker, Lazy, VideoJob, cache_of, lazy_model
from .schema import ProposedChapter, Transcription, Video
from .utils import one_line


class ProposalError(Exception):
    """A page or video whose chapters cannot be proposed; str(e) is one line."""


@dataclass
class VideoProposals:
    video: Video
    chapters: list[ProposedChapter] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "url": self.video.url,
            "label": self.video.label,
            "chapters": [c.to_json() for c in self.chapters],
        }


def page_proposals(page_path: str | Path, config: Config) -> tuple[pages_mod.Page, list[VideoProposals]]:
    try:
        page = pages_mod.read_page(page_path)
    except pages_mod.PageError as e:
        raise ProposalError(str(e)) from None
    if not page.videos:
        raise ProposalError(f"{page.path}: no video on the page")
    cache = cache_of(config, None)
    try:
        maker = JobMaker(config, cache)
        jobs = [maker.job(page, video) for video in page.videos]
    except (ConfigError, DownloadError) as e:
        raise ProposalError(f"{page.path}: {one_line(e)}") from None
    if any(not job.transcript.path.is_file() for job in jobs):
        _check(config)
    hooks = StageHooks(None, Trace.from_environment())
    model = lazy_model(config, hooks)  # loaded only if some video's words are not cached
    found = []
    for job in jobs:
        transcription = _transcription(job, model, config, hooks)
        words = steps.page_words(job, transcription, steps.cached_turns(job), maker.glossary)
        found.append(VideoProposals(job.video, propose_stage.propose_chapters(words.transcription, config.chapters)))
    return page, found


def _check(config: Config) -> None:
    """As ``run`` does before any download: a setting that cannot work is a ConfigError (exit 2)."""
    download_stage.check_options(config.download)
    try:
        transcribe_stage.device_and_compute(config.model)
        transcribe_stage.locate_model(config.model.name)
    except transcribe_stage.ModelError as e:
        raise ConfigError(str(e)) from None


def _transcription(
    job: VideoJob, model: Lazy[transcribe_stage.LoadedModel], config: Config, hooks: StageHooks
) -> Transcription:
    """The video's words as ``run`` cached them, else transcribed now by ``run``'s own steps (and cached)."""
    cached = job.transcript.read()
    if cached is not None:
        return cached
    cache = cache_of(config, None)
    try:
        done = steps.video_step(job, model, cache, config, hooks)
    except Exception as e:  # a failed download or prepare, the model
        raise ProposalError(f"{job.page.path}: cannot transcribe its video: {one_line(e)}") from None
    if not config.run.keep_audio:
        steps.remove_audio(job, cache)
    return done.transcription


def fill_page(page: pages_mod.Page, found: list[VideoProposals]) -> str:
    """Write the proposals over the page's placeholder timestamps; one line saying what happened."""
    if any(v.chapters for v in page.videos):
        return f"{page.path}: has its own chapters; its Timestamps block is left as it is"
    if len(found) != 1:
        return f"{page.path}: {len(found)} videos; fill their Timestamps blocks by hand"
    assert page.source is not None
    try:
        result = pages_mod.fill_timestamps(page.source, found[0].chapters)
    except pages_mod.PageError as e:
        raise ProposalError(str(e)) from None
    if result.changed:
        return f"{page.path}: wrote {len(found[0].chapters)} proposed chapters over its placeholder timestamps"
    return f"{page.path}: no placeholder timestamps to fill (left as it is)"
