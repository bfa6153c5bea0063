"""The review page's data: a page's draft as blocks of timed words, and saving the edits back.

CONTRACT (the review server and the tests rely on these names):

- ``open_review(page_path, config, *, cache_dir=None) -> ReviewSession``: read the
  page, find its videos' media and cached transcriptions (transcribing as ``run``
  would when the cache lacks them), and time every word of the draft. Raises
  ``ReviewError`` (one line) for a page without a draft, a page a human
  transcribed, or media that cannot be found.
- the draft body (as ``pages.read_transcript`` returns it) is read as headings, notes,
  part lines and paragraphs of words and flags by ``draft.parse_draft``.
- ``time_words(blocks, words_per_part)``: give every word a start and end from the
  transcription(s), by a sequence alignment of the draft's tokens to the model's.
- ``draft_to_json(session) -> dict``: what the page's JavaScript renders.
- ``save_edits(session, paragraphs) -> str``: write the edited paragraphs (id ->
  Markdown) into the page's Transcript section; raises ``PageChangedError`` when
  the file changed since the session began and ``ReviewError`` for a bad edit.

"""

from __future__ import annotations

import difflib
import hashlib
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import download, pages, steps, transcribe
from .cache import Cache
from .config import Config, ConfigError
from .download_errors import DownloadError
from .draft import Block, FlagMark, Word, paragraph_markdown, parse_draft, parse_paragraph
from .hooks import StageHooks, Trace
from .job import JobMaker, Lazy, VideoJob, cache_of, lazy_model
from .schema import Transcription
from .utils import one_line

