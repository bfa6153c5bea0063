"""Metrics for the evaluation set: pure functions over text, a talk's truth and a draft.

Used by ``scripts/evaluate.py`` and ``scripts/bench.py``, unit-tested by
``tests/test_evallib.py`` and ``tests/test_terms.py``. No model runs here, no process
starts, no file is read (``evalkit.harness`` does that; ``evalkit.truth`` reads truth.json).

How each figure is measured (the README of the evaluation, in short):

- **Word error rate**: both texts go through Whisper's English normaliser
  (PyPI ``whisper-normalizer``, ``EnglishTextNormalizer``: lower case, no
  punctuation, British to American spelling, numbers to digits, fillers such as
  "um" dropped), then jiwer counts substitutions, deletions and insertions over
  the reference's words. Headings, the draft's italic note, `` [?]`` flags and
  ``<!-- -->`` comments are not speech and are stripped first.
- **Words in their true chapter**: each reference word carries the chapter it
  is spoken in. The draft's words (in order, all chapters together) are aligned
  to the reference's by edit distance (jiwer); a matched or substituted word
  takes its reference word's chapter, an inserted word that of the nearer
  reference neighbour (either, on a tie). The share is the part of the draft's
  words whose draft chapter (found by its heading's title) is that chapter.
- **Boundary error**: the draft's Markdown carries no audio times, so a draft
  chapter's boundary is the time at which the reference word matched to its
  first matched word is spoken (word times interpolated inside each utterance
  by character length; an utterance's first word starts exactly at its start;
  invented words have no time and are passed over). A chapter put exactly where
  it begins scores 0 s; one that starts two words late scores the time those
  words take. A true chapter with no draft heading has no boundary (None).
- **False no-speech chapters**: draft chapters that say "No speech in this part"
  although their true chapter (found by the heading's title) has words spoken
  in it.
- **Paragraph lengths**: words (whitespace-separated) per draft paragraph.
- **Invented words in silence or music**: draft words inserted (matched to no
  reference word) between two reference words that have a music, noise or
  silence span between them. The same rule is used for the bare model's text,
  so the two are comparable.
- **Names and terms spelled right**: the terms are the glossary's canonical
  forms and the speakers' names (the page's speakers, whole and word by word,
  and the truth's speaker labels that are names). Each occurrence in the
  reference (case-sensitive; a lower-case term such as "pandas" also
  capitalised at a sentence start, but not elsewhere: "a Pandas DataFrame" is
  the human transcriber's spelling, not the project's; longest term first, no
  overlaps) is right when the draft word(s)
  aligned to it (edit distance on lower-cased words, punctuation and a
  possessive 's stripped) are spelled exactly like it. No normaliser here: it
  would erase the case and the joins ("PyLadies") being measured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import jiwer
from pipeline import draft
from pipeline.schema import NO_SPEECH

from .truth import Truth

NORMALIZER = "whisper_normalizer.english.EnglishTextNormalizer (Whisper's English normaliser)"


@lru_cache(maxsize=1)
def _normalizer():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize(text: str) -> str:
    """Whisper's English normalisation: what WER is computed on."""
    return re.sub(r"\s+", " ", _normalizer()(text)).strip()


def normalized_words(text: str) -> list[str]:
    return normalize(text).split()


# ---------------------------------------------------------------- the draft


@dataclass
class DraftChapter:
    title: str | None  # None: text before the first heading
    heading_time: float | None  # the (mm:ss) the heading shows, in seconds
    paragraphs: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.paragraphs)


DRAFT_HEADING = re.compile(r"^#{2,6}\s+(.*?)\s*(?:\((\d{1,2}(?::\d{2}){1,2})\))?\s*$")
COMMENT = re.compile(r"<!--.*?-->", re.S)
FLAG = re.compile(r"\s*\[\?\]")


def parse_time(text: str) -> float:
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


DRAFT_NOTE = re.compile(r"_[^_].*_|\*[^*].*\*")


def parse_draft(body: str) -> list[DraftChapter]:
    """A draft's Markdown (read by ``pipeline.draft``) as chapters of plain paragraphs.

    Drops the first block when it is one italic line (the machine-draft note), `` [?]`` flags,
    ``<!-- ... -->`` comments and speaker labels; keeps headings' titles and times apart from
    the text. Other notes and part lines stay as text (``*(No speech in this part.)*``).
    """
    blocks = draft.parse_draft(COMMENT.sub("", body.replace("\r\n", "\n")))
    if blocks and DRAFT_NOTE.fullmatch(blocks[0].raw.strip()):
        blocks = blocks[1:]
    chapters = [DraftChapter(None, None)]
    for block in blocks:
        heading = DRAFT_HEADING.match(block.raw) if block.kind == "heading" else None
        if heading:
            time = heading.group(2)
            chapters.append(DraftChapter(heading.group(1).strip() or None, parse_time(time) if time else None))
            continue
        if block.kind == "paragraph":
            text = " ".join(word.text for word in block.words)
        else:
            text = FLAG.sub("", " ".join(block.raw.split()))
        if text.strip():
            chapters[-1].paragraphs.append(re.sub(r"\s+", " ", text).strip())
    if not chapters[0].paragraphs:
        chapters.pop(0)
    return chapters


