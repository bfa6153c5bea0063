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
