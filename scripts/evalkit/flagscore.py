"""How well the draft's ``[?]`` flags point at its errors: pure functions over words and spans.

A flag is a span of audio; a reviewer who checks the flagged passages hears the words inside them.
So every word the model wrote is *flagged* when its time overlaps a flag span (the rule render.py
uses to place a ``[?]``), and *wrong* when the edit-distance alignment to the reference (after
Whisper's normaliser, as for the WER) makes it a substitution or an insertion. A deleted reference
word is an error too; it counts as found when a word beside the gap it leaves is flagged.

- **precision**: the share of flagged words that are wrong;
- **recall**: the share of errors (substitutions, insertions, deletions: the WER's numerator) found
  in or beside a flag;
- **coverage**: the share of the words that are flagged (what the reviewer has to check).

Scored on the model's own words (the cached transcription), before the glossary's spelling fixes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import jiwer

from .metrics import normalized_words


@dataclass(frozen=True)
class TimedWord:
    text: str
    start: float
    end: float


@dataclass
class FlagScore:
    words: int  # the hypothesis's words, normalised
    flagged: int  # of them inside a flag
    flagged_wrong: int  # of those, substituted or inserted
    errors: int  # substitutions + insertions + deletions
    found: int  # errors in or beside a flag

    @property
    def precision(self) -> float | None:
        return self.flagged_wrong / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        return self.found / self.errors if self.errors else None

    @property
    def coverage(self) -> float | None:
        return self.flagged / self.words if self.words else None

    def __add__(self, other: FlagScore) -> FlagScore:
        return FlagScore(
            self.words + other.words,
            self.flagged + other.flagged,
            self.flagged_wrong + other.flagged_wrong,
            self.errors + other.errors,
            self.found + other.found,
        )

    def to_json(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "words": self.words,
            "flagged": self.flagged,
            "flagged_wrong": self.flagged_wrong,
            "errors": self.errors,
            "found": self.found,
            "precision": r(self.precision),
            "recall": r(self.recall),
            "coverage": r(self.coverage),
        }


def flagged_words(words: Iterable[TimedWord], spans: Sequence[tuple[float, float]]) -> list[tuple[str, bool]]:
    """Each word with whether its time overlaps a flag span (start, end)."""
    return [(w.text, any(w.start < end and w.end > start for start, end in spans)) for w in words]


def score_flags(reference: str, words: Sequence[tuple[str, bool]]) -> FlagScore:
    """Precision, recall and coverage of the flags over ``words`` (text, flagged) against ``reference``."""
    hyp: list[str] = []
    marks: list[bool] = []
    # Normalised a run of equally flagged words at a time: "twenty five dollars" is one "$25", "um" none.
    for flagged, run in itertools.groupby(words, key=lambda w: w[1]):
        tokens = normalized_words(" ".join(text for text, _ in run))
        hyp += tokens
        marks += [flagged] * len(tokens)
    ref = normalized_words(reference)
    wrong = [False] * len(hyp)
    found = errors = 0
    # A one-word dummy on both sides: jiwer rejects an empty reference, and it changes no count.
    for chunk in jiwer.process_words(" ".join(["<s>", *ref]), " ".join(["<s>", *hyp])).alignments[0]:
        h0, h1 = chunk.hyp_start_idx - 1, chunk.hyp_end_idx - 1  # indices include the dummy
        if chunk.type in ("substitute", "insert"):
            for k in range(max(h0, 0), h1):
                wrong[k] = True
                errors += 1
                found += marks[k]
        elif chunk.type == "delete":
            beside = [k for k in (h0 - 1, h0) if 0 <= k < len(hyp)]
            deleted = chunk.ref_end_idx - chunk.ref_start_idx
            errors += deleted
            found += deleted * any(marks[k] for k in beside)
    flagged = sum(marks)
    return FlagScore(len(hyp), flagged, sum(m and w for m, w in zip(marks, wrong, strict=True)), errors, found)
