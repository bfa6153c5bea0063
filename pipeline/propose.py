"""Chapter proposals for a talk that has none: where the talk changes, and a title for each part.

CONTRACT (other modules rely on these names; keep them):

- ``propose_chapters(transcription, options: ChapterOptions, *, words=None) -> list[ProposedChapter]``:
  boundaries at sentence starts, in time order, the first at the talk's first words. ``words``:
  the words to use instead of the transcription's (the glossary's spellings, speaker labels).
- ``sentences(words) -> list[Sentence]``: the words cut at sentence ends, long pauses and
  changes of speaker; every boundary the proposals consider is a sentence start.
- ``boundary_scores(sentences, *, use=FEATURES, window, weights=WEIGHTS) -> list[float]``: how
  strongly the talk changes before each sentence, from the features named in ``use`` (the
  evaluation script scores each alone against human chapters, and tunes ``WEIGHTS``).
- ``choose_boundaries(sentences, duration, options, *, use, weights) -> {index: cue}``.

How a boundary is found (measured in README.md, "Proposed chapters"):

- **cue phrases**: "let me share my screen", "over to you", "thank you all for coming";
- **the Q&A**: its start ("any questions", "Q&A" in the talk's second part) and every
  question asked in it (a sentence ending in "?" that opens a turn, or follows "next
  question"), each a chapter of its own titled by the question;
- **topic shifts**: lexical cohesion, TextTiling-like: the content words of ~``window``
  words before and after each sentence start compared (cosine); a deep valley is a shift;
- **pauses**; changes of speaker (when the words carry speakers) end sentences and open turns.

Boundaries are taken strongest first while at least ``min_seconds`` from each other
(questions: ``min_question_seconds``), as long as they stand out from the talk's own
scores: a talk that changes often gets more chapters. Pure functions: no model, no files.
"""

from __future__ import annotations

import bisect
import math
import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .config import ChapterOptions
from .propose_titles import content_tokens, phrase_title, question_title, section_titles
from .schema import (
    CUE_CLOSING,
    CUE_PHRASE,
    CUE_QA,
    CUE_QUESTION,
    CUE_START,
    CUE_TALK,
    CUE_TOPIC,
    ProposedChapter,
    Transcription,
    Word,
)
from .utils import CLOSERS, SENTENCE_END

FEATURES = ("cues", "topic", "pauses", "speakers")
_LONG_PAUSE = 1.0  # seconds of silence that end a sentence the model left without a full stop
# Weights of the features in a boundary's score (each feature is 0..1), tuned on the evaluation
# talks (README.md, "Proposed chapters"). A change of speaker alone scores nothing: with the true
# turns, weight 0.5 lowered F1 (Q&A and panels change speaker every few sentences); turns still
# end sentences and open the Q&A's questions.
WEIGHTS = {"topic": 0.5, "pauses": 1.5, "speakers": 0.0, "cues": 1.0}
PAUSE_FULL = 2.0  # seconds: a pause this long scores fully
QA_FROM = 0.5  # the Q&A begins in the talk's second half
TALK_BEFORE = 0.4  # the speaker's talk begins (a handover, a shared screen) in the talk's first 40%
CLOSING_AFTER = 0.75  # the closing words come in the talk's last quarter
_TURN_PAUSE = 0.6  # seconds: a pause this long before a sentence starts a new turn

