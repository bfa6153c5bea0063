"""Assign transcribed words to the page's chapters and break them into paragraphs.

CONTRACT (other modules rely on these names; keep them):

- ``align(transcription, chapters, options: AlignOptions) -> Alignment``
  ``chapters`` is a list of ``schema.Chapter`` in page order (may be empty); the
  result's types (``Alignment``, ``AlignedChapter``, ``Paragraph``, the kinds) are in ``schema``.

A pure function: no model, no files. Words (not segments) are assigned. A
chapter's boundary is snapped from the page's time to the best sentence start
within ``snap_tolerance`` (human timestamps are often seconds off), so no
sentence is split across chapters; headings keep the page's own time.
"""

from __future__ import annotations

from collections.abc import Sequence

from .config import AlignOptions
from .schema import CHAPTER as CHAPTER  # re-exported: the kinds and types used to be defined here
from .schema import LEAD, SECTION, AlignedChapter, Alignment, Chapter, Paragraph, Transcription, Word
from .utils import format_timestamp

_SENTENCE_END = (".", "?", "!", "…")
_CLOSERS = "\"'”’)]}"


def ends_sentence(word: Word) -> bool:
    return word.text.strip().rstrip(_CLOSERS).endswith(_SENTENCE_END)


class _Words:
    """The transcription's words with the facts the boundaries are chosen by.

    Boundary ``b`` (0..n) lies before word ``b``: 0 is the start, n the end.
    """

    def __init__(self, words: list[Word]):
        self.words = words
        self.n = len(words)

    def time(self, b: int) -> float:
        """When the text after boundary ``b`` starts."""
        if b >= self.n:
            return self.words[-1].end if self.words else 0.0
        return self.words[b].start

    def pause(self, b: int) -> float:
        """Silence before word ``b`` (the audio's start counts as a long one)."""
        if b == 0:
            return max(2.0, self.words[0].start if self.words else 0.0)
        if b >= self.n:
            return 2.0
        return max(0.0, self.words[b].start - self.words[b - 1].end)

    def sentence_start(self, b: int) -> bool:
        return b == 0 or b >= self.n or ends_sentence(self.words[b - 1])


def align(transcription: Transcription, chapters: Sequence[Chapter], options: AlignOptions) -> Alignment:
    words = _Words([w for w in transcription.words if w.text.strip()])
    duration = max(transcription.audio_duration, words.time(words.n))
    if not chapters:
        return _sections(words, duration, options)
    return _chapters(words, list(chapters), duration, options)


# --------------------------------------------------------------------------- chapters


def _chapters(words: _Words, chapters: list[Chapter], duration: float, options: AlignOptions) -> Alignment:
    result = Alignment()
    seen: set[tuple[float, str]] = set()
    kept: list[Chapter] = []
    for chapter in chapters:
        key = (chapter.start, " ".join(chapter.title.split()))
        if key in seen:
            result.warnings.append(
                f"chapter {chapter.title!r} at {format_timestamp(chapter.start)} is listed twice; kept once"
            )
            continue
        seen.add(key)
        kept.append(chapter)

    # Where each chapter's time points in the audio (clamped), checked against the page order.
    targets: list[float] = []
    notes: dict[int, str] = {}
    previous = None
    for i, chapter in enumerate(kept):
        stamp = format_timestamp(chapter.start)
        if chapter.start < 0:
            result.warnings.append(
                f"chapter {chapter.title!r} starts before the audio ({chapter.start:g} s); placed at 00:00"
            )
        elif chapter.start > duration:
            result.warnings.append(
                f"chapter {chapter.title!r} at {stamp} starts after the audio ends ({format_timestamp(duration)})"
            )
            notes[i] = f"This chapter's time ({stamp}) is after the end of the audio ({format_timestamp(duration)})."
        if previous is not None and chapter.start < previous.start:
            result.warnings.append(
                f"chapter {chapter.title!r} at {stamp} comes before the previous chapter's time "
                f"({format_timestamp(previous.start)}); its text is taken from {stamp} on"
            )
        elif previous is not None and chapter.start == previous.start:
            result.warnings.append(
                f"chapters {previous.title!r} and {chapter.title!r} have the same time {stamp}; the first is left empty"
            )
        previous = chapter
        targets.append(min(max(chapter.start, 0.0), duration))

    # Snap in time order (stable: page order among equal times), never moving backwards.
    order = sorted(range(len(kept)), key=lambda i: targets[i])
    boundaries: dict[int, int] = {}
    lowest = 0
    for i in order:
        if i in notes:  # after the end: no words
            boundaries[i] = words.n
            continue
        b = _snap(words, targets[i], lowest, options.snap_tolerance, options.min_pause)
        boundaries[i] = b
        lowest = b
    ends = {}
    for rank, i in enumerate(order):
        ends[i] = boundaries[order[rank + 1]] if rank + 1 < len(order) else words.n

    first = min(boundaries.values())
    if first > 0:
        lead = words.words[:first]
        result.chapters.append(
            AlignedChapter(
                title=None,
                start=0.0,
                audio_start=0.0,
                audio_end=words.time(first),
                paragraphs=_paragraphs(lead, options),
                kind=LEAD,
            )
        )
    for i, chapter in enumerate(kept):
        b, e = boundaries[i], ends[i]
        aligned = AlignedChapter(
            title=chapter.title,
            start=chapter.start,
            audio_start=words.time(b) if b < words.n else duration,
            audio_end=words.time(e) if e < words.n else duration,
            paragraphs=_paragraphs(words.words[b:e], options),
            level=chapter.level,
            note=notes.get(i),
        )
        if not aligned.paragraphs and aligned.note is None:
            aligned.note = "No speech in this part."
        result.chapters.append(aligned)
    return result


