"""The dense talk: chapters as long as the backlog's own chapter gaps, sub-chapters included."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from evalkit import REPO

from .corpus import read_sections
from .plans import (
    CORPUS_2020,
    GAP_NEW_CHAPTER,
    GAP_NEW_SPEAKER,
    WORDS_PER_SECOND,
    PlannedChapter,
    PlannedUtterance,
    speak_all,
    voice_for,
)
from .talks import TalkSpec
from .voices import Synthesizer

BACKLOG = REPO.parent / "shared" / "corpus" / "event-transcripts"
# How many chapter lengths the dense talk draws from each stretch of the backlog's gaps (seconds):
# every gap up to 8 s, and samples of the longer ones, so the short end is well represented.
DENSE_STRATA = [((0.0, 8.0), None), ((8.0, 30.0), 16), ((30.0, 120.0), 6)]
DENSE_MIN_SECONDS = 2.5  # the shortest chapter: one short sentence


def backlog_chapter_gaps(corpus: Path = BACKLOG) -> list[float]:
    """Seconds between consecutive chapter times (sub-chapters included) of every video on the backlog's
    pages that need a transcript, as ``python -m pipeline scan --json`` reports them."""
    scan = subprocess.run(
        [sys.executable, "-m", "pipeline", "scan", "--json", str(corpus)], capture_output=True, text=True, cwd=REPO
    )
    gaps = []
    for page in json.loads(scan.stdout):
        if page["state"] != "needs-transcript":
            continue
        for video in page["videos"]:
            times = [c["start"] for c in video["chapters"]]
            gaps += [b - a for a, b in zip(times, times[1:], strict=False) if b > a]
    return sorted(gaps)


def dense_chapter_seconds(gaps: list[float], rng: random.Random) -> list[float]:
    """Chapter lengths drawn from the backlog's gaps by DENSE_STRATA, in a random order."""
    lengths: list[float] = []
    for (lo, hi), count in DENSE_STRATA:
        stratum = [g for g in gaps if lo < g <= hi]
        lengths += stratum if count is None else rng.sample(stratum, min(count, len(stratum)))
    rng.shuffle(lengths)
    return [max(DENSE_MIN_SECONDS, g) for g in lengths]


def dense_title(sentence: str, taken: set[str]) -> str:
    title = " ".join(sentence.split()[:5]).rstrip(",.;:?!")
    unique, n = title, 2
    while unique.lower() in taken:
        unique, n = f"{title} ({n})", n + 1
    taken.add(unique.lower())
    return unique


def plan_dense_talk(spec: TalkSpec, synth: Synthesizer, jobs: int) -> list[PlannedChapter]:
    """Chapters as long as the backlog's chapter gaps, one sentence or more each, in the source's order.

    A top-level chapter is followed by up to three sub-chapters, which follow with a speaker's
    ordinary pause (no chapter break to hear); a sentence is never used twice.
    """
    rng = random.Random(spec.seed)
    lengths = dense_chapter_seconds(backlog_chapter_gaps(), rng)
    pool = [
        PlannedUtterance(*voice_for(spec, turn.speaker, index), sentence)
        for index, section in enumerate(s for name in spec.sources for s in read_sections(CORPUS_2020 / name))
        for turn in section.turns
        for sentence in turn.sentences
    ]
    planned: list[PlannedChapter] = []
    taken: set[str] = set()
    subs_left = 0
    for seconds in lengths:
        first = next((k for k, u in enumerate(pool[:40]) if len(u.text.split()) <= seconds * WORDS_PER_SECOND), 0)
        chosen = [pool.pop(first)]
        words = len(chosen[0].text.split())
        while pool and (words + len(pool[0].text.split())) <= seconds * WORDS_PER_SECOND:
            words += len(pool[0].text.split())
            chosen.append(pool.pop(0))
        level = 1 if subs_left > 0 else 0
        subs_left = subs_left - 1 if level else rng.choice((0, 1, 2, 3))
        gap = GAP_NEW_SPEAKER if level else GAP_NEW_CHAPTER
        planned.append(PlannedChapter(dense_title(chosen[0].text, taken), chosen, level, gap))
    speak_all(synth, [u for c in planned for u in c.utterances], jobs)
    return planned
