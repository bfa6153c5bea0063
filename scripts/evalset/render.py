"""Rendering: a talk's planned utterances laid on a timeline with pauses, beds and a faint room
tone, written as a WAV in pieces (memory stays flat), encoded to Opus, and described in a Truth."""

from __future__ import annotations

import math
import random
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from pipeline.audio import SAMPLE_RATE, ffmpeg_path

from evalkit.truth import Span, TrueChapter, Truth, Utterance

from .page import page_offsets
from .plans import GAP_NEW_SPEAKER, GAP_SAME_SPEAKER, PlannedChapter
from .talks import TalkSpec
from .voices import read_samples

SPEECH_RMS_DBFS = -20.0
MUSIC_RMS_DBFS = -24.0
NOISE_RMS_DBFS = -34.0
NOISE_FLOOR_DBFS = -60.0  # a faint room tone everywhere: digital silence is not realistic
BED_SECONDS = {"music": 24.0, "noise": 20.0, "silence": 15.0}


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


class Timeline:
    """A WAV being written, its clock, and the non-speech spans laid on it (one seeded generator for
    the room tone and the noise beds, drawn in the order they are laid: the same seed, the same file)."""

    def __init__(self, w: wave.Wave_write, rng: np.random.Generator):
        self.w = w
        self.rng = rng
        self.clock = 0.0
        self.non_speech: list[Span] = []

    def put(self, samples: np.ndarray) -> None:
        floor = self.rng.standard_normal(samples.size).astype(np.float32) * db_to_amplitude(NOISE_FLOOR_DBFS)
        self.w.writeframes((np.clip(samples + floor, -1, 1) * 32767).astype("<i2").tobytes())
        self.clock += samples.size / SAMPLE_RATE

    def pause(self, seconds: float) -> None:
        self.put(np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32))

    def put_bed(self, kind: str) -> None:
        if not kind:
            return
        start = self.clock
        self.put(bed(kind, BED_SECONDS[kind], self.rng))
        self.non_speech.append(Span(kind, round(start, 3), round(self.clock, 3)))
        self.pause(0.6)


def lay_out(spec: TalkSpec, planned: list[PlannedChapter], line: Timeline) -> tuple[list[dict], list[Utterance]]:
    """Every chapter's utterances on the timeline; the chapters as dicts (ends and page times come later)."""
    chapters: list[dict] = []
    utterances: list[Utterance] = []
    previous_speaker = None
    for number, chapter in enumerate(planned):
        if number:
            line.pause(chapter.gap_before)
            if number - 1 < len(spec.beds):
                line.put_bed(spec.beds[number - 1])
        chapter_start = line.clock
        texts = []
        for i, u in enumerate(chapter.utterances):
            if i:
                line.pause(GAP_SAME_SPEAKER if u.speaker == previous_speaker else GAP_NEW_SPEAKER)
            start = line.clock
            line.put(level(read_samples(u.wav), SPEECH_RMS_DBFS))  # type: ignore[arg-type]
            utterances.append(Utterance(number, u.speaker, u.voice, round(start, 3), round(line.clock, 3), u.text))
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
    return chapters, utterances


def render_talk(spec: TalkSpec, planned: list[PlannedChapter], out_dir: Path, bitrate: str) -> Truth:
    """Lay the utterances on a timeline, write the WAV in pieces (memory stays flat), encode it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="talk-") as tmp:
        wav_path = Path(tmp) / "talk.wav"
        with wave.open(str(wav_path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            line = Timeline(w, np.random.default_rng(spec.seed))
            line.pause(0.5)
            line.put_bed(spec.lead_in)
            chapters, utterances = lay_out(spec, planned, line)
            line.pause(1.5)
            duration = line.clock
        for i, chapter in enumerate(chapters):
            chapter["true_end"] = chapters[i + 1]["true_start"] if i + 1 < len(chapters) else round(duration, 3)
        encode_opus(wav_path, out_dir / "audio.ogg", bitrate)
    page_offsets(chapters, random.Random(spec.seed))
    voices: dict[str, str] = {}
    for u in utterances:
        voices.setdefault(u.speaker, u.voice)
    return Truth(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        sources=[f"2020/{s}" if s != "asterisk" else "asterisk-core-sounds-en" for s in spec.sources],
        audio="audio.ogg",
        duration=round(duration, 3),
        page_has_chapters=spec.page_chapters,
        voices=voices,
        chapters=[
            TrueChapter(c["title"], c["true_start"], c["true_end"], c["page_start"], c["text"], c["level"])
            for c in chapters
        ],
        utterances=utterances,
        non_speech=line.non_speech,
    )


def encode_opus(wav: Path, out: Path, bitrate: str, filters: str = "") -> None:
    """Mono Opus at ``bitrate`` in VoIP mode (as a call records), through ``filters`` (an ffmpeg
    filter graph, input [0:a], output [out]) when given."""
    tmp = out.with_name(f".{out.name}.tmp.ogg")
    graph = ["-filter_complex", filters, "-map", "[out]"] if filters else []
    cmd = [ffmpeg_path(), "-nostdin", "-v", "error", "-y", "-i", str(wav), *graph, "-ac", "1"]
    cmd += ["-c:a", "libopus", "-b:a", bitrate, "-application", "voip", str(tmp)]
    subprocess.run(cmd, check=True)
    tmp.replace(out)
