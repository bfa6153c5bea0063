"""``chapters PAGE``: the chapters proposed for each video of a page, and filling its placeholder timestamps.

CONTRACT (other modules rely on these names; keep them):

- ``page_proposals(page_path, config) -> list[VideoProposals]``: per video, the chapters
  ``propose.propose_chapters`` finds in its words: from the cached transcription when ``run``
  left one (same model, options and page context: the same cache entry), else by the same
  download and transcription steps as ``run`` (cached for the next run). The words get the
  glossary's spellings first, and with ``--speakers`` the turns ``run`` cached, as the draft's
  do, so the proposals match the draft's headings.
- ``fill_page(page_path, found) -> str``: ``--fill-timestamps``: what was done, in one line.

Raises ``ProposalError`` (one line) for a page that cannot be read or a video that cannot be
had. Nothing is written but by ``fill_page``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import pages as pages_mod
from . import propose as propose_stage
from . import steps
from .cache import Cache
from .config import Config, ConfigError
from .download import DownloadError
from .schema import ProposedChapter, Video


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
    from .runner import Runner

    try:
        runner = Runner(config, Cache.at(config.run.cache_dir or None))
        jobs = [runner.job(page, video) for video in page.videos]
    except (ConfigError, DownloadError) as e:
        raise ProposalError(f"{page.path}: {steps.one_line(e)}") from None
    found = []
    for video, job in zip(page.videos, jobs, strict=True):
        transcription = steps.apply_glossary(_transcription(job, runner), runner.glossary)
        turns = steps.cached_turns(job)  # --speakers: the turns run cached (never diarized here)
        if turns is not None:
            transcription = steps.with_speakers(transcription, turns)
        found.append(VideoProposals(video, propose_stage.propose_chapters(transcription, config.chapters)))
    return page, found


def _transcription(job: steps.VideoJob, runner):
    cached = steps.transcribe_stage.read_cached(job.transcript.path, job.transcript.fingerprint)
    if cached is not None:
        return cached
    try:
        done = steps.video_step(job, lambda: runner.model, runner.cache, runner.config, runner.hooks)
    except Exception as e:  # a failed download or prepare, the model
        raise ProposalError(f"{job.page.path}: cannot transcribe its video: {steps.one_line(e)}") from None
    if not runner.config.run.keep_audio:
        steps.remove_audio(job, runner.cache)
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