# Media a browser's <audio> plays as it is; anything else is transcoded once, with the shipped ffmpeg.
PLAYABLE_SUFFIXES = {".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".webm", ".wav", ".flac", ".mp4"}


class ReviewError(Exception):
    """Something the user can fix; str(e) is one line."""


class PageChangedError(ReviewError):
    """The page on disk is not the one the review began with."""


@dataclass
class MediaSource:
    url: str  # the video as the page names it
    path: Path  # a file the browser can play
    content_type: str


@dataclass
class ReviewSession:
    page_path: Path
    title: str
    blocks: list[Block]
    media: list[MediaSource]
    file_hash: str  # sha256 of the page's bytes when the review began (or was last saved)
    draft_hash: str  # sha256 of the draft body: keys the browser's unsaved edits
    timed: list = field(default_factory=list)  # per video: ([(start, end, text)], duration), to re-time after a save


# --------------------------------------------------------------------------- word times


def _token_key(text: str) -> str:
    return re.sub(r"[^\w']+", "", text.lower()).strip("'")


def _spread(words: Sequence[Word], start: float, end: float) -> None:
    """Times for words the model did not say (added or respelt by a human): evenly between their neighbours."""
    if not words:
        return
    step = max(0.0, end - start) / len(words)
    for i, word in enumerate(words):
        word.start, word.end = start + i * step, start + (i + 1) * step


# The draft is matched to the model's words a stretch at a time: difflib on two whole 90-minute talks
# (15,000 words each) takes seconds, on stretches of a few hundred words milliseconds, and a human's
# edits never move a word further than a stretch.
ALIGN_STRETCH = 300


def _matched_tokens(keys: Sequence[str], model_keys: Sequence[str]) -> dict[int, int]:
    """draft token index -> model token index, in order, for the tokens the two share."""
    matched: dict[int, int] = {}
    pos = 0
    for lo in range(0, len(keys), ALIGN_STRETCH):
        stretch = keys[lo : lo + ALIGN_STRETCH]
        window = model_keys[pos : pos + 2 * ALIGN_STRETCH + 100]
        matcher = difflib.SequenceMatcher(None, stretch, window, autojunk=False)
        advance = None
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                if stretch[block.a + k]:
                    matched[lo + block.a + k] = pos + block.b + k
            if block.size >= 3 or (advance is None and block.size):
                advance = block.b + block.size  # a lone common word far ahead must not pull the window there
        pos += advance or 0
    return matched


def align_words(draft_words: Sequence[Word], timed: Sequence[tuple[float, float, str]], duration: float) -> None:
    """Give each draft word the time of the model's word it matches; the rest are spread between matches."""
    matched = _matched_tokens([_token_key(w.text) for w in draft_words], [_token_key(text) for _, _, text in timed])
    pending: list[Word] = []
    last_end = 0.0
    for i, word in enumerate(draft_words):
        if i not in matched:
            pending.append(word)
            continue
        start, end, _ = timed[matched[i]]
        _spread(pending, last_end, max(last_end, start))
        pending = []
        word.start, word.end = start, end
        last_end = end
    _spread(pending, last_end, max(last_end, duration))


def _mark_flagged(block: Block) -> None:
    """The words of a flagged passage: from the time the mark names (else the mark's own word) to the mark."""
    since = 0
    for i, item in enumerate(block.items):
        if not isinstance(item, FlagMark):
            continue
        words = [w for w in block.items[since:i] if isinstance(w, Word)]
        chosen = [w for w in words if item.time is not None and w.end > item.time - 0.5] or words[-1:]
        for word in chosen:
            word.flag = item.reason
        since = i + 1


def time_words(blocks: Sequence[Block], words_per_part: Sequence[tuple[Sequence[tuple[float, float, str]], float]]):
    """Time every paragraph word of each part against that part's (words, duration)."""
    for part, (timed, duration) in enumerate(words_per_part):
        draft_words = [w for b in blocks if b.kind == "paragraph" and b.part == part for w in b.words]
        align_words(draft_words, timed, duration)
    for block in blocks:
        if block.kind == "paragraph":
            _mark_flagged(block)


# --------------------------------------------------------------------------- the page, its media and words


def _check_reviewable(page: pages.Page) -> None:
    if page.draft is None:
        if page.section == "human":
            raise ReviewError(f"{page.path}: the Transcript section holds a human transcript, not a draft to review")
        raise ReviewError(f"{page.path}: no draft to review (state {page.state}); make one with `run` first")
    if not page.videos:
        raise ReviewError(f"{page.path}: the page names no video to listen to")


def _playable(path: Path, cache: Cache, key: str) -> Path:
    """The media as the browser can play it: as it is, or transcoded once to Opus in the cache."""
    if path.suffix.lower() in PLAYABLE_SUFFIXES:
        return path
    from .audio import ffmpeg_path

    target = cache.review_media_path(key)
    with cache.lock(f"review-{key}"):
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial.webm")
            command = [ffmpeg_path(), "-nostdin", "-v", "error", "-y", "-i", str(path), "-vn", "-c:a", "libopus"]
            result = subprocess.run([*command, "-b:a", "64k", str(partial)], capture_output=True, text=True)
            if result.returncode != 0:
                raise ReviewError(f"{path.name}: the browser cannot play it and ffmpeg cannot convert it")
            partial.replace(target)
    return target


_CONTENT_TYPES = {".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".aac": "audio/aac", ".mp4": "audio/mp4"}
_CONTENT_TYPES |= {".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".webm": "audio/webm"}
_CONTENT_TYPES |= {".wav": "audio/wav", ".flac": "audio/flac"}


def _video_jobs(page: pages.Page, config: Config, cache: Cache) -> list[VideoJob]:
    """Each video's job as ``run`` makes it: the same cache key, and the same transcription entry."""
    try:
        jobs = JobMaker(config, cache)
        return [jobs.job(page, video) for video in page.videos]
    except (ConfigError, DownloadError) as e:
        raise ReviewError(f"{page.path}: {one_line(e)}") from None


def _transcription(job: VideoJob, model: Lazy[transcribe.LoadedModel], config: Config, cache: Cache) -> Transcription:
    """The model's own words for the video, as ``run`` caches them: from the cache, else transcribed now.

    Without the glossary's respellings: a respelt word matches no model word and is timed
    between its neighbours, a fraction of a second off, for a tenth of the time.
    """
    cached = job.transcript.read()
    if cached is not None:
        return cached
    hooks = StageHooks(None, Trace.from_environment())
    try:
        done = steps.video_step(job, model, cache, config, hooks)
    except Exception as e:  # a failed download or prepare (RuntimeError), the model (ModelError)
        raise ReviewError(f"{job.page.path}: cannot transcribe its video: {one_line(e)}") from None
    if not config.run.keep_audio:
        steps.remove_audio(job, cache)
    return done.transcription


def _media_file(job: VideoJob, config: Config, cache: Cache) -> MediaSource:
    media = download.cached_media(job.location, cache)
    if media is None:
        try:
            media = download.download(job.location, cache, config.download)
        except DownloadError as e:
            raise ReviewError(f"media missing: {one_line(e)}") from None
    path = _playable(Path(media.path), cache, job.key)
    return MediaSource(url=job.location, path=path, content_type=_CONTENT_TYPES.get(path.suffix.lower(), "audio/webm"))


def draft_model(page_path: str | Path) -> str | None:
    """The model named in the page's draft marker (its cached words time the draft), or None."""
    try:
        draft = pages.read_page(page_path).draft
    except pages.PageError:
        return None  # open_review says what is wrong with the page
    return draft.model if draft else None


def open_review(page_path: str | Path, config: Config, *, cache_dir: str | Path | None = None) -> ReviewSession:
    try:
        page = pages.read_page(page_path)
    except pages.PageError as e:
        raise ReviewError(str(e)) from None
    _check_reviewable(page)
    cache = cache_of(config, cache_dir)
    jobs = _video_jobs(page, config, cache)
    models = lazy_model(config, StageHooks(None, Trace.from_environment()))  # loaded once, if some video needs it
    transcriptions = [_transcription(job, models, config, cache) for job in jobs]
    media = [_media_file(job, config, cache) for job in jobs]
    data = Path(page_path).read_bytes()
    body = pages.read_transcript(page_path) or ""
    blocks = parse_draft(body)
    timed = [([(w.start, w.end, w.text) for w in t.words], t.audio_duration) for t in transcriptions]
    time_words(blocks, timed)
    return ReviewSession(
        page_path=Path(page_path),
        title=page.title,
        blocks=blocks,
        media=media,
        file_hash=hashlib.sha256(data).hexdigest(),
        draft_hash=hashlib.sha256(body.encode("utf-8")).hexdigest(),
        timed=timed,
    )


# --------------------------------------------------------------------------- to the browser and back


def _block_json(index: int, block: Block) -> dict:
    data: dict = {"id": index, "kind": block.kind, "part": block.part}
    if block.kind != "paragraph":
        return data | {"text": block.text, "level": block.level, "start": block.start}
    items: list[dict] = []
    for item in block.items:
        if isinstance(item, FlagMark):
            items.append({"mark": item.markdown, "reason": item.reason})
        else:
            items.append({"w": item.text, "s": round(item.start, 2), "e": round(item.end, 2), "f": item.flag})
    return data | {"speaker": block.speaker, "items": items}


def draft_to_json(session: ReviewSession) -> dict:
    return {
        "title": session.title,
        "page": session.page_path.name,
        "draftHash": session.draft_hash,
        "parts": len(session.media),
        "blocks": [_block_json(i, b) for i, b in enumerate(session.blocks)],
    }


def _edited_blocks(blocks: Sequence[Block], paragraphs: Mapping[int, str]) -> list[str]:
    out = []
    for index, block in enumerate(blocks):
        if block.kind != "paragraph" or index not in paragraphs:
            out.append(block.raw)
            continue
        edited = paragraphs[index]
        if "\x00" in edited or pages.DRAFT_END in edited or pages.DRAFT_START in edited:
            raise ReviewError("an edited paragraph holds text that would break the page")
        if " ".join(edited.split()) == paragraph_markdown(block):
            out.append(block.raw)  # unchanged: keep a hand-edited draft's own line breaks
            continue
        for piece in edited.split("\n"):  # a reviewer's Enter splits a paragraph
            speaker, items = parse_paragraph(piece)
            if items or speaker:
                out.append(paragraph_markdown(Block("paragraph", "", speaker=speaker, items=items)))
    return out


def save_edits(session: ReviewSession, paragraphs: Mapping[int, str]) -> str:
    """Write the edited paragraphs into the Transcript section only; returns the new draft hash."""
    body = "\n\n".join(_edited_blocks(session.blocks, paragraphs)) + "\n"
    try:
        pages.replace_draft_body(session.page_path, body, expected_sha256=session.file_hash)
    except pages.PageChangedError:
        raise PageChangedError(f"{session.page_path.name} changed on disk since the review began; not saved") from None
    except pages.PageError as e:
        raise ReviewError(str(e)) from None
    session.file_hash = hashlib.sha256(session.page_path.read_bytes()).hexdigest()
    session.blocks = parse_draft(body)  # the browser reloads the draft: new blocks, new times
    time_words(session.blocks, session.timed)
    session.draft_hash = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return session.draft_hash
