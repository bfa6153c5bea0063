"""Recording conditions: a built talk re-recorded as a call would sound, with its truth kept exact.

A condition is a chain of ffmpeg filters (imageio-ffmpeg's binary, no other package), every random
choice drawn from its seed, applied to a talk's audio: room echo (``aecho``), every voice but the
first several dB quieter (a guest's laptop microphone under the host's), level jumps (a gain that
moves every minute or two), steady pink noise at a given SNR, a stretch of music or noise-only
audio inserted between two parts, and Opus at a speech bit rate in VoIP mode. The output is a talk
folder of its own (``NAME-CONDITION``) whose truth.json and page.md carry the inserted stretch: every
time after it moves by its length, and the stretch is listed as non-speech.

The source audio is the clean talk's audio.ogg (Opus at 32 kbit/s): a call recorded and then
re-encoded, as Zoom recordings are on YouTube.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path

from pipeline.utils import atomic_write_text

from evalkit.truth import Span, Truth, load_truth, truth_text

from .page import write_page
from .render import NOISE_RMS_DBFS, SPEECH_RMS_DBFS, encode_opus

SAMPLE_RATE = 16000
# anoisesrc's pink noise at amplitude 1, high-passed at 100 Hz, has an RMS of -17.5 dBFS (measured: 20 s,
# seeds 0-2). The high-pass keeps the noise where the codec keeps it: Opus in VoIP mode drops the rumble.
PINK_RMS_AT_FULL_DBFS = -17.5
MUSIC_AMPLITUDE = 0.115  # each of the chord's three sines: about -24 dBFS in all, the clean beds' music level
JUMP_SECONDS = (45.0, 120.0)  # how long a level holds before it jumps


@dataclass(frozen=True)
class Condition:
    name: str
    description: str
    bitrate: str = "32k"  # Opus, VoIP mode
    echo: tuple[tuple[int, float], ...] = ()  # (delay ms, decay) of each reflection
    snr_db: float | None = None  # steady pink noise this many dB under the speech level (before the codec,
    # which takes about 2 dB more off the noise)
    quiet_db: float = 0.0  # every voice but the first to speak this many dB quieter
    jumps_db: float = 0.0  # the level moves to a random gain within +/- this, every 45-120 s
    stretch: str = ""  # "music" | "noise": inserted before the middle part
    stretch_seconds: int = 20  # whole seconds, so the page's whole-second times stay whole
    seed: int = 0


CONDITIONS = {
    c.name: c
    for c in [
        Condition("codec", "Opus at 16 kbit/s", bitrate="16k"),
        Condition("echo", "room echo at 40 and 75 ms", echo=((40, 0.3), (75, 0.2))),
        Condition("noise", "pink noise 15 dB under the speech", snr_db=15.0),
        Condition("quiet", "every voice but the first 9 dB quieter", quiet_db=9.0),
        Condition("jumps", "level jumps of up to 6 dB", jumps_db=6.0),
        Condition("stretch", "20 s of music between two parts", stretch="music"),
        Condition(
            "zoom",
            "a webinar as Zoom records it: a guest 9 dB under the host, echo at 40 and 75 ms, noise 20 dB "
            "under the speech, level jumps of up to 3 dB, 20 s of music between parts, Opus at 16 kbit/s",
            bitrate="16k",
            echo=((40, 0.3), (75, 0.2)),
            snr_db=20.0,
            quiet_db=9.0,
            jumps_db=3.0,
            stretch="music",
        ),
        Condition(
            "zoom-hard",
            "a poor call: a guest 12 dB under the host, echo at 30, 60 and 110 ms, noise 10 dB under the "
            "speech, level jumps of up to 6 dB, 20 s of noise only between parts, Opus at 12 kbit/s",
            bitrate="12k",
            echo=((30, 0.4), (60, 0.3), (110, 0.2)),
            snr_db=10.0,
            quiet_db=12.0,
            jumps_db=6.0,
            stretch="noise",
        ),
    ]
}


def between(spans: list[tuple[float, float]]) -> str:
    return "+".join(f"between(t,{a:.3f},{b:.3f})" for a, b in spans) or "0"


def quiet_spans(truth: Truth) -> list[tuple[float, float]]:
    """The stretches where a voice other than the first speaks, consecutive turns joined."""
    if not truth.utterances:
        return []
    first = truth.utterances[0].speaker
    spans: list[tuple[float, float]] = []
    for u in truth.utterances:
        if u.speaker == first:
            continue
        if spans and spans[-1][1] >= u.start - 1.0:
            spans[-1] = (spans[-1][0], u.end)
        else:
            spans.append((u.start, u.end))
    return spans


def level_jumps(duration: float, jumps_db: float, rng: random.Random) -> list[tuple[float, float, float]]:
    """(start, end, gain dB) of each stretch at one level."""
    out = []
    t = 0.0
    while t < duration:
        length = rng.uniform(*JUMP_SECONDS)
        out.append((t, min(duration, t + length), round(rng.uniform(-jumps_db, jumps_db), 1)))
        t += length
    return out


def insertion_point(truth: Truth) -> float:
    """Halfway through the pause before the part nearest the middle (a chapter start, or an utterance's)."""
    starts = [c.start for c in truth.chapters[1:]] or [u.start for u in truth.utterances[1:]]
    start = min(starts, key=lambda s: abs(s - truth.duration / 2))
    before = max((u.end for u in truth.utterances if u.end <= start), default=0.0)
    return round((before + start) / 2, 3)


def pink_noise(amplitude: float, seed: int, seconds: float) -> str:
    source = f"anoisesrc=color=pink:seed={seed}:amplitude={amplitude:.5f}:sample_rate={SAMPLE_RATE}:d={seconds:.3f}"
    return f"{source},highpass=f=100"


def stretch_source(kind: str, seconds: int, seed: int) -> str:
    if kind == "noise":
        amplitude = 10 ** ((NOISE_RMS_DBFS - PINK_RMS_AT_FULL_DBFS) / 20)
        return f"{pink_noise(amplitude, seed + 1, seconds)}"
    # Two chords of three sines, changing every 2 s, each note struck and fading as the clean beds' music.
    chord_a = "+".join(f"sin(2*PI*{f}*t)" for f in (220.0, 277.2, 329.6))
    chord_b = "+".join(f"sin(2*PI*{f}*t)" for f in (196.0, 246.9, 293.7))
    expr = f"{MUSIC_AMPLITUDE}*if(lt(mod(t,4),2),{chord_a},{chord_b})*exp(-mod(t,2)/0.8)"
    return f"aevalsrc=exprs='{expr}':s={SAMPLE_RATE}:d={seconds}"


def filter_graph(truth: Truth, condition: Condition, insert_at: float) -> str:
    """The ffmpeg filter graph from the talk's audio ([0:a]) to the recording ([out])."""
    fmt = f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=mono"
    chain = [f"aresample={SAMPLE_RATE}", fmt]
    if condition.echo:
        decays = [d for _, d in condition.echo]
        out_gain = 1 / (1 + sum(d * d for d in decays)) ** 0.5  # the echo adds no loudness overall
        delays = "|".join(str(ms) for ms, _ in condition.echo)
        chain.append(f"aecho=1.0:{out_gain:.3f}:{delays}:{'|'.join(str(d) for d in decays)}")
    if condition.quiet_db:
        chain.append(f"volume=-{condition.quiet_db}dB:enable='{between(quiet_spans(truth))}'")
    graph = [f"[0:a]{','.join(chain)}[speech]"]
    last = "speech"
    if condition.snr_db is not None:
        amplitude = 10 ** ((SPEECH_RMS_DBFS - condition.snr_db - PINK_RMS_AT_FULL_DBFS) / 20)
        graph.append(f"{pink_noise(amplitude, condition.seed, truth.duration + 1)},{fmt}[noise]")
        graph.append("[speech][noise]amix=inputs=2:duration=first:normalize=0[mixed]")
        last = "mixed"
    if condition.jumps_db:
        rng = random.Random(condition.seed)
        gains = [
            f"volume={g}dB:enable='between(t,{a:.3f},{b:.3f})'"
            for a, b, g in level_jumps(truth.duration, condition.jumps_db, rng)
            if g
        ]
        if gains:
            graph.append(f"[{last}]{','.join(gains)}[levelled]")
            last = "levelled"
    if condition.stretch:
        graph.append(f"[{last}]asplit=2[head][tail]")
        graph.append(f"[head]atrim=end={insert_at},asetpts=PTS-STARTPTS[a]")
        graph.append(f"[tail]atrim=start={insert_at},asetpts=PTS-STARTPTS[b]")
        graph.append(f"{stretch_source(condition.stretch, condition.stretch_seconds, condition.seed)},{fmt}[gap]")
        graph.append("[a][gap][b]concat=n=3:v=0:a=1[joined]")
        last = "joined"
    # aecho rings on past the end: the recording ends where the talk does.
    seconds = truth.duration + (condition.stretch_seconds if condition.stretch else 0)
    graph.append(f"[{last}]atrim=end={seconds:.3f}[out]")
    return ";".join(graph)


def shifted(truth: Truth, at: float, seconds: float, kind: str) -> Truth:
    """The truth with ``seconds`` of ``kind`` inserted at ``at``: every time from there on moves."""

    def move(t: float) -> float:
        return round(t + seconds, 3) if t >= at else t

    chapters = [
        dataclasses.replace(
            c,
            start=move(c.start),
            end=move(c.end),
            page_start=c.page_start + seconds if c.page_start is not None and c.start >= at else c.page_start,
        )
        for c in truth.chapters
    ]
    utterances = [dataclasses.replace(u, start=move(u.start), end=move(u.end)) for u in truth.utterances]
    spans = [dataclasses.replace(s, start=move(s.start), end=move(s.end)) for s in truth.non_speech]
    spans = sorted([*spans, Span(kind, at, round(at + seconds, 3))], key=lambda s: s.start)
    return dataclasses.replace(
        truth, chapters=chapters, utterances=utterances, non_speech=spans, duration=move(truth.duration)
    )


def degrade(talk: Path, condition: Condition, out_dir: Path) -> Truth:
    """Write ``out_dir`` (audio.ogg, truth.json, page.md): ``talk`` recorded under ``condition``."""
    truth = load_truth(talk)
    at = insertion_point(truth) if condition.stretch else truth.duration
    out_dir.mkdir(parents=True, exist_ok=True)
    encode_opus(talk / truth.audio, out_dir / "audio.ogg", condition.bitrate, filter_graph(truth, condition, at))
    if condition.stretch:
        truth = shifted(truth, at, condition.stretch_seconds, condition.stretch)
    truth = dataclasses.replace(
        truth,
        name=f"{truth.name}-{condition.name}",
        description=f"{truth.description}; recorded as '{condition.name}': {condition.description}",
        audio="audio.ogg",
        folder=None,
    )
    write_page(truth, out_dir / "page.md")
    atomic_write_text(out_dir / "truth.json", truth_text(truth))
    return truth
