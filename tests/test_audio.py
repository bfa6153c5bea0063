"""prepare(): real ffmpeg (imageio-ffmpeg's binary) on real speech, and on the broken files a batch meets."""

from __future__ import annotations

import os
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from pipeline.audio import (
    SAMPLE_RATE,
    AudioError,
    ffmpeg_path,
    is_prepared_wav,
    prepare,
    read_window,
    wav_duration,
)

JFK_SECONDS = 11.0


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_path(), "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def jfk_reference(jfk_flac, tmp_path_factory) -> np.ndarray:
    """jfk.flac (already 16 kHz mono) as float samples: what every prepared copy should sound like."""
    with wave.open(str(prepare(jfk_flac, tmp_path_factory.mktemp("ref") / "jfk.wav").path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def similarity(samples: np.ndarray, reference: np.ndarray, max_lag: int = 1600) -> float:
    """Normalised correlation of two recordings at their best alignment within +-0.1 s
    (codecs add a little delay)."""
    n = 1 << (len(samples) + len(reference)).bit_length()
    cross = np.fft.irfft(np.fft.rfft(samples, n) * np.conj(np.fft.rfft(reference, n)), n)
    lags = np.r_[0 : max_lag + 1, -max_lag:0]
    lag = int(lags[np.argmax(cross[lags])])
    a, b = (samples[lag:], reference) if lag >= 0 else (samples, reference[-lag:])
    m = min(len(a), len(b))
    a, b = a[:m], b[:m]
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-9))


def assert_prepared(path: Path, seconds: float) -> None:
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SAMPLE_RATE, 1, 2)
    assert wav_duration(path) == pytest.approx(seconds, abs=0.06)
    assert is_prepared_wav(path)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("name", ["jfk.mp3", "jfk.ogg", "jfk.m4a", "jfk.webm", "jfk.flac", "jfk.wav"])
def test_stereo_speech_becomes_16k_mono_with_the_same_sound(speech_media, jfk_reference, tmp_path, name):
    out = tmp_path / "audio" / "key.wav"
    prepared = prepare(speech_media / name, out)
    assert prepared.path == out and not prepared.from_cache
    assert prepared.duration == pytest.approx(JFK_SECONDS, abs=0.06)
    assert_prepared(out, JFK_SECONDS)
    # The downmixed, resampled speech is still Kennedy's: it lines up with the original.
    assert similarity(read_window(out), jfk_reference) > 0.9
    assert leftovers(out.parent) == []


def test_a_prepared_file_is_reused_untouched(speech_media, tmp_path):
    out = tmp_path / "key.wav"
    first = prepare(speech_media / "jfk.mp3", out)
    stamp = out.stat().st_mtime_ns
    again = prepare(speech_media / "jfk.mp3", out)
    assert again.from_cache and again.duration == pytest.approx(first.duration)
    assert out.stat().st_mtime_ns == stamp


def test_a_damaged_prepared_file_is_redone(speech_media, tmp_path):
    out = tmp_path / "key.wav"
    prepare(speech_media / "jfk.ogg", out)
    out.write_bytes(out.read_bytes()[: out.stat().st_size // 2])  # header says 11 s, half the data is there
    assert not is_prepared_wav(out)
    redone = prepare(speech_media / "jfk.ogg", out)
    assert not redone.from_cache
    assert_prepared(out, JFK_SECONDS)


def test_silence_is_valid_audio(tmp_path):
    silent = tmp_path / "silence.mp3"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "3", silent.as_posix())
    prepared = prepare(silent, tmp_path / "silence.wav")
    assert prepared.duration == pytest.approx(3.0, abs=0.06)
    assert np.abs(read_window(prepared.path)).max() < 1e-3


def _truncated(source: Path, folder: Path, name: str, fraction: float = 0.3) -> Path:
    path = folder / name
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def _no_audio_wav(folder: Path) -> Path:
    path = folder / "empty.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", path.as_posix())
    return path


def _video_only(folder: Path) -> Path:
    path = folder / "slides.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-t", "1", "-an", path.as_posix())
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda media, tmp: _write(tmp / "noise.mp3", np.random.default_rng(1).bytes(40_000)), "not audio, or corrupt"),
        (
            lambda media, tmp: _write(tmp / "page.mp3", b"<!doctype html><title>Gone</title>" * 50),
            "not audio, or corrupt",
        ),
        (lambda media, tmp: _write(tmp / "nothing.m4a", b""), "no audio: empty file"),
        (lambda media, tmp: _no_audio_wav(tmp), "no audio"),
        (lambda media, tmp: _video_only(tmp), "no audio stream"),
        (lambda media, tmp: _truncated(media / "jfk.flac", tmp, "cut.flac"), "truncated or corrupt: decoded"),
        (
            lambda media, tmp: _truncated(media / "jfk.m4a", tmp, "cut.m4a"),
            "truncated or corrupt (moov atom not found)",
        ),
        (lambda media, tmp: tmp / "missing.mp3", "no such file"),
    ],
    ids=[
        "random-bytes",
        "html",
        "empty-file",
        "zero-length-audio",
        "video-only",
        "truncated-flac",
        "truncated-m4a",
        "missing",
    ],
)
def test_bad_input_is_a_one_line_error_and_leaves_nothing(speech_media, tmp_path, make, reason):
    media = make(speech_media, tmp_path)
    out = tmp_path / "audio" / "key.wav"
    with pytest.raises(AudioError) as caught:
        prepare(media, out)
    message = str(caught.value)
    assert message.startswith(reason), message
    assert "\n" not in message and media.name in message
    assert not out.exists()
    if out.parent.exists():
        assert leftovers(out.parent) == []


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_read_window_reads_only_the_asked_seconds(speech_media, jfk_reference, tmp_path):
    prepared = prepare(speech_media / "jfk.wav", tmp_path / "key.wav")
    window = read_window(prepared.path, 2.0, 3.5)
    assert len(window) == int(1.5 * SAMPLE_RATE)
    whole = read_window(prepared.path)
    assert np.array_equal(window, whole[2 * SAMPLE_RATE : int(3.5 * SAMPLE_RATE)])
    assert len(read_window(prepared.path, 10.5, 99.0)) == int(0.5 * SAMPLE_RATE)


def test_a_killed_runs_temp_file_is_never_used_and_later_swept(speech_media, tmp_path):
    out = tmp_path / "key.wav"
    stale = tmp_path / ".key.wav.k1ll3d.tmp"  # what a prepare killed mid-decode leaves
    stale.write_bytes(b"RIFF" + b"\0" * 100)
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = tmp_path / ".key.wav.running.tmp"  # another process may still be writing this one
    fresh.write_bytes(b"RIFF")
    prepared = prepare(speech_media / "jfk.mp3", out)
    assert not prepared.from_cache and is_prepared_wav(out)
    assert not stale.exists() and fresh.exists()
