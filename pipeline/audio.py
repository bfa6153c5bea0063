"""Prepare audio for the model: decode with ffmpeg to 16 kHz mono in the cache.

CONTRACT (other modules rely on these names; keep them):

- ``ffmpeg_path() -> str``: the ffmpeg binary that imageio-ffmpeg ships (no
  system package needed); yt-dlp is pointed at it too.
- ``prepare(media: Path, out_path: Path) -> PreparedAudio``: decode to a 16 kHz
  mono 16-bit WAV at ``out_path`` (atomically; reused when already there).
  Raises ``AudioError`` (one-line message) for a corrupt / non-audio / empty file.
- ``read_window(audio_path, start, end) -> numpy.ndarray``: float32 samples of
  [start, end) seconds, without loading the whole file.
- ``find_window_cut(samples, search_from, search_to) -> float``: where to cut a long
  file into the model's windows (the middle of the longest silence).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 16000

# A decode that yields less than this share of the length the container declares
# is a truncated file (a cut download), not a talk that ends early.
_MIN_DECODED_SHARE = 0.98
_DURATION_SLACK = 0.5  # seconds, for containers whose declared length is a little off
_STALE_TEMP_AGE = 3600.0  # seconds after which a temp file is the leftover of a killed run


class AudioError(Exception):
    """Audio that cannot be decoded; str(e) is one line for the user."""


@dataclass
class PreparedAudio:
    path: Path
    duration: float  # seconds
    from_cache: bool = False


@functools.cache
def ffmpeg_path() -> str:
    """The ffmpeg binary shipped by imageio-ffmpeg (``IMAGEIO_FFMPEG_EXE`` overrides it)."""
    import imageio_ffmpeg

    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as e:
        raise AudioError(f"no ffmpeg binary: {e}") from None


def prepare(media: str | Path, out_path: str | Path) -> PreparedAudio:
    """Decode ``media`` to a 16 kHz mono 16-bit WAV at ``out_path``; reuse it if already there.

    ffmpeg resamples and downmixes while decoding and streams the result to a
    temp file beside ``out_path``, renamed into place when complete, so memory
    stays flat for a talk of any length and a killed run leaves no partial WAV.

    pydub is not used on purpose: its ``from_file`` needs ffprobe, which no pip
    package we rely on ships, and it passes extra ffmpeg options after the output
    name, where ffmpeg ignores them, so it would hold 44.1 kHz stereo of the
    whole talk in memory before any downmix.
    """
    media, out_path = Path(media), Path(out_path)
    if is_prepared_wav(out_path):
        return PreparedAudio(out_path, wav_duration(out_path), from_cache=True)
    if not media.is_file():
        raise AudioError(f"no such file ({media})")
    if media.stat().st_size == 0:
        raise AudioError(f"no audio: empty file ({media})")

    out_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(out_path)
    fd, tmp_name = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from other users of a shared machine
    try:
        declared, stderr = _decode(media, tmp)
        frames = _wav_frames(tmp)
        if frames is None:
            raise AudioError(f"ffmpeg wrote no readable audio ({media})")
        if frames == 0:
            raise AudioError(f"no audio ({media})")
        decoded = frames / SAMPLE_RATE
        if declared and "Estimating duration from bitrate" not in stderr:
            if decoded < declared * _MIN_DECODED_SHARE - _DURATION_SLACK:
                raise AudioError(f"truncated or corrupt: decoded {decoded:.1f} s of {declared:.1f} s ({media})")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # the data is on disk before the name says it is finished
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return PreparedAudio(out_path, decoded, from_cache=False)


def is_prepared_wav(path: str | Path) -> bool:
    """True for a complete 16 kHz mono 16-bit WAV holding some audio (its header agrees with its size)."""
    path = Path(path)
    try:
        frames = _wav_frames(path)
        size = path.stat().st_size
    except OSError:
        return False
    if not frames:
        return False
    header = size - frames * 2
    return 44 <= header <= 4096


def _wav_frames(path: Path) -> int | None:
    """Frames of a 16 kHz mono 16-bit WAV, or None if it is not one."""
    try:
        with wave.open(str(path), "rb") as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
                return None
            return w.getnframes()
    except (OSError, EOFError, wave.Error):
        return None


def _decode(media: Path, out: Path) -> tuple[float | None, str]:
    """Run ffmpeg: ``media`` -> 16 kHz mono s16 WAV at ``out``. Returns (declared seconds, ffmpeg's log)."""
    command = [
        ffmpeg_path(),
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-y",
        "-i",
        str(media.resolve()),
        "-vn",
        "-sn",
        "-dn",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-c:a",
        "pcm_s16le",
        "-f",
        "wav",
        str(out),
    ]
    try:
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
    except OSError as e:
        raise AudioError(f"cannot run ffmpeg: {e.strerror or e} ({media})") from None
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0:
        raise AudioError(f"{_ffmpeg_failure(stderr)} ({media})")
    return _declared_duration(stderr), stderr


def _declared_duration(stderr: str) -> float | None:
    m = re.search(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", stderr)
    if not m:
        return None
    hours, minutes, seconds = m.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _ffmpeg_failure(stderr: str) -> str:
    """One line saying why ffmpeg could not decode a file."""
    # ffmpeg prefixes its messages with the component that wrote them: "[in#0 @ 0x55...] ".
    lines = [re.sub(r"^(?:\[[^\]]*\]\s*)+", "", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    text = "\n".join(lines)
    if re.search(r"does not contain any stream|matches no streams|no audio stream", text, re.I):
        return "no audio stream"
    if "moov atom not found" in text:
        return "truncated or corrupt (moov atom not found)"
    if "Invalid data found when processing input" in text or "Error opening input" in text:
        # The line before "Error opening input" usually says what was wrong.
        first_error = next((i for i, line in enumerate(lines) if line.startswith("Error opening input")), 0)
        if first_error > 0 and not lines[first_error - 1].startswith(("Input #", "Duration")):
            return f"not audio, or corrupt: {lines[first_error - 1]}"
        return "not audio, or corrupt"
    return "cannot decode: " + (lines[-1] if lines else "ffmpeg failed")


def _remove_stale_temps(out_path: Path) -> None:
    now = time.time()
    for leftover in out_path.parent.glob(f".{out_path.name}.*.tmp"):
        try:
            if now - leftover.stat().st_mtime > _STALE_TEMP_AGE:
                leftover.unlink()
        except OSError:
            pass


def read_window(audio_path: str | Path, start: float = 0.0, end: float | None = None):
    """Float32 samples in [-1, 1) of [start, end) seconds of a prepared 16 kHz mono WAV.

    Only that window is read, so a long talk never sits in memory whole.
    """
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
    with wave.open(str(audio_path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def find_window_cut(samples, search_from: float, search_to: float) -> float:
    """Seconds into ``samples`` to cut at: the middle of the longest silence in the search range.

    Cutting where nobody speaks means no word is split in two or decoded twice.
    """
    import numpy as np
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    lo, hi = int(search_from * SAMPLE_RATE), min(len(samples), int(search_to * SAMPLE_RATE))
    region = samples[lo:hi]
    speech = get_speech_timestamps(region, VadOptions(min_silence_duration_ms=100, speech_pad_ms=0))
    edges = [0] + [x for s in speech for x in (s["start"], s["end"])] + [len(region)]
    gaps = [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2) if edges[i + 1] > edges[i]]
    # A silence at the region's edge may continue outside it; its middle is still silent.
    middle = len(region) / 2
    if gaps:
        best = max(gaps, key=lambda g: (g[1] - g[0], -abs((g[0] + g[1]) / 2 - middle)))
        cut = (best[0] + best[1]) // 2
    else:  # speech throughout (or music): the quietest 50 ms frame
        frame = SAMPLE_RATE // 20
        energy = np.convolve(region.astype(np.float64) ** 2, np.ones(frame), mode="valid")
        cut = int(np.argmin(energy)) + frame // 2
    return (lo + cut) / SAMPLE_RATE
