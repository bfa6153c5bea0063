"""Assign transcribed words to the page's chapters and break them into paragraphs.

CONTRACT (other modules rely on these names; keep them):

- ``align(transcription, chapters, options: AlignOptions) -> Alignment``
  ``chapters`` is a list of ``schema.Chapter`` in page order (may be empty); the
  result's types (``Alignment``, ``AlignedChapter``, ``Paragraph``, the kinds) are in ``schema``.
- ``metadata_chapters(chapters: list[dict]) -> list[Chapter]``: the video's own
  chapters as yt-dlp reports them (``download.Media.chapters``), for a page that
  lists none.

A pure function: no model, no files. Words (not segments) are assigned. A
chapter's boundary is snapped from the page's time to the best sentence start
within ``snap_tolerance`` (human timestamps are often seconds off), so no
sentence is split across chapters; headings keep the page's own time.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from .config import AlignOptions
from .schema import (
    LEAD,
    NO_SPEECH,
    SECTION,
    SPEECH_ELSEWHERE,
    AlignedChapter,
    Alignment,
    Chapter,
    Paragraph,
    Transcription,
    Word,
)
from .utils import CLOSERS, SENTENCE_END, format_timestamp


def ends_sentence(word: Word) -> bool:
    return word.text.strip().rstrip(CLOSERS).endswith(SENTENCE_END)


class _Words:
    """The transcription's words with the facts the boundaries are chosen by.

    Boundary ``b`` (0..n) lies before word ``b``: 0 is the start, n the end.
    """

    def __init__(self, words: list[Word]):
        self.words = words
        self.n = len(words)

        self.starts = [w.start for w in words]

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


def metadata_chapters(chapters: Sequence[dict]) -> list[Chapter]:
    """yt-dlp's ``chapters`` (``[{"start_time", "end_time", "title"}]``) as Chapters in time order.

    Entries without a usable start time or title are dropped; a title's extra
    whitespace is collapsed.
    """
    found = []
    for raw in chapters:
        start, title = raw.get("start_time"), " ".join(str(raw.get("title") or "").split())
        if isinstance(start, bool) or not isinstance(start, int | float) or not math.isfinite(start) or not title:
            continue
        found.append(Chapter(start=max(0.0, float(start)), title=title))
    return sorted(found, key=lambda c: c.start)


# --------------------------------------------------------------------------- chapters

# Boundary scores. A boundary gains for starting a sentence and for the pause before
# it, and loses with its distance from the page's time; one that splits a sentence
# loses most. A chapter left empty while words start within its page times costs
# more than moving a boundary a few seconds, but less than splitting a sentence.
_SENTENCE_BONUS = 2.0
_PAUSE_WEIGHT = 1.5
_PAUSE_CAP = 3.0
_DISTANCE_WEIGHT = 0.25
_PAUSE_ONLY_COST = 3.0  # a short pause without a sentence end
_LONG_PAUSE = 1.0  # seconds: a pause this long starts a sentence even without a full stop (the model left it out)
_SPLIT_COST = 8.0  # inside a sentence, without a pause
_EMPTY_COST = 4.0
# A chapter whose own stretch (from its time to the next chapter's) holds this many spoken words is not
# left empty when no sentence starts near the next chapter's time (within this share of snap_tolerance):
# that costs more than any split inside a sentence, so the next chapter starts at the best pause inside it.
_SPOKEN_WORDS = 3
_NEAR_SHARE = 0.25
_SPOKEN_EMPTY_COST = 20.0
_HOPELESS = -1e6  # the end of the audio, for a chapter whose time is well before it
_FURTHER = 4  # sentence starts up to this many tolerances away are still candidates


def _chapters(words: _Words, chapters: list[Chapter], duration: float, options: AlignOptions) -> Alignment:
    result = Alignment()
    kept = _drop_repeats(chapters, result.warnings)
    targets, notes = _targets(kept, duration, result.warnings)
    # Snap in time order (stable: page order among equal times), never moving backwards.
    order = sorted(range(len(kept)), key=lambda i: targets[i])
    snapped = [i for i in order if i not in notes]
    boundaries = dict(zip(snapped, _snap_all(words, [targets[i] for i in snapped], options), strict=True))
    boundaries.update({i: words.n for i in notes})  # after the end: no words
    ends = {}
    for rank, i in enumerate(order):
        ends[i] = boundaries[order[rank + 1]] if rank + 1 < len(order) else words.n
    spoken = dict(zip(order, _spoken_words(words, [targets[i] for i in order]), strict=True))

    first = min(boundaries.values())
    if first > 0:
        result.chapters.append(
            AlignedChapter(
                title=None,
                start=0.0,
                audio_start=0.0,
                audio_end=words.time(first),
                paragraphs=_paragraphs(words.words[:first], options),
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
            # Never "no speech" over words: a word or two at this time went with a neighbour's sentence.
            aligned.note = SPEECH_ELSEWHERE if spoken[i] else NO_SPEECH
        result.chapters.append(aligned)
    return result


def _drop_repeats(chapters: list[Chapter], warnings: list[str]) -> list[Chapter]:
    """The chapters without exact repeats (same time and title), which pages sometimes list twice."""
    seen: set[tuple[float, str]] = set()
    kept: list[Chapter] = []
    for chapter in chapters:
        key = (chapter.start, " ".join(chapter.title.split()))
        if key in seen:
            warnings.append(
                f"chapter {chapter.title!r} at {format_timestamp(chapter.start)} is listed twice; kept once"
            )
            continue
        seen.add(key)
        kept.append(chapter)
    return kept


def _targets(chapters: list[Chapter], duration: float, warnings: list[str]) -> tuple[list[float], dict[int, str]]:
    """Where each chapter's time points in the audio (clamped), and notes for those after its end."""
    targets: list[float] = []
    notes: dict[int, str] = {}
    end = format_timestamp(duration)
    for i, chapter in enumerate(chapters):
        stamp = format_timestamp(chapter.start)
        if chapter.start < 0:
            warnings.append(f"chapter {chapter.title!r} starts before the audio ({chapter.start:g} s); placed at 00:00")
        elif chapter.start > duration:
            warnings.append(f"chapter {chapter.title!r} at {stamp} starts after the audio ends ({end})")
            notes[i] = f"This chapter's time ({stamp}) is after the end of the audio ({end})."
        previous = chapters[i - 1] if i else None
        if previous is not None and chapter.start < previous.start:
            warnings.append(
                f"chapter {chapter.title!r} at {stamp} comes before the previous chapter's time "
                f"({format_timestamp(previous.start)}); its text is taken from {stamp} on"
            )
        elif previous is not None and chapter.start == previous.start:
            warnings.append(
                f"chapters {previous.title!r} and {chapter.title!r} have the same time {stamp}; the first is left empty"
            )
        targets.append(min(max(chapter.start, 0.0), duration))
    return targets, notes


