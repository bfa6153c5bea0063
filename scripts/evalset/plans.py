"""Talk plans: which utterances each chapter holds, in which voice, spoken and cut to length.

A corpus talk takes whole sections of the 2020 transcripts (``plan_corpus_talk``); the
asterisk talk groups real recorded prompts (``plan_asterisk_talk``); the dense talk is in
``dense.py``. Every utterance is spoken (cached) before the plan is returned.
"""

from __future__ import annotations

import gzip
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline.utils import atomic_write_bytes

from evalkit import REPO

from .corpus import SourceSection, read_sections, utterance_chunks
from .talks import TalkSpec
from .voices import ASTERISK_SOUNDS, ASTERISK_TRANSCRIPTS, VOICES, Synthesizer, to_prepared_wav, wav_seconds

CORPUS_2020 = REPO.parent / "shared" / "corpus" / "event-transcripts" / "2020"

# Pauses between utterances, in seconds: a speaker's own sentences run closer
# together than a change of speaker, and a new chapter gets a longer breath.
GAP_SAME_SPEAKER = 0.35
GAP_NEW_SPEAKER = 0.7
GAP_NEW_CHAPTER = 1.4
WORDS_PER_SECOND = 2.6  # how fast the voices read, to estimate what a budget needs


@dataclass
class PlannedUtterance:
    speaker: str
    voice: str
    text: str
    wav: Path | None = None


@dataclass
class PlannedChapter:
    title: str
    utterances: list[PlannedUtterance]
    level: int = 0  # 1: a sub-chapter (a ` -- ` line on the page)
    gap_before: float = GAP_NEW_CHAPTER  # seconds of pause before its first word


def voice_for(spec: TalkSpec, speaker: str | None, section_index: int) -> tuple[str, str]:
    if speaker and speaker in spec.voices:
        return speaker, spec.voices[speaker]
    key = f"#{section_index}"
    if speaker is None and key in spec.voices:
        return "host", spec.voices[key]
    return speaker or "speaker", spec.voices["*"]


def speak_all(synth: Synthesizer, utterances: list[PlannedUtterance], jobs: int) -> None:
    todo = [u for u in utterances if u.wav is None]

    def one(u: PlannedUtterance) -> None:
        u.wav = synth.speak(VOICES[u.voice], u.text)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, todo))


def source_sections(spec: TalkSpec) -> list[tuple[int, SourceSection]]:
    """(index in its source, section) of every section with 40 words or more, or the picked turns."""
    if spec.pick:
        found = [s for s in read_sections(CORPUS_2020 / spec.sources[0]) if s.words >= 40]
        return [(i, SourceSection(found[i].title, found[i].turns[a:b])) for i, a, b in spec.pick]
    sections: list[tuple[int, SourceSection]] = []
    for n, name in enumerate(spec.sources):
        found = [s for s in read_sections(CORPUS_2020 / name) if s.words >= 40]
        sections += list(enumerate(found))[spec.first_section if n == 0 else 0 :]
    return sections


def chosen_sections(
    spec: TalkSpec, sections: list[tuple[int, SourceSection]], chapter_budget: float
) -> list[tuple[int, SourceSection]]:
    """With a chapter count: sections long enough to fill a chapter's share (about 2.2 words a second)."""
    if not spec.chapters:
        return sections
    long_enough = [s for s in sections if s[1].words >= chapter_budget * 2.2]
    if len(long_enough) < spec.chapters:
        long_enough = sorted(sorted(sections, key=lambda s: -s[1].words)[: spec.chapters], key=sections.index)
    return long_enough[: spec.chapters]