_HANDOVER = re.compile(
    r"\b(over to you|hand it (?:over|off) to|turn it over to|pass it (?:over )?to|without further ado|"
    r"take it away|floor is yours)\b",
    re.IGNORECASE,
)
_WELCOME = re.compile(r"\bwelcome (?:everyone |everybody |all )?to\b", re.IGNORECASE)
_SCREEN = re.compile(r"\b(share my screen|sharing my screen|see my screen|see my slides)\b", re.IGNORECASE)
_CLOSING = re.compile(
    r"\b(thank you (?:all|everyone|so much) for (?:coming|joining|attending|being here|watching)|"
    r"thanks (?:all|everyone|everybody) for (?:coming|joining|attending|being here|watching)|"
    r"see you (?:all )?(?:at|in) the next|have a (?:great|good|nice) (?:day|evening|night|weekend))\b",
    re.IGNORECASE,
)
_CUES = re.compile(
    r"\b(let's get started|let's start|let's begin|get started|to wrap up|wrap (?:it|things) up|in conclusion|"
    r"in summary|to summari[sz]e|i'd like to introduce|please welcome|our speaker|today's speaker|welcome to|"
    r"let's (?:talk|look|move on) (?:about|at|to)|moving on to|next topic|next section)\b",
    re.IGNORECASE,
)
_QA = re.compile(
    r"\b(q ?(?:&|and) ?a|questions? and answers?|any questions|take (?:some )?questions|"
    r"open (?:it )?up (?:for|to) questions|questions? from the (?:chat|audience))\b",
    re.IGNORECASE,
)
_QUESTION_INTRO = re.compile(
    r"\b((?:first|next|another|last|final|one more|follow[- ]up|second|third) question|"
    r"question (?:is )?from|(?:someone|somebody|\w+) (?:asks|asked|is asking|wants to know)|"
    r"the question (?:is|was)|(?:has|have) a (?:great |good |quick )?question|question (?:about|around|on))\b",
    re.IGNORECASE,
)


@dataclass
class Sentence:
    words: list[Word]
    pause: float  # silence before it, seconds (the talk's start counts as a long one)
    speaker: int | None = None
    tokens: list[str] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def text(self) -> str:
        return "".join(w.text for w in self.words).strip()


def sentences(words: Sequence[Word]) -> list[Sentence]:
    words = [w for w in words if w.text.strip()]
    found: list[Sentence] = []
    current: list[Word] = []
    for i, word in enumerate(words):
        if current:
            pause = word.start - current[-1].end
            ended = current[-1].text.strip().rstrip(CLOSERS).endswith(SENTENCE_END)
            if ended or pause >= _LONG_PAUSE or word.speaker != current[-1].speaker:
                found.append(_sentence(current, found))
                current = []
        current.append(word)
        if i == len(words) - 1:
            found.append(_sentence(current, found))
    return found


def _sentence(words: list[Word], before: list[Sentence]) -> Sentence:
    pause = words[0].start - before[-1].words[-1].end if before else 5.0
    text = "".join(w.text for w in words)
    return Sentence(list(words), max(0.0, pause), words[0].speaker, content_tokens(text))


# --------------------------------------------------------------------------- features


def cohesion_depths(items: Sequence[Sentence], window: int) -> list[float]:
    """For each sentence start, how deep a valley of lexical cohesion it lies in (0: none).

    Cohesion at a start is the cosine of the content tokens of the ``window`` tokens before
    and after it; the depth is how far it dips below the highest cohesion on either side.
    """
    flat: list[str] = []
    offsets = []
    for s in items:
        offsets.append(len(flat))
        flat.extend(s.tokens)
    cohesion = [_cosine(Counter(flat[max(0, o - window) : o]), Counter(flat[o : o + window])) for o in offsets]
    depths = []
    for i, value in enumerate(cohesion):
        if offsets[i] < window // 3 or len(flat) - offsets[i] < window // 3:
            depths.append(0.0)  # too few words on one side to compare
            continue
        lo = bisect.bisect_left(offsets, offsets[i] - window)
        hi = bisect.bisect_right(offsets, offsets[i] + window)
        left, right = max(cohesion[lo : i + 1]), max(cohesion[i:hi])
        depths.append(left + right - 2 * value)
    return depths


def _cosine(a: Counter, b: Counter) -> float:
    dot = sum(n * b[t] for t, n in a.items())
    norm = math.sqrt(sum(n * n for n in a.values()) * sum(n * n for n in b.values()))
    return dot / norm if norm else 0.0


def _cue_strength(item: Sentence) -> float:
    text = item.text
    return 1.0 if any(p.search(text) for p in (_CUES, _QA, _HANDOVER, _SCREEN, _CLOSING)) else 0.0