def _score(words: _Words, b: int, target: float, min_pause: float) -> float:
    """How good boundary ``b`` is for a chapter meant to start at ``target``."""
    distance = abs(words.time(b) - target)
    if b >= words.n:  # the end of the audio: only for a chapter after the last word
        return _SENTENCE_BONUS - _DISTANCE_WEIGHT * distance if target >= words.time(b) - 1.0 else _HOPELESS
    pause = words.pause(b)
    score = _PAUSE_WEIGHT * min(pause, _PAUSE_CAP) - _DISTANCE_WEIGHT * distance
    if _breaks(words, b):
        return score + _SENTENCE_BONUS
    return score - (_PAUSE_ONLY_COST if pause >= min_pause else _SPLIT_COST)


def _breaks(words: _Words, b: int) -> bool:
    """Whether boundary ``b`` (< n) starts a sentence: after a sentence end, or after a long pause."""
    return words.sentence_start(b) or words.pause(b) >= _LONG_PAUSE


def _owed_speech(words: _Words, targets: list[float], tolerance: float) -> list[bool]:
    """For each chapter, whether a sentence starts nearer its time than any other chapter's (within
    ``tolerance``): such a chapter must not be left empty. Of chapters with the same time, the last
    owns what starts there (the first is left empty, as the page asks)."""
    owed = []
    for i, target in enumerate(targets):
        lo = (targets[i - 1] + target) / 2 if i else -math.inf
        hi = (target + targets[i + 1]) / 2 if i + 1 < len(targets) else math.inf
        if i + 1 < len(targets) and targets[i + 1] == target:
            owed.append(False)
            continue
        first = bisect.bisect_left(words.starts, max(lo, target - tolerance))
        last = bisect.bisect_left(words.starts, min(hi, target + tolerance))
        owed.append(any(_breaks(words, b) for b in range(first, min(last, words.n))))
    return owed


def _spoken_words(words: _Words, targets: list[float]) -> list[int]:
    """For each chapter (``targets`` ascending), how many words start between its time and the next's."""
    ends = [*targets[1:], math.inf]
    return [
        bisect.bisect_left(words.starts, end) - bisect.bisect_left(words.starts, t)
        for t, end in zip(targets, ends, strict=True)
    ]