def _snap(words: _Words, target: float, lowest: int, tolerance: float, min_pause: float) -> int:
    """The boundary (>= ``lowest``) where a chapter meant to start at ``target`` begins.

    Prefers a sentence start after a long pause near ``target``; falls back to a
    pause, then to the nearest sentence start further away, so a sentence is split
    only when the transcript has no sentence ends at all.
    """
    if words.n == 0:
        return 0
    if target <= words.time(lowest):
        return lowest
    if target > words.time(words.n):
        return words.n
    near = [b for b in range(lowest, words.n + 1) if abs(words.time(b) - target) <= tolerance]

    def score(b: int) -> float:
        return 2.0 * words.sentence_start(b) + 1.5 * min(words.pause(b), 3.0) - 0.25 * abs(words.time(b) - target)

    sentence_starts = [b for b in near if words.sentence_start(b)]
    if sentence_starts:
        return max(sentence_starts, key=score)
    pauses = [b for b in near if words.pause(b) >= min_pause]
    if pauses:
        return max(pauses, key=score)
    further = [
        b
        for b in range(lowest, words.n + 1)
        if words.sentence_start(b) and abs(words.time(b) - target) <= 4 * tolerance
    ]
    if further:
        return min(further, key=lambda b: abs(words.time(b) - target))
    return min(range(lowest, words.n + 1), key=lambda b: abs(words.time(b) - target))


# --------------------------------------------------------------------------- sections


def _sections(words: _Words, duration: float, options: AlignOptions) -> Alignment:
    """A page without chapters: sections of about ``section_minutes``, each at a sentence start."""
    length = max(60.0, options.section_minutes * 60.0)
    tolerance = max(options.snap_tolerance, length / 10)
    boundaries = [0]
    target = length
    while target < duration - length / 4:  # no stub of a last section
        b = _snap(words, target, boundaries[-1], tolerance, options.min_pause)
        if b >= words.n:
            break
        if b > boundaries[-1]:
            boundaries.append(b)
        target = max(target + length, words.time(b) + length / 2)
    result = Alignment()
    for k, b in enumerate(boundaries):
        e = boundaries[k + 1] if k + 1 < len(boundaries) else words.n
        start = 0.0 if k == 0 else words.time(b)
        section = AlignedChapter(
            title=None,
            start=start,
            audio_start=start,
            audio_end=words.time(e) if e < words.n else duration,
            paragraphs=_paragraphs(words.words[b:e], options),
            kind=SECTION,
        )
        if not section.paragraphs:
            section.note = "No speech in this part."
        result.chapters.append(section)
    return result


# --------------------------------------------------------------------------- paragraphs


def _paragraphs(words: list[Word], options: AlignOptions) -> list[Paragraph]:
    """Break at sentence ends, after a pause once long enough; never over the hard maximum."""
    lo, hi, hard = options.paragraph_min_words, options.paragraph_max_words, options.paragraph_hard_max_words
    cuts = [0]  # paragraph i is words[cuts[i]:cuts[i+1]]
    i = 0
    while i < len(words) - 1:
        size = i + 1 - cuts[-1]
        pause = words[i + 1].start - words[i].end
        sentence = ends_sentence(words[i])
        if sentence and (size >= hi or (size >= lo and pause >= options.min_pause)):
            cuts.append(i + 1)
        elif size >= hard:
            cuts.append(_forced_cut(words, cuts[-1], i + 1, lo, options.min_pause))
            i = cuts[-1] - 1
        i += 1
    cuts.append(len(words))
    # A short tail joins the paragraph before it when they fit together.
    if len(cuts) > 2 and cuts[-1] - cuts[-2] < lo / 2 and cuts[-1] - cuts[-3] <= hi:
        del cuts[-2]
    return [
        Paragraph(start=words[a].start, end=words[b - 1].end, words=words[a:b]) for a, b in zip(cuts, cuts[1:]) if b > a
    ]


def _forced_cut(words: list[Word], first: int, limit: int, min_words: int, min_pause: float) -> int:
    """Where to break a run of ``limit - first`` words that has no good sentence end.

    The last sentence end, else the longest pause, leaving at least ``min_words`` before it.
    """
    candidates = range(min(first + min_words, limit - 1), limit)
    sentence_ends = [k for k in candidates if ends_sentence(words[k - 1])]
    if sentence_ends:
        return sentence_ends[-1]
    return max(candidates, key=lambda k: (words[k].start - words[k - 1].end, k))