def boundary_scores(
    items: Sequence[Sentence],
    *,
    use: Sequence[str] = FEATURES,
    window: int = 100,
    weights: Mapping[str, float] = WEIGHTS,
) -> list[float]:
    depths = cohesion_depths(items, window) if "topic" in use else [0.0] * len(items)
    top = max(depths, default=0.0) or 1.0
    scores = []
    for i, item in enumerate(items):
        score = 0.0
        if "topic" in use:
            score += weights["topic"] * depths[i] / top
        if "pauses" in use:
            score += weights["pauses"] * min(item.pause, PAUSE_FULL) / PAUSE_FULL
        if "speakers" in use and i and item.speaker is not None and item.speaker != items[i - 1].speaker:
            score += weights["speakers"]
        if "cues" in use:
            score += weights["cues"] * _cue_strength(item)
        scores.append(score)
    return scores


# --------------------------------------------------------------------------- the talk's structure


def turn_start(items: Sequence[Sentence], i: int, back: int = 3) -> int:
    """The first sentence of the turn holding sentence ``i`` (a pause or a new speaker before it),
    looking at most ``back`` sentences back."""
    for k in range(i, max(0, i - back), -1):
        if items[k].pause >= _TURN_PAUSE or items[k].speaker != items[k - 1].speaker:
            return k
    return max(0, i - back) if i - back > 0 else i


def talk_start(items: Sequence[Sentence], duration: float) -> int | None:
    """Where the speaker's talk begins: after a handover ("over to you"), or the turn that shares
    the screen; the first such cue in the talk's first part."""
    for i, item in enumerate(items[1:], start=1):
        if item.start > TALK_BEFORE * duration:
            break
        if _HANDOVER.search(item.text) and i + 1 < len(items):
            return i + 1
        if _SCREEN.search(item.text):
            return turn_start(items, i)
    return None


def closing(items: Sequence[Sentence], duration: float) -> int | None:
    """The turn that thanks everyone for coming, in the talk's last part (the last such)."""
    for i in range(len(items) - 1, 0, -1):
        if items[i].start < CLOSING_AFTER * duration:
            break
        if _CLOSING.search(items[i].text):
            return turn_start(items, i)
    return None


def qa_start(items: Sequence[Sentence], duration: float) -> int | None:
    """The turn where the Q&A begins: the first Q&A cue ("Q&A", "any questions") in the talk's second
    half. ("The question is" alone is no Q&A: speakers ask themselves questions.)"""
    for i, item in enumerate(items):
        if item.start >= QA_FROM * duration and _QA.search(item.text):
            return turn_start(items, i)
    return None


def questions(items: Sequence[Sentence], first: int, min_gap: float) -> list[tuple[int, str]]:
    """(sentence where the question's turn starts, the question's text) for each question of the Q&A:
    a sentence ending in "?" that opens a turn, or that a "next question" announces."""
    found: list[tuple[int, str]] = []
    turn = first
    for i in range(first, len(items)):
        item = items[i]
        if i > first and (item.pause >= _TURN_PAUSE or item.speaker != items[i - 1].speaker):
            turn = i
        intro = _QUESTION_INTRO.search(item.text)
        if not (_asks(item) or intro):
            continue
        start = turn if intro or i - turn <= 2 else None
        text = item.text if _asks(item) else _next_question(items, i)
        if start is None or text is None or (found and items[start].start - items[found[-1][0]].start < min_gap):
            continue
        found.append((start, text))
    return found


def _asks(item: Sentence) -> bool:
    """A question of a few words at least ("Right?" asks nothing)."""
    return item.text.rstrip(CLOSERS).endswith("?") and len(item.words) >= 4


def _next_question(items: Sequence[Sentence], i: int) -> str | None:
    """The question a "next question" announces: the next sentence that asks, within three."""
    return next((item.text for item in items[i : i + 4] if _asks(item)), None)


# --------------------------------------------------------------------------- choosing