def spoken_chapter(
    spec: TalkSpec, index: int, section: SourceSection, budget: float, title: str, synth: Synthesizer, jobs: int
) -> tuple[PlannedChapter, float]:
    """A section's utterances up to ``budget`` seconds, and the seconds they take (pauses included)."""
    utterances = [
        PlannedUtterance(*voice_for(spec, turn.speaker, index), text)
        for turn in section.turns
        for text in utterance_chunks(turn.sentences)
    ]
    # Speak about as many as the budget needs (plus a margin), in parallel, then cut by real length.
    estimate = 0
    words = 0
    while estimate < len(utterances) and words / WORDS_PER_SECOND < budget * 1.2:
        words += len(utterances[estimate].text.split())
        estimate += 1
    speak_all(synth, utterances[:estimate], jobs)
    kept: list[PlannedUtterance] = []
    seconds = 0.0
    for u in utterances[:estimate]:
        if seconds >= budget:
            break
        kept.append(u)
        seconds += wav_seconds(u.wav) + GAP_SAME_SPEAKER  # type: ignore[arg-type]
    return PlannedChapter(title, kept), seconds


def plan_corpus_talk(spec: TalkSpec, synth: Synthesizer, jobs: int) -> list[PlannedChapter]:
    """Chapters from the transcripts' sections: N sections cut to equal shares, the picked turns
    whole, or (neither) whole sections in order, round after round, until the talk is long enough."""
    chosen = source_sections(spec)
    target = spec.minutes * 60
    chapter_budget = target / spec.chapters if spec.chapters else math.inf
    chosen = chosen_sections(spec, chosen, chapter_budget)
    if spec.chapters or spec.pick:
        budget = math.inf if spec.pick else chapter_budget
        return [spoken_chapter(spec, i, s, budget, s.title, synth, jobs)[0] for i, s in chosen]
    planned: list[PlannedChapter] = []
    total = 0.0
    round_number = 1
    while total < target:
        for index, section in chosen:
            title = section.title if round_number == 1 else f"{section.title} (again)"
            chapter, seconds = spoken_chapter(spec, index, section, target - total, title, synth, jobs)
            planned.append(chapter)
            total += seconds
            if total >= target:
                break
        round_number += 1
    return planned


ASTERISK_CHAPTERS = [
    ("Voicemail", ("vm-",)),
    ("Conference calls", ("conf-", "confbridge-")),
    ("Queues and agents", ("queue-", "agent-", "spy-")),
    ("Directory and privacy", ("dir-", "priv", "privacy-", "pbx-", "demo-")),
    ("Other prompts", ("",)),
]


def asterisk_prompts() -> list[tuple[str, str]]:
    """(name, text) of every prompt with a transcript of 3 words or more and a 16 kHz recording."""
    prompts = []
    with gzip.open(ASTERISK_TRANSCRIPTS, "rt", encoding="utf-8") as f:
        for line in f:
            name, sep, text = line.partition(":")
            text = text.strip()
            if not sep or line.startswith(";") or "/" in name or "[" in text or len(text.split()) < 3:
                continue
            if (ASTERISK_SOUNDS / f"{name}.g722").is_file():
                prompts.append((name.strip(), text))
    return prompts


def plan_asterisk_talk(spec: TalkSpec, cache_dir: Path) -> list[PlannedChapter]:
    """Real recorded speech: prompts grouped by their name's prefix into chapters."""
    prompts = asterisk_prompts()
    budget = spec.minutes * 60 / len(ASTERISK_CHAPTERS)
    used: set[str] = set()
    planned = []
    for title, prefixes in ASTERISK_CHAPTERS:
        kept, seconds = [], 0.0
        for name, text in prompts:
            if name in used or not any(name.startswith(p) for p in prefixes):
                continue
            out = cache_dir / "asterisk" / f"{name}.wav"
            if not out.is_file():
                atomic_write_bytes(out, to_prepared_wav(ASTERISK_SOUNDS / f"{name}.g722", ["-f", "g722"]))
            kept.append(PlannedUtterance("asterisk", "asterisk", text, out))
            used.add(name)
            seconds += wav_seconds(out) + GAP_SAME_SPEAKER
            if seconds >= budget:
                break
        planned.append(PlannedChapter(title, kept))
    return planned