@dataclass(frozen=True)
class RefWord:
    text: str  # normalised
    chapter: int
    start: float
    end: float


def reference_words(truth: Truth) -> list[RefWord]:
    """The normalised reference words, each with its chapter and an estimated time.

    Times are spread over the utterance in proportion to the words' lengths.
    """
    out: list[RefWord] = []
    for u in truth.utterances:
        words = normalized_words(u.text)
        if not words:
            continue
        weights = [len(w) + 1 for w in words]
        per_unit = (u.end - u.start) / sum(weights)
        t = u.start
        for word, weight in zip(words, weights, strict=True):
            out.append(RefWord(word, u.chapter, t, t + weight * per_unit))
            t += weight * per_unit
    return out


# ---------------------------------------------------------------- metrics


@dataclass
class WerResult:
    wer: float
    reference_words: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions


def process_words(reference: list[str], hypothesis: list[str]):
    # jiwer rejects an empty reference; a one-word dummy on both sides changes no count.
    return jiwer.process_words(" ".join(["<s>", *reference]), " ".join(["<s>", *hypothesis]))


def word_error_rate(reference: str, hypothesis: str) -> WerResult:
    """WER after Whisper's English normalisation of both texts."""
    ref, hyp = normalized_words(reference), normalized_words(hypothesis)
    if not ref:
        return WerResult(float(len(hyp) > 0), 0, 0, 0, len(hyp))
    out = process_words(ref, hyp)
    return WerResult(out.wer * (len(ref) + 1) / len(ref), len(ref), out.substitutions, out.deletions, out.insertions)


def align_to_reference(reference: list[str], hypothesis: list[str]) -> list[tuple[int | None, int, int]]:
    """For each hypothesis word: (matched reference index or None, previous ref index, next ref index).

    A matched or substituted word has its reference index; an inserted word has
    None and the reference words on either side (-1 before the first,
    len(reference) after the last).
    """
    out: list[tuple[int | None, int, int]] = [(None, -1, -1)] * len(hypothesis)
    if not hypothesis:
        return out
    result = process_words(reference, hypothesis)
    for chunk in result.alignments[0]:
        # Indices include the leading dummy word.
        r0, h0, h1 = chunk.ref_start_idx - 1, chunk.hyp_start_idx - 1, chunk.hyp_end_idx - 1
        if chunk.type in ("equal", "substitute"):
            for k in range(h1 - h0):
                if h0 + k >= 0:
                    out[h0 + k] = (r0 + k, r0 + k - 1, r0 + k + 1)
        elif chunk.type == "insert":
            for k in range(max(h0, 0), h1):
                out[k] = (None, r0 - 1, r0)
    return out


def _nearest_references(hyp_index: int, alignment: list[tuple[int | None, int, int]], n_ref: int) -> list[int]:
    """The reference word(s) a hypothesis word stands for.

    A matched or substituted word: its reference word. An inserted word: the
    nearer of its two reference neighbours, counted by position inside its run
    of insertions; both on a tie (either chapter is then right for it).
    """
    matched, before, after = alignment[hyp_index]
    if matched is not None:
        return [matched]
    if n_ref == 0:
        return []
    run_start = hyp_index
    while run_start > 0 and alignment[run_start - 1][0] is None and alignment[run_start - 1][1] == before:
        run_start -= 1
    run_end = hyp_index
    while run_end + 1 < len(alignment) and alignment[run_end + 1][0] is None and alignment[run_end + 1][1] == before:
        run_end += 1
    to_before, to_after = hyp_index - run_start + 1, run_end - hyp_index + 1
    if before < 0:
        return [min(after, n_ref - 1)]
    if after >= n_ref:
        return [before]
    if to_before == to_after:
        return [before, after]
    return [before] if to_before < to_after else [after]


