"""Scores for who-speaks-when against a known truth (``evalkit.speakers``; used by scripts/evaluate_speakers.py).

Every score maps the hypothesis' speakers to the truth's people one to one, the
mapping that agrees most (an exact search: a talk has few speakers, so no
Hungarian solver is needed):

- :func:`diarization_error`: the diarization error rate over 10 ms frames, as
  NIST defines it (missed speech + false alarm + confusion) / reference speech,
  with an optional no-score collar around each reference boundary;
- :func:`word_attribution`: the share of the draft's words given to the person
  whose speech they lie in;
- :func:`name_scores`: of the labels, how many names are right, wrong or withheld.

In the evaluation talks a *person* is a voice: the truth's label for unlabelled
text ("speaker", "host") is spoken by the same voice as a named person, and no
diarizer can tell them apart, so :func:`truth_turns` keys turns by voice and
:func:`truth_names` gives each voice the names said in it.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .truth import Truth

FRAME = 0.01  # seconds
GENERIC_LABELS = frozenset({"host", "speaker", "asterisk"})
GENERIC_NAME = re.compile(r"^Speaker \d+$")

Span = tuple[float, float, str]  # start, end, who
H = TypeVar("H", bound=Hashable)
R = TypeVar("R", bound=Hashable)


def best_mapping(weights: Mapping[tuple[H, R], float]) -> dict[H, R]:
    """The one-to-one mapping of hypothesis keys to reference keys with the largest total weight.

    ``weights[(hyp, ref)]`` is how much they agree (seconds, words); pairs not
    given weigh 0 and are never mapped.
    """
    hyps = sorted({h for h, _ in weights}, key=str)
    refs = sorted({r for _, r in weights}, key=str)
    if len(refs) > 16:
        raise ValueError(f"{len(refs)} reference speakers: too many for the exact search")

    @cache
    def best(i: int, used: int) -> tuple[float, tuple[int, ...]]:
        # Best total for hyps[i:] with the reference columns in `used` taken; -1 marks "unmapped".
        if i == len(hyps):
            return 0.0, ()
        total, rest = best(i + 1, used)
        choice: tuple[float, tuple[int, ...]] = (total, (-1, *rest))
        for j, ref in enumerate(refs):
            w = weights.get((hyps[i], ref), 0.0)
            if w > 0 and not used & (1 << j):
                total, rest = best(i + 1, used | (1 << j))
                if total + w > choice[0]:
                    choice = (total + w, (j, *rest))
        return choice

    _, picks = best(0, 0)
    return {h: refs[j] for h, j in zip(hyps, picks, strict=True) if j >= 0}


@dataclass(frozen=True)
class DiarizationError:
    missed: float  # seconds of reference speech with fewer hypothesis speakers
    false_alarm: float  # seconds of hypothesis speakers beyond the reference's
    confusion: float  # seconds given to the wrong (mapped) speaker
    reference: float  # seconds of reference speech (speaker-weighted)

    @property
    def rate(self) -> float:
        return (self.missed + self.false_alarm + self.confusion) / self.reference if self.reference else 0.0


def _frames(spans: Sequence[Span], n: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for start, end, who in spans:
        frames = out.setdefault(who, np.zeros(n, dtype=bool))
        frames[int(round(start / FRAME)) : int(round(end / FRAME))] = True
    return out


def diarization_error(reference: Sequence[Span], hypothesis: Sequence[Span], collar: float = 0.0) -> DiarizationError:
    """NIST's diarization error over frames; ``collar`` seconds each side of a reference boundary are not scored."""
    end = max([e for _, e, _ in [*reference, *hypothesis]], default=0.0)
    n = int(round(end / FRAME)) + 1
    ref, hyp = _frames(reference, n), _frames(hypothesis, n)
    scored = np.ones(n, dtype=bool)
    if collar > 0:
        c = int(round(collar / FRAME))
        for start, stop, _ in reference:
            for t in (int(round(start / FRAME)), int(round(stop / FRAME))):
                scored[max(0, t - c) : t + c] = False
    overlap = {(h, r): float(np.sum(hyp[h] & ref[r] & scored)) for h in hyp for r in ref}
    mapping: dict[str, str] = best_mapping({k: v for k, v in overlap.items() if v > 0})
    n_ref = np.sum([ref[r] for r in ref], axis=0) if ref else np.zeros(n)
    n_hyp = np.sum([hyp[h] for h in hyp], axis=0) if hyp else np.zeros(n)
    n_correct = np.sum([hyp[h] & ref[r] for h, r in mapping.items()], axis=0) if mapping else np.zeros(n)
    n_ref, n_hyp, n_correct = n_ref[scored], n_hyp[scored], n_correct[scored]
    return DiarizationError(
        missed=float(np.sum(np.maximum(0, n_ref - n_hyp))) * FRAME,
        false_alarm=float(np.sum(np.maximum(0, n_hyp - n_ref))) * FRAME,
        confusion=float(np.sum(np.minimum(n_ref, n_hyp) - n_correct)) * FRAME,
        reference=float(np.sum(n_ref)) * FRAME,
    )


