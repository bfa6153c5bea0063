"""Render aligned transcripts as the Markdown body of a page's Transcript section.

CONTRACT (other modules rely on these names; keep them):

- ``render_transcript(parts, *, model, date, link_times=False) -> str``: ``parts`` is
  a list of ``schema.RenderedPart(url, label, alignment, flags)``, one per video, each
  with its own flags (``schema.Flag`` spans). Returns the body ("\\n" line endings,
  ending in one "\\n"); ``pages.write_transcript`` wraps it in the draft markers. No
  files are written here.

Chapters are ``###`` headings, sub-chapters (``level`` 1) ``####``, with the page's
time: ``### Title (12:34)``. Where the video is on YouTube each ``[?]`` links to the
second it marks (``[?](https://youtu.be/ID?t=754)``), so a reviewer editing on GitHub
clicks and hears it; ``link_times`` (``[render] link_times``) links the headings' times
the same way: ``### Title [(12:34)](https://youtu.be/ID?t=754)``. Other media keep
plain times.

With speakers (``RenderedPart.speakers``: index -> label) the paragraph that starts a
turn begins with ``**Label:** ``; later paragraphs of the same turn (also past a
heading) carry no label, as the human transcripts do, and the note says the labels
are machine guesses.
- ``count_flags_per_chapter(alignment, flags) -> list[int]``: how many flags
  render puts in each of ``alignment.chapters``.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import draft
from .draft import one_line
from .pages.links import youtube_id
from .schema import LEAD, NO_SPEECH, SECTION, AlignedChapter, Alignment, Flag, Paragraph, RenderedPart
from .utils import format_timestamp


def render_transcript(parts: Sequence[RenderedPart], *, model: str, date: str, link_times: bool = False) -> str:
    placed_parts = [_place_flags(part.alignment, list(part.flags)) for part in parts]
    counts = _flag_counts(parts, placed_parts)
    blocks = [
        draft.note(
            model,
            date,
            counts,
            speakers=any(part.speakers for part in parts),
            proposed=any(part.proposed for part in parts),
        )
    ]
    for index, (part, placed) in enumerate(zip(parts, placed_parts, strict=True), start=1):
        url, alignment = part.url, part.alignment
        if len(parts) > 1:
            blocks.append(draft.part_line(index, len(parts), part.label, url))
        video_id = youtube_id(url)
        turns = _TurnLabels(part.speakers)
        for chapter, chapter_flags in zip(alignment.chapters, placed, strict=True):
            blocks.extend(_chapter_blocks(chapter, chapter_flags, video_id, link_times, turns))
    return "\n\n".join(blocks) + "\n"


def _flag_counts(parts: Sequence[RenderedPart], placed_parts: list) -> list[tuple[str, int]]:
    """(chapter name, flags in it) for each chapter with flags: where the reviewer should listen again."""
    counts = []
    for index, (part, placed) in enumerate(zip(parts, placed_parts, strict=True), start=1):
        prefix = f"part {index}, " if len(parts) > 1 else ""
        for chapter, per_paragraph in zip(part.alignment.chapters, placed, strict=True):
            n = sum(len(v) for v in per_paragraph.values())
            if n:
                name = one_line(chapter.title) if chapter.title else format_timestamp(chapter.start)
                counts.append((f"{prefix}{name}", n))
    return counts


def count_flags_per_chapter(alignment: Alignment, flags: Sequence[Flag] | None) -> list[int]:
    return [sum(len(v) for v in per_paragraph.values()) for per_paragraph in _place_flags(alignment, list(flags or []))]


class _TurnLabels:
    """The ``**Label:** `` a paragraph starts with: only where a new speaker's turn begins."""

    def __init__(self, labels: dict[int, str]):
        self.labels = labels
        self.current: int | None = None

    def label(self, paragraph: Paragraph) -> str | None:
        speaker = paragraph.speaker
        if speaker is None or speaker not in self.labels or speaker == self.current:
            return None
        self.current = speaker
        return self.labels[speaker]


def _chapter_blocks(
    chapter: AlignedChapter,
    flags: dict[int, list[tuple[int, Flag]]],
    video_id: str | None,
    link_times: bool,
    turns: _TurnLabels,
) -> list[str]:
    blocks = []
    if chapter.kind != LEAD:
        blocks.append(_heading(chapter, video_id if link_times else None))
    if not chapter.paragraphs:
        blocks.append(draft.aside(chapter.note or NO_SPEECH))
    for p, paragraph in enumerate(chapter.paragraphs):
        text = _paragraph_text(paragraph, flags.get(p, []), video_id)
        blocks.append(draft.paragraph(text, turns.label(paragraph)))
    return blocks


def _heading(chapter: AlignedChapter, video_id: str | None) -> str:
    """``### Title (12:34)``, ``####`` for a sub-chapter; the time links to the video when given its id."""
    level = 4 if chapter.level >= 1 and chapter.kind != SECTION else 3
    title = "" if chapter.kind == SECTION else (chapter.title or "")
    link = draft.video_link(video_id, chapter.start) if video_id is not None else None
    return draft.heading(level, title, chapter.start, link)


def _place_flags(alignment: Alignment, flags: list[Flag]) -> list[dict[int, list[tuple[int, Flag]]]]:
    """For each chapter: paragraph index -> [(index of the flagged span's last word, flag)]."""
    placed: list[dict[int, list[tuple[int, Flag]]]] = [{} for _ in alignment.chapters]
    for flag in sorted(flags, key=lambda f: f[0]):
        start, end, _ = flag
        last = None
        for c, chapter in enumerate(alignment.chapters):
            for p, paragraph in enumerate(chapter.paragraphs):
                for w, word in enumerate(paragraph.words):
                    if word.start < end and word.end > start:
                        last = (c, p, w)
        if last is not None:  # a span over no word (silence) has nothing to mark
            c, p, w = last
            placed[c].setdefault(p, []).append((w, flag))
    return placed


def _paragraph_text(paragraph: Paragraph, flags: list[tuple[int, Flag]], video_id: str | None) -> str:
    marks: dict[int, list[str]] = {}
    for w, (start, _end, reason) in flags:
        link = draft.video_link(video_id, start) if video_id is not None else None
        marks.setdefault(w, []).append(draft.flag_mark(start, reason, link))
    return "".join(word.text + "".join(marks.get(w, [])) for w, word in enumerate(paragraph.words))
