"""One talk's draft scored on every figure of ``metrics`` (and ``terms``)."""

from __future__ import annotations

from dataclasses import dataclass

from .metrics import (
    ChapterScore,
    ParagraphStats,
    WerResult,
    false_no_speech_chapters,
    invented_in_non_speech,
    paragraph_lengths,
    paragraph_stats,
    parse_draft,
    score_chapters,
    word_error_rate,
)
from .terms import TermScore, score_terms
from .truth import Truth


@dataclass
class TalkScore:
    name: str
    duration: float
    wer: WerResult
    chapters: ChapterScore | None  # None where the page has no chapter list
    paragraphs: ParagraphStats
    paragraph_lengths: list[int]
    invented_in_non_speech: int
    non_speech_seconds: float
    terms: TermScore | None = None  # None: no term list given
    false_no_speech: int | None = None  # None where the page has no chapter list

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "audio_seconds": round(self.duration, 2),
            "wer": round(self.wer.wer, 4),
            "reference_words": self.wer.reference_words,
            "substitutions": self.wer.substitutions,
            "deletions": self.wer.deletions,
            "insertions": self.wer.insertions,
            "words_in_true_chapter": None if self.chapters is None else round(self.chapters.share, 4),
            "boundary_errors": None
            if self.chapters is None
            else [None if e is None else round(e, 2) for e in self.chapters.boundary_errors],
            "paragraphs": self.paragraphs.to_json(),
            "paragraph_lengths": self.paragraph_lengths,
            "invented_in_non_speech": self.invented_in_non_speech,
            "non_speech_seconds": round(self.non_speech_seconds, 1),
            "terms": None if self.terms is None else self.terms.to_json(),
            "false_no_speech_chapters": self.false_no_speech,
        }


def score_draft(truth: Truth, draft_body: str, *, terms=None) -> TalkScore:
    """All the figures for one talk's draft (the Markdown that the pipeline wrote); with ``terms``
    (see talk_terms) also how many of their occurrences it spells right."""
    draft = parse_draft(draft_body)
    text = " ".join(c.text for c in draft)
    lengths = paragraph_lengths(draft)
    return TalkScore(
        name=truth.name,
        duration=truth.duration,
        wer=word_error_rate(truth.reference_text, text),
        chapters=score_chapters(truth, draft) if truth.page_has_chapters else None,
        paragraphs=paragraph_stats(lengths),
        paragraph_lengths=lengths,
        invented_in_non_speech=invented_in_non_speech(truth, text),
        non_speech_seconds=sum(s.end - s.start for s in truth.non_speech),
        terms=None if terms is None else score_terms(truth.reference_text, text, terms),
        false_no_speech=false_no_speech_chapters(truth, draft) if truth.page_has_chapters else None,
    )