def _title_key(title: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", " ", (title or "").lower()).strip()


def draft_chapter_labels(draft: list[DraftChapter], truth: Truth) -> list[int | None]:
    """The true chapter each draft chapter stands for, by its heading's title (None: no such chapter)."""
    by_title: dict[str, int] = {}
    for i, chapter in enumerate(truth.chapters):
        by_title.setdefault(_title_key(chapter.title), i)
    return [by_title.get(_title_key(c.title)) if c.title else None for c in draft]


@dataclass
class ChapterScore:
    words: int  # draft words scored
    in_true_chapter: int
    boundary_errors: list[float | None]  # per true chapter after the first; None: no draft chapter for it

    @property
    def share(self) -> float:
        return self.in_true_chapter / self.words if self.words else 1.0

    @property
    def boundary_known(self) -> list[float]:
        return [e for e in self.boundary_errors if e is not None]


def score_chapters(truth: Truth, draft: list[DraftChapter]) -> ChapterScore:
    """Share of draft words in their true chapter, and each chapter boundary's error in seconds."""
    ref = reference_words(truth)
    labels = draft_chapter_labels(draft, truth)
    hyp: list[str] = []
    hyp_draft_chapter: list[int | None] = []
    first_word_of: dict[int, int] = {}  # true chapter -> index of the first hypothesis word of its draft chapter
    for chapter, label in zip(draft, labels, strict=True):
        words = normalized_words(chapter.text)
        if label is not None and words and label not in first_word_of:
            first_word_of[label] = len(hyp)
        hyp += words
        hyp_draft_chapter += [label] * len(words)
    alignment = align_to_reference([w.text for w in ref], hyp)
    in_chapter = sum(
        hyp_draft_chapter[k] is not None
        and any(ref[r].chapter == hyp_draft_chapter[k] for r in _nearest_references(k, alignment, len(ref)))
        for k in range(len(hyp))
    )
    errors: list[float | None] = []
    for c in range(1, len(truth.chapters)):
        # The chapter's first word that matches a reference word: an invented word has no time of its own.
        k = first_word_of.get(c)
        while k is not None and k < len(hyp) and hyp_draft_chapter[k] == c and alignment[k][0] is None:
            k += 1
        matched = alignment[k][0] if k is not None and k < len(hyp) and hyp_draft_chapter[k] == c else None
        errors.append(None if matched is None else abs(ref[matched].start - truth.chapters[c].start))
    return ChapterScore(len(hyp), in_chapter, errors)


NO_SPEECH_NOTE = f"*({NO_SPEECH})*"  # what render writes for a chapter without words


def false_no_speech_chapters(truth: Truth, draft: list[DraftChapter]) -> int:
    """Draft chapters rendered as "No speech in this part" although words are spoken in their true chapter."""
    spoken = {u.chapter for u in truth.utterances if normalized_words(u.text)}
    labels = draft_chapter_labels(draft, truth)
    return sum(
        label in spoken and chapter.paragraphs == [NO_SPEECH_NOTE]
        for chapter, label in zip(draft, labels, strict=True)
        if label is not None
    )


@dataclass
class ParagraphStats:
    count: int
    min: int
    p10: float
    median: float
    p90: float
    max: int
    mean: float

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("count", "min", "p10", "median", "p90", "max", "mean")}


def paragraph_stats(lengths: list[int]) -> ParagraphStats:
    """Distribution of paragraph lengths in words."""
    import numpy as np

    if not lengths:
        return ParagraphStats(0, 0, 0.0, 0.0, 0.0, 0, 0.0)
    a = np.asarray(lengths, dtype=float)
    return ParagraphStats(
        len(lengths),
        int(a.min()),
        round(float(np.percentile(a, 10)), 1),
        round(float(np.median(a)), 1),
        round(float(np.percentile(a, 90)), 1),
        int(a.max()),
        round(float(a.mean()), 1),
    )


def paragraph_lengths(draft: list[DraftChapter]) -> list[int]:
    return [len(p.split()) for c in draft for p in c.paragraphs]


def invented_in_non_speech(truth: Truth, hypothesis: str, margin: float = 0.2) -> int:
    """Hypothesis words inserted between two reference words that have music, noise or silence between them."""
    if not truth.non_speech:
        return 0
    ref = reference_words(truth)
    hyp = normalized_words(hypothesis)
    alignment = align_to_reference([w.text for w in ref], hyp)
    count = 0
    for matched, before, after in alignment:
        if matched is not None:
            continue
        gap_start = ref[before].end if before >= 0 else 0.0
        gap_end = ref[after].start if after < len(ref) else truth.duration
        if any(s.start >= gap_start - margin and s.end <= gap_end + margin for s in truth.non_speech):
            count += 1
    return count


def total_wer(results: list[WerResult]) -> WerResult:
    """Word-weighted WER over several talks."""
    n = sum(r.reference_words for r in results)
    s, d, i = (sum(getattr(r, k) for r in results) for k in ("substitutions", "deletions", "insertions"))
    return WerResult((s + d + i) / n if n else 0.0, n, s, d, i)
