"""Chapter boundaries against human ones: precision, recall and F1 within a tolerance.

A proposed boundary is a hit when it lies within ``tolerance`` seconds of a human
boundary not yet taken by a nearer one (one-to-one, closest pairs first). The talk's
start is no boundary: every list begins there. Pure functions over seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BoundaryScore:
    proposed: int
    truth: int
    hits: int

    @property
    def precision(self) -> float:
        return self.hits / self.proposed if self.proposed else (1.0 if not self.truth else 0.0)

    @property
    def recall(self) -> float:
        return self.hits / self.truth if self.truth else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def inner(starts: Sequence[float], skip_before: float = 5.0) -> list[float]:
    """The boundaries that are not the talk's start (the first chapter, at or near 0)."""
    return sorted(s for s in starts if s >= skip_before)


def matched(proposed: Sequence[float], truth: Sequence[float], tolerance: float) -> list[tuple[float, float]]:
    """(proposed, human) pairs within ``tolerance``, one-to-one, the closest pairs first."""
    pairs = sorted(
        (abs(p - t), i, j) for i, p in enumerate(proposed) for j, t in enumerate(truth) if abs(p - t) <= tolerance
    )
    used_p: set[int] = set()
    used_t: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            out.append((proposed[i], truth[j]))
    return out


def score_boundaries(proposed: Sequence[float], truth: Sequence[float], tolerance: float) -> BoundaryScore:
    p, t = inner(proposed), inner(truth)
    return BoundaryScore(proposed=len(p), truth=len(t), hits=len(matched(p, t, tolerance)))


def found_within(targets: Sequence[float], proposed: Sequence[float], tolerance: float) -> int:
    """How many of ``targets`` (e.g. the questions of a Q&A) have a proposed boundary within ``tolerance``."""
    return sum(any(abs(t - p) <= tolerance for p in proposed) for t in targets)