def read_rttm(path: str | Path) -> list[Span]:
    """RTTM ``SPEAKER`` lines as (start, end, speaker)."""
    spans = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            start, duration = float(parts[3]), float(parts[4])
            spans.append((start, start + duration, parts[7]))
    return spans


def truth_turns(truth: Truth) -> list[Span]:
    """The evaluation talk's utterances as spans keyed by voice (see the module's note)."""
    return [(u.start, u.end, u.voice) for u in truth.utterances]


def truth_names(truth: Truth) -> dict[str, set[str]]:
    """Each voice's names: the truth's speaker labels in it that are people's names."""
    names: dict[str, set[str]] = {}
    for u in truth.utterances:
        names.setdefault(u.voice, set())
        if u.speaker not in GENERIC_LABELS:
            names[u.voice].add(u.speaker)
    return names


def person_at(spans: Sequence[Span], start: float, end: float) -> str | None:
    """Who the reference says speaks over [start, end]: most overlap, else the nearest span."""
    best, best_overlap, best_distance = None, 0.0, float("inf")
    for s, e, who in spans:
        overlap = min(e, end) - max(s, start)
        if overlap > best_overlap:
            best, best_overlap = who, overlap
        elif best_overlap <= 0:
            distance = max(s - end, start - e)
            if distance < best_distance:
                best, best_distance = who, distance
    return best


@dataclass(frozen=True)
class Attribution:
    correct: int
    total: int
    mapping: dict[Any, Any]  # hypothesis speaker -> reference person

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def word_attribution(
    word_times: Sequence[tuple[float, float]], word_speakers: Sequence[Hashable | None], reference: Sequence[Span]
) -> Attribution:
    """The share of words whose (mapped) speaker is the person speaking at the word's time."""
    truth = [person_at(reference, s, e) for s, e in word_times]
    counts: dict[tuple[Any, Any], float] = {}
    for hyp, ref in zip(word_speakers, truth, strict=True):
        if hyp is not None and ref is not None:
            counts[(hyp, ref)] = counts.get((hyp, ref), 0.0) + 1
    mapping = best_mapping(counts)
    correct = sum(1 for h, r in zip(word_speakers, truth, strict=True) if h is not None and mapping.get(h) == r)
    return Attribution(correct, len(truth), mapping)


@dataclass(frozen=True)
class NameScore:
    right: int
    wrong: int
    withheld: int  # generic "Speaker N" labels


def name_matches(label: str, names: set[str]) -> bool:
    """A label names a person when one of its words is one of their names ("Ali Spittel" and "Ali")."""
    words = {w.lower() for w in re.findall(r"[\w'-]+", label)}
    return any(n.lower() in words or n.lower() == label.lower() for n in names)


def name_scores(labels: Mapping[Any, str], mapping: Mapping[Any, Any], names: Mapping[Any, set[str]]) -> NameScore:
    """Names right, wrong (a name on the wrong person, or on a speaker that maps to nobody) and withheld."""
    right = wrong = withheld = 0
    for speaker, label in labels.items():
        if GENERIC_NAME.match(label):
            withheld += 1
        elif speaker in mapping and name_matches(label, names.get(mapping[speaker], set())):
            right += 1
        else:
            wrong += 1
    return NameScore(right, wrong, withheld)