def propose_chapters(
    transcription: Transcription, options: ChapterOptions, *, words: Sequence[Word] | None = None
) -> list[ProposedChapter]:
    items = sentences(transcription.words if words is None else words)
    if not items:
        return []
    duration = max(transcription.audio_duration, items[-1].words[-1].end)
    chosen = choose_boundaries(items, duration, options)
    return titled(items, chosen)


def choose_boundaries(
    items: Sequence[Sentence],
    duration: float,
    options: ChapterOptions,
    *,
    use: Sequence[str] = FEATURES,
    weights: Mapping[str, float] = WEIGHTS,
) -> dict[int, str]:
    """Sentence index -> cue, for the sentences that start a chapter (always the first)."""
    chosen: dict[int, str] = {0: CUE_START}
    chosen.update(_structure(items, duration, options) if "cues" in use else {})
    scores = boundary_scores(items, use=use, window=options.window_words, weights=weights)
    cut = statistics.fmean(scores) + options.threshold_sd * statistics.pstdev(scores) if len(scores) > 1 else 1.0
    for i in sorted(range(len(items)), key=lambda k: -scores[k]):
        if scores[i] < cut:
            break
        if all(abs(items[i].start - items[j].start) >= options.min_seconds for j in chosen):
            chosen[i] = CUE_PHRASE if "cues" in use and _cue_strength(items[i]) else CUE_TOPIC
    return dict(sorted(chosen.items()))


def _structure(items: Sequence[Sentence], duration: float, options: ChapterOptions) -> dict[int, str]:
    """The boundaries cue phrases fix: the talk's start, the Q&A and each question, the closing;
    each at least ``min_question_seconds`` after the one before."""
    found: dict[int, str] = {}
    first = qa_start(items, duration)
    asked = questions(items, first, options.min_question_seconds) if first is not None else []
    # "Q&A" said in passing is no Q&A: its first question must follow within a minute
    if first is not None and asked and items[asked[0][0]].start - items[first].start <= 60:
        found[first] = CUE_QA
        found.update({start: CUE_QUESTION for start, _ in asked if start != first})
    for index, cue in ((talk_start(items, duration), CUE_TALK), (closing(items, duration), CUE_CLOSING)):
        if index is not None:
            found.setdefault(index, cue)
    kept: dict[int, str] = {0: CUE_START}
    for i in sorted(found):
        if items[i].start - items[max(kept)].start >= options.min_question_seconds:
            kept[i] = found[i]  # (a first question just after the Q&A's start titles the Q&A chapter)
    kept.pop(0)
    return kept


def titled(items: Sequence[Sentence], chosen: dict[int, str]) -> list[ProposedChapter]:
    """The chosen boundaries as chapters, each titled from its own words."""
    starts = sorted(chosen)
    spans = list(zip(starts, [*starts[1:], len(items)], strict=True))
    fixed = {}
    for k, (a, b) in enumerate(spans):
        title = _cue_title(items[a : min(b, a + 4)], chosen[a])
        if title:
            fixed[k] = title
    texts = [" ".join(s.text for s in items[a:b]) for k, (a, b) in enumerate(spans) if k not in fixed]
    plain = iter(section_titles(texts, taken=fixed.values()))
    return [
        ProposedChapter(start=round(items[a].start, 2), title=fixed[k] if k in fixed else next(plain), cue=chosen[a])
        for k, (a, _) in enumerate(spans)
    ]


def _cue_title(head: Sequence[Sentence], cue: str) -> str | None:
    """The title a chapter's cue gives it from its first sentences: the question it asks, the
    closing's thanks, the opening's welcome; None: titled by its key phrase."""
    if cue in (CUE_QUESTION, CUE_QA):
        asked = next((s.text for s in head if _asks(s)), None)
        return question_title(asked) if asked else ("Q&A" if cue == CUE_QA else None)
    pattern = {CUE_CLOSING: _CLOSING, CUE_START: _WELCOME}.get(cue)
    text = " ".join(s.text for s in head)
    return phrase_title(text, pattern) if pattern is not None else None
