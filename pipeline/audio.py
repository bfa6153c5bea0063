"""Prepare audio for the model: decode with pydub to 16 kHz mono in the cache.

CONTRACT (other modules rely on these names; keep them):

- ``ffmpeg_path() -> str``: the ffmpeg binary that imageio-ffmpeg ships (no
  system package needed); pydub and yt-dlp are pointed at it.
- ``prepare(media: Path, out_path: Path) -> PreparedAudio``: decode to a 16 kHz
  mono 16-bit WAV at ``out_path`` (atomically; reused when already there).
  Raises ``AudioError`` (one-line message) for a corrupt / non-audio / empty file.
- ``read_window(audio_path, start, end) -> numpy.ndarray``: float32 samples of
  [start, end) seconds, without loading the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 16000


class AudioError(Exception):
    """Audio that cannot be decoded; str(e) is one line for the user."""


@dataclass
class PreparedAudio:
    path: Path
    duration: float  # seconds
    from_cache: bool = False


def read_window(audio_path: str | Path, start: float = 0.0, end: float | None = None):
    """Float32 samples in [-1, 1) of [start, end) seconds of a prepared 16 kHz mono WAV.

    Only that window is read, so a long talk never sits in memory whole.
    """
    import wave

    import numpy as np

    with wave.open(str(audio_path), "rb") as w:
        if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise AudioError(f"{audio_path}: not a prepared 16 kHz mono 16-bit WAV")
        total = w.getnframes()
        first = min(total, max(0, int(round(start * SAMPLE_RATE))))
        last = total if end is None else min(total, max(first, int(round(end * SAMPLE_RATE))))
        w.setpos(first)
        raw = w.readframes(last - first)
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def wav_duration(audio_path: str | Path) -> float:
    import wave

    with wave.open(str(audio_path), "rb") as w:
        return w.getnframes() / float(w.getframerate())
