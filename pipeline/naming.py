"""Speaker labels: a person's name when the evidence is good, else ``Speaker 1``, ``Speaker 2``...

CONTRACT (pure functions over plain data; nothing here loads a model):

- ``label_speakers(words, speakers, *, page_speakers=(), chapters=(), other_names=()) -> dict[int, str]``:
  ``words`` are the transcription's words (anything with ``text``, ``start``,
  ``end``), ``speakers`` the speaker index of each word (``None``: unknown), as
  ``pipeline.speakers.assign_speakers`` gives them; ``page_speakers`` the page's
  speaker names (``Page.speakers``), ``chapters`` the page's ``(start, title)``
  pairs, ``other_names`` people the page names who may speak (host, transcriber).
  Every speaker index present gets a label.
- ``collect_evidence(...) -> list[Evidence]`` and ``decide(evidence, order) -> dict[int, str]``: the two halves.

Evidence, strongest first: a self-introduction ("my name is Ty", "I'm Reshama",
"this is Diane in New Jersey"), a name addressed to the neighbouring voice
("thanks, Matt", "over to you, Ali", "I will let Ali get to her presentation"),
and the page's speaker being the one who talks most in the talk's own chapters
(not the introduction or the Q&A). A wrong name is worse than ``Speaker 2``, so a
name is given only when its evidence reaches ``THRESHOLD`` and is at least twice
that of any rival: two plausible names for one voice, or two voices for one name,
give no name at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

THRESHOLD = 2.0  # the evidence a name needs
DOMINANCE = 2.0  # ... and how many times any rival's it must be
TALK_SHARE = 0.6  # the share of the talk chapters' speech that makes its voice the page's speaker

# Capitalised words that follow "I'm" or "thanks" without being names.
_NOT_NAMES = frozenset(
    """i so just going gonna here there excited happy glad not sure really very also still the a an now back done
    good great okay ok sorry fine well ready new from in on at with and but or everyone everybody all guys folks
    you your we our they us them it this that what who how why when where yes yeah no hello hi hey thanks thank
    welcome today tonight python data umbrella pyladies meetup zoom youtube github american canadian indian british
    english french german chinese japanese african nigerian kenyan mexican brazilian spanish italian european
    asian latina latino black jewish muslim catholic monday tuesday wednesday thursday friday saturday sunday""".split()
)
_NAME = r"([A-Z][a-z]+(?:-[A-Z][a-z]+)?)"
# (pattern, weight, needs a known name): the name is the speaker's own.
_SELF = [
    (re.compile(rf"\b[Mm]y name is {_NAME}"), 3.0, False),
    (re.compile(rf"\b(?:I'm|I am) {_NAME}\b(?!')"), 2.0, False),
    (re.compile(rf"\b(?:[Tt]his is|[Ii]t's) {_NAME}(?= (?:in|from|here|speaking)\b)"), 2.0, False),
    (re.compile(rf"\b(?:[Tt]his is|[Ii]t's) {_NAME}(?=[,.!?]|$)"), 2.0, True),  # "It's Monday."
]
# A name nobody else mentions counts only where people introduce themselves: at the start of a
# sentence or after a greeting ("And I'm Sheila in Texas"), not mid-sentence ("so I'm Canadian").
_INTRO_POSITION = re.compile(r"(?:^|[.!?,]|\b(?:and|so|hi|hello|hey|well|oh|okay|yes))\s*$", re.IGNORECASE)
# The name is someone else's: the voice next to this turn (before it for thanks, after it for a hand-over).
_THANKS = re.compile(rf"\b(?:[Tt]hanks|[Tt]hank you)(?: so much| very much)?,? {_NAME}\b")
_HANDOVER = re.compile(
    rf"\b(?:[Oo]ver to you|[Ww]elcome|[Pp]lease welcome|[Hh]and(?: it)? over to|[Pp]ass it (?:over )?to|[Ll]et),? "
    rf"{_NAME}\b"
)
_NOT_TALK = re.compile(
    r"intro|welcome|q\s*&\s*a|q and a|questions?|discussion|wrap|clos|conclu|announce|data umbrella|outro|housekeeping",
    re.IGNORECASE,
)


class WordLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...


@dataclass(frozen=True)
class Evidence:
    speaker: int
    name: str  # as it will be written: a first name
    weight: float  # negative: this voice is not that person
    source: str  # what it rests on, for a reviewer


@dataclass(frozen=True)
class _Turn:
    speaker: int
    text: str
    start: float
    end: float


def generic_label(rank: int) -> str:
    """The label of the ``rank``-th voice (from 1) to speak when no name is sure."""
    return f"Speaker {rank}"


def first_appearance(speakers: Iterable[int | None]) -> list[int]:
    """Speaker indices in the order they first speak."""
    order: list[int] = []
    for s in speakers:
        if s is not None and s not in order:
            order.append(s)
    return order


def first_name(full_name: str) -> str:
    parts = re.findall(r"[A-Z][\w'-]*", full_name.replace("Dr. ", ""))
    return parts[0] if parts else full_name.strip()


def _turns(words: Sequence[WordLike], speakers: Sequence[int | None]) -> list[_Turn]:
    turns: list[_Turn] = []
    texts: list[str] = []
    for word, speaker in zip(words, speakers, strict=True):
        if speaker is None:
            continue
        if turns and turns[-1].speaker == speaker:
            last = turns[-1]
            texts[-1] += word.text
            turns[-1] = _Turn(speaker, "", last.start, word.end)
        else:
            turns.append(_Turn(speaker, "", word.start, word.end))
            texts.append(word.text)
    return [
        _Turn(t.speaker, re.sub(r"\s+", " ", text).strip(), t.start, t.end)
        for t, text in zip(turns, texts, strict=True)
    ]


def _known(names: Iterable[str]) -> dict[str, str]:
    """Lower-cased first name -> first name as the page writes it."""
    return {first_name(n).lower(): first_name(n) for n in names if first_name(n)}


def _plausible(name: str, known: dict[str, str], needs_known: bool) -> str | None:
    if name.lower() in _NOT_NAMES:
        return None
    if name.lower() in known:
        return known[name.lower()]
    return None if needs_known else name


def self_introductions(turns: Sequence[_Turn], known: dict[str, str]) -> list[Evidence]:
    found = []
    for turn in turns:
        for pattern, weight, needs_known in _SELF:
            for m in pattern.finditer(turn.text):
                name = _plausible(m.group(1), known, needs_known)
                if not name:
                    continue
                if name.lower() in known:
                    weight_here = weight + 1.0
                elif _INTRO_POSITION.search(turn.text[: m.start()]) or pattern is _SELF[0][0]:
                    weight_here = weight
                else:
                    weight_here = weight / 2
                found.append(Evidence(turn.speaker, name, weight_here, f"self-introduction: {m.group(0)!r}"))
    return found


def _neighbour(turns: Sequence[_Turn], i: int, step: int) -> int | None:
    j = i + step
    while 0 <= j < len(turns):
        if turns[j].speaker != turns[i].speaker:
            return turns[j].speaker
        j += step
    return None


def addressed_names(turns: Sequence[_Turn], known: dict[str, str]) -> list[Evidence]:
    """Names said to another voice: evidence for that voice, and against the one saying it."""
    found = []
    for i, turn in enumerate(turns):
        for pattern, step in ((_THANKS, -1), (_HANDOVER, +1)):
            for m in pattern.finditer(turn.text):
                name = _plausible(m.group(1), known, needs_known=True)
                if not name:
                    continue
                found.append(Evidence(turn.speaker, name, -THRESHOLD, f"says {m.group(0)!r} to someone else"))
                target = _neighbour(turns, i, step)
                other = _neighbour(turns, i, -step)
                if target is None:
                    target, other = other, None
                if target is not None:
                    # When the voices before and after differ, the thanks or hand-over is only half sure.
                    weight = THRESHOLD if other in (None, target) else THRESHOLD / 2
                    found.append(Evidence(target, name, weight, f"addressed: {m.group(0)!r}"))
    return found


def talk_time(
    turns: Sequence[_Turn], page_speakers: Sequence[str], chapters: Sequence[tuple[float, str]]
) -> list[Evidence]:
    """The voice that holds the talk's own chapters is the page's speaker; with several on the page, any of them."""
    names = list(dict.fromkeys(first_name(n) for n in page_speakers if first_name(n)))
    if not names or not turns:
        return []
    spans = _talk_spans(chapters, turns[-1].end)
    seconds: dict[int, float] = {}
    for turn in turns:
        inside = sum(max(0.0, min(turn.end, b) - max(turn.start, a)) for a, b in spans)
        seconds[turn.speaker] = seconds.get(turn.speaker, 0.0) + inside
    total = sum(seconds.values())
    if total <= 0:
        return []
    top, top_seconds = max(seconds.items(), key=lambda kv: kv[1])
    if top_seconds / total < TALK_SHARE:
        return []
    # One name on the page: enough on its own. Several: each is only plausible, so none wins without more.
    weight = THRESHOLD if len(names) == 1 else THRESHOLD / 2
    share = f"{top_seconds / total:.0%} of the talk's speech"
    return [Evidence(top, name, weight, f"page speaker, {share}") for name in names]


def _talk_spans(chapters: Sequence[tuple[float, str]], end: float) -> list[tuple[float, float]]:
    ordered = sorted(chapters)
    spans = [
        (start, ordered[i + 1][0] if i + 1 < len(ordered) else end)
        for i, (start, title) in enumerate(ordered)
        if not _NOT_TALK.search(title)
    ]
    return spans or [(0.0, end)]


def collect_evidence(
    words: Sequence[WordLike],
    speakers: Sequence[int | None],
    *,
    page_speakers: Sequence[str] = (),
    chapters: Sequence[tuple[float, str]] = (),
    other_names: Sequence[str] = (),
) -> list[Evidence]:
    turns = _turns(words, speakers)
    known = _known([*page_speakers, *other_names])
    found = self_introductions(turns, known)
    known.update(_known(e.name for e in found))  # a voice's own name can then be addressed by the others
    return found + addressed_names(turns, known) + talk_time(turns, page_speakers, chapters)


def decide(evidence: Sequence[Evidence], order: Sequence[int]) -> dict[int, str]:
    """Names where the evidence clears THRESHOLD and beats every rival DOMINANCE times; others are generic."""
    score: dict[tuple[int, str], float] = {}
    for e in evidence:
        score[(e.speaker, e.name)] = score.get((e.speaker, e.name), 0.0) + e.weight
    # First, each name to at most one voice.
    claims: dict[int, list[tuple[float, str]]] = {}
    for name in {n for _, n in score}:
        ranked = sorted(((v, s) for (s, n), v in score.items() if n == name and v > 0), reverse=True)
        if ranked and ranked[0][0] >= THRESHOLD and (len(ranked) == 1 or ranked[0][0] >= DOMINANCE * ranked[1][0]):
            claims.setdefault(ranked[0][1], []).append((ranked[0][0], name))
    # Then each voice to at most one name.
    labels = {}
    for rank, speaker in enumerate(order, 1):
        names = sorted(claims.get(speaker, []), reverse=True)
        if names and (len(names) == 1 or names[0][0] >= DOMINANCE * names[1][0]):
            labels[speaker] = names[0][1]
        else:
            labels[speaker] = generic_label(rank)
    return labels


def label_speakers(
    words: Sequence[WordLike],
    speakers: Sequence[int | None],
    *,
    page_speakers: Sequence[str] = (),
    chapters: Sequence[tuple[float, str]] = (),
    other_names: Sequence[str] = (),
) -> dict[int, str]:
    """Every speaker index present in ``speakers`` -> its label (see the module's contract)."""
    evidence = collect_evidence(
        words, speakers, page_speakers=page_speakers, chapters=chapters, other_names=other_names
    )
    return decide(evidence, first_appearance(speakers))
