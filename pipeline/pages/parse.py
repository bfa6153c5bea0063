"""Parsing one page's text into a ``Page``: the pure parser, no file system.

It ties the concerns together: title, speakers and tags (``metadata``), videos
and embeds (``videos``), chapter lists (``chapters``), the Transcript section
(``section``), and chapters from companion drafts (``companions``), which the
caller reads and passes in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from .. import schema
from ..schema import Page, Video
from .chapters import assign_blocks, chapter_blocks
from .companions import Companion, companion_chapters
from .lines import Line, clean, keywords, split_lines
from .links import VIDEO_LINE_RE
from .metadata import find_speakers, find_tags, find_title
from .section import Section, classify_section, find_transcript_heading
from .videos import find_videos, section_names

# Repository documents that are never events, and unnumbered drafts such as "x201-some-talk.md".
_NON_EVENT_NAME_RE = re.compile(
    r"^(?:readme|contributing|completed|event-listings?|index|license|changelog|code_of_conduct)\b|^[a-z]{1,3}\d",
    re.IGNORECASE,
)


def _not_an_event_reason(path: Path, source: Path | None, title: str, has_transcript_heading: bool) -> str | None:
    name = path.name.lower()
    folders = [p.lower() for p in path.parts[:-1]] + ([source.parent.name.lower()] if source is not None else [])
    if "misc" in folders:
        return "a companion draft in misc/"
    # Event pages in the repository are numbered; an unnumbered page (a user's own,
    # say) counts only when it has a Transcript heading and is no known document.
    if not name[:1].isdigit() and (_NON_EVENT_NAME_RE.match(name) or not has_transcript_heading):
        return "its file name is not numbered like an event page's (NN-name.md)"
    if "template" in name:
        return "a template"
    if re.search(r"\[title of talk\]|^first last\b", title, re.IGNORECASE):
        return "an unfilled template"
    return None


def parse_page(
    text: str, *, path: str | Path = "page.md", source: Path | None = None, companions: Sequence[Companion] = ()
) -> Page:
    """Parse page text into a Page. Never raises, reads no file.

    ``source`` is only recorded (and a ``misc/`` parent marks a companion draft);
    ``companions`` are the page's candidate companion drafts, used when the page
    has videos but no chapters of its own (``CompanionIndex.for_page`` finds them).
    """
    path = Path(path)
    lines = split_lines(text)
    title, title_line = find_title(lines)
    names = section_names(lines, title_line)
    head = find_transcript_heading(lines)
    stop = head if head is not None else len(lines)
    warnings: list[str] = []
    page = Page(path=str(path), title=title, state=schema.NOT_AN_EVENT, source=source)
    page.tags = find_tags(lines)
    page.speakers = find_speakers(title, lines, names, stop)

    reason = _not_an_event_reason(path, source, title, head is not None)
    if reason:
        page.warnings.append(f"not an event page: {reason}")  # what `scan` shows and `run` gives as the skip reason
        return page

    title_words = keywords(title) | keywords(" ".join(page.speakers))
    videos = find_videos(lines, names, stop, title_words, warnings)
    blocks = chapter_blocks(lines, 0, stop)
    sec = classify_section(text, lines, head) if head is not None else None
    if sec is not None:
        blocks += chapter_blocks(sec.rest, 0, len(sec.rest), in_transcript=True)
    if videos:
        assign_blocks(videos, blocks, "chapters", warnings)
        if companions and not any(v.chapters for v in videos):
            page_words = title_words | keywords(path.stem) | _video_words(lines, stop, videos)
            companion_chapters(companions, videos, page_words, warnings)
    elif any(b.lines for b in blocks):
        warnings.append("chapters found but no video")

    if sec is not None:
        page.section = sec.kind
        page.draft = sec.draft
        warnings.extend(_section_warnings(sec))
    page.videos = videos
    page.warnings = warnings
    page.state = page_state(page)
    return page


def _video_words(lines: list[Line], stop: int, videos: list[Video]) -> set[str]:
    """The words of the videos' labels and of the page's Video lines: what a companion may share with the page."""
    video_labels = " ".join(v.label or "" for v in videos)
    label_words = keywords(
        " ".join(
            clean(lines[i].text)
            for i in range(stop)
            if not lines[i].fenced and VIDEO_LINE_RE.match(clean(lines[i].text).strip())
        )
    )
    return keywords(video_labels) | label_words


def _section_warnings(sec: Section) -> list[str]:
    if sec.kind == "edited":
        return ["the draft was edited by a human since this tool wrote it; it is never replaced"]
    if sec.kind not in ("empty", "draft"):
        return []
    kept = [
        w
        for w, k in (
            ("an agenda/chapter list", sec.kept_agenda),
            ("hashtags", sec.kept_tags),
            ("a placeholder", sec.kept_other),
        )
        if k
    ]
    return [f"Transcript section holds only {' and '.join(kept)}; kept below the transcript"] if kept else []


def page_state(page: Page) -> str:
    """The page's state, from what its Transcript section holds and whether it has a video."""
    if page.section is None:
        return schema.NO_TRANSCRIPT_SECTION
    if page.section in ("human", "edited"):
        return schema.HAS_TRANSCRIPT
    if page.section == "draft":
        return schema.HAS_DRAFT
    return schema.NEEDS_TRANSCRIPT if page.videos else schema.NO_VIDEO