def _sentence_near(words: _Words, target: float, distance: float) -> bool:
    """Whether a sentence starts within ``distance`` seconds of ``target``."""
    lo = bisect.bisect_left(words.starts, target - distance)
    hi = bisect.bisect_right(words.starts, target + distance)
    return any(_breaks(words, b) for b in range(lo, hi))


def _candidates(words: _Words, target: float, tolerance: float, min_pause: float) -> list[tuple[int, float]]:
    """(boundary, score) worth considering for a chapter at ``target``, in boundary order.

    Every boundary within ``tolerance``; sentence starts further away (for a time
    inside a long run-on or a silence); the first word at or after the time; the end.
    """
    lo = bisect.bisect_left(words.starts, target - _FURTHER * tolerance)
    hi = bisect.bisect_right(words.starts, target + _FURTHER * tolerance)
    picked = {b for b in range(lo, hi) if abs(words.time(b) - target) <= tolerance or _breaks(words, b)}
    picked.add(min(bisect.bisect_left(words.starts, target), words.n))
    picked.add(words.n)
    return [(b, _score(words, b, target, min_pause)) for b in sorted(picked)]


def _snap_all(words: _Words, targets: list[float], options: AlignOptions) -> list[int]:
    """Boundaries for chapters meant to start at ``targets`` (ascending), chosen together.

    Each chapter's best boundary alone is near its time; chosen together, they stay in
    order, and two close chapters do not collapse onto one boundary (leaving the first
    empty) while a sentence starts nearer the first's time: the best-scoring sequence wins.
    """
    if words.n == 0 or not targets:
        return [0] * len(targets)
    tolerance, min_pause = options.snap_tolerance, options.min_pause
    candidates = [_candidates(words, t, tolerance, min_pause) for t in targets]
    empty_costs = [_EMPTY_COST * owed for owed in _owed_speech(words, targets, tolerance)]
    for i, count in enumerate(_spoken_words(words, targets)[:-1]):
        if count >= _SPOKEN_WORDS and not _sentence_near(words, targets[i + 1], _NEAR_SHARE * tolerance):
            empty_costs[i] = _SPOKEN_EMPTY_COST
    best = [score for _, score in candidates[0]]
    links: list[list[int]] = []
    for i in range(1, len(targets)):
        empty_cost = empty_costs[i - 1]  # chapter i - 1 is empty when chapter i starts where it does
        row, link = [], []
        for b, score in candidates[i]:
            value, choice = -math.inf, 0
            for k, (before, _) in enumerate(candidates[i - 1]):
                if before <= b and best[k] - empty_cost * (before == b) > value:
                    value, choice = best[k] - empty_cost * (before == b), k
            row.append(value + score)
            link.append(choice)
        best = row
        links.append(link)
    final = [value - empty_costs[-1] * (b == words.n) for (b, _), value in zip(candidates[-1], best, strict=True)]
    k = max(range(len(final)), key=final.__getitem__)
    chosen = [k]
    for link in reversed(links):
        k = link[k]
        chosen.append(k)
    chosen.reverse()
    return [candidates[i][k][0] for i, k in enumerate(chosen)]


def _snap(words: _Words, target: float, lowest: int, tolerance: float, min_pause: float) -> int:
    """The best boundary (>= ``lowest``) for one section meant to start at ``target``."""
    if words.n == 0:
        return 0
    if target <= words.time(lowest):
        return lowest
    candidates = [(b, s) for b, s in _candidates(words, target, tolerance, min_pause) if b >= lowest]
    return max(candidates, key=lambda c: c[1])[0]


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
            section.note = NO_SPEECH
        result.chapters.append(section)
    return result


# --------------------------------------------------------------------------- paragraphs


def _paragraphs(words: list[Word], options: AlignOptions) -> list[Paragraph]:
    """A paragraph break at every change of speaker (words without one are one voice), then
    within each turn at sentence ends."""
    paragraphs: list[Paragraph] = []
    start = 0
    for i in range(1, len(words) + 1):
        if i == len(words) or words[i].speaker != words[start].speaker:
            paragraphs.extend(_turn_paragraphs(words[start:i], options))
            start = i
    return paragraphs


def _turn_paragraphs(words: list[Word], options: AlignOptions) -> list[Paragraph]:
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
        Paragraph(start=words[a].start, end=words[b - 1].end, words=words[a:b])
        for a, b in zip(cuts, cuts[1:], strict=False)
        if b > a
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
