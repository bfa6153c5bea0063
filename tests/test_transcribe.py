"""transcribe: the real tiny.en model on real speech, silence and music; device choice as plain logic."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import wave
from pathlib import Path

import imageio_ffmpeg
import jiwer
import numpy as np
import pytest
from pipeline import config
from pipeline import transcribe as T
from pipeline.audio import find_window_cut
from pipeline.guards import collapse_repetitions, hallucination_reason
from pipeline.schema import Segment, Transcription, Word
from pipeline.transcribe import ModelError

SR = 16000


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def _words(transcription: Transcription) -> list[str]:
    return [re.sub(r"[^a-z0-9']", "", w.text.lower()) for w in transcription.words]


@pytest.fixture(scope="session")
def options() -> config.TranscribeOptions:
    return config.load_config().transcribe


@pytest.fixture(scope="session")
def tiny(whisper_tiny_cpu) -> T.LoadedModel:
    """The session's tiny.en model, wrapped as load_model would (one load for all tests)."""
    from faster_whisper import BatchedInferencePipeline

    return T.LoadedModel(whisper_tiny_cpu, BatchedInferencePipeline(whisper_tiny_cpu), "cpu", "int8", "tiny.en")


@pytest.fixture(scope="session")
def jfk_samples(jfk_flac) -> np.ndarray:
    raw = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-loglevel",
            "error",
            "-i",
            str(jfk_flac),
            "-ar",
            "16000",
            "-ac",
            "1",
            "-f",
            "s16le",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


@pytest.fixture(scope="session")
def jfk_wav(tmp_path_factory, jfk_samples) -> Path:
    return _write_wav(tmp_path_factory.mktemp("audio") / "jfk.wav", jfk_samples)


# Six copies of jfk.flac with pauses of 1.0, 1.4, ... 3.0 s after them: 78 s, longer than one window.
PAUSES = [1.0 + 0.4 * k for k in range(6)]


@pytest.fixture(scope="session")
def jfk_six_wav(tmp_path_factory, jfk_samples) -> Path:
    parts = []
    for pause in PAUSES:
        parts += [jfk_samples, np.zeros(int(pause * SR), dtype=np.float32)]
    return _write_wav(tmp_path_factory.mktemp("audio") / "jfk6.wav", np.concatenate(parts))


def _pauses(jfk_seconds: float) -> list[tuple[float, float]]:
    spans, t = [], 0.0
    for pause in PAUSES:
        t += jfk_seconds
        spans.append((t, t + pause))
        t += pause
    return spans


# --------------------------------------------------------------------------- real speech


@pytest.mark.parametrize("batch_size", [8, 1], ids=["batched", "sequential"])
def test_jfk_is_transcribed_with_word_times(tiny, jfk_wav, options, batch_size):
    result = T.transcribe(tiny, jfk_wav, dataclasses.replace(options, batch_size=batch_size))
    text = " ".join(_words(result))
    assert "ask not what your country can do for you" in text
    words = result.words
    assert len(words) >= 20
    assert all(0 <= w.start <= w.end <= result.audio_duration + 0.05 for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    assert all(0 <= w.probability <= 1 for w in words)
    assert result.model == "tiny.en" and result.options["fingerprint"]


def test_window_cut_neither_drops_nor_doubles_words(tiny, jfk_six_wav, jfk_samples, options):
    whole = T.transcribe(tiny, jfk_six_wav, options)
    done: list[float] = []
    windowed = T.transcribe(
        tiny, jfk_six_wav, dataclasses.replace(options, window_minutes=0.5), progress=lambda d, t: done.append(d)
    )
    # every copy of the sentence is there once, in both runs
    for result in (whole, windowed):
        assert " ".join(_words(result)).count("fellow americans") == 6
    # the same words (the model's context differs a little at the cuts, so allow a slip or two)
    a, b = " ".join(_words(whole)), " ".join(_words(windowed))
    assert abs(len(_words(whole)) - len(_words(windowed))) <= 3
    assert jiwer.wer(a, b) < 0.05
    times = [w.start for w in windowed.words]
    assert times == sorted(times) and times[-1] < windowed.audio_duration
    assert done == sorted(done) and done[-1] == pytest.approx(windowed.audio_duration)


def test_window_cut_is_made_in_a_pause(jfk_six_wav, jfk_samples):
    from pipeline.audio import read_window

    samples = read_window(jfk_six_wav, 0, 40)
    cut = find_window_cut(samples, 22.5, 37.5)
    pauses = _pauses(len(jfk_samples) / SR)
    assert any(start <= cut <= end for start, end in pauses), (cut, pauses)


# --------------------------------------------------------------------------- no invented text


def _music(seconds: float = 30.0) -> np.ndarray:
    """Chords with a beat, a melody and a noise drum: music-like, no voice."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(1)
    chords = [[220, 277.2, 329.6], [196, 246.9, 293.7], [174.6, 220, 261.6], [164.8, 207.7, 246.9]]
    out = np.zeros_like(t)
    beat = 0.5
    for k in range(int(seconds / beat)):
        part = (t >= k * beat) & (t < (k + 1) * beat)
        envelope = np.exp(-(t[part] - k * beat) * 4)
        chord = chords[(k // 4) % 4]
        for f in chord:
            out[part] += 0.15 * envelope * np.sin(2 * np.pi * f * t[part])
        out[part] += 0.1 * envelope * np.sin(2 * np.pi * chord[k % 3] * 2 * t[part])
        if k % 2 == 0:
            out[part] += 0.2 * np.exp(-(t[part] - k * beat) * 30) * rng.standard_normal(part.sum())
    return out


@pytest.mark.parametrize("kind", ["silence", "music"])
@pytest.mark.parametrize(
    "batch_size,vad", [(8, True), (1, False), (8, False)], ids=["batched", "sequential-novad", "batched-novad"]
)
def test_silence_and_music_give_no_words(tiny, tmp_path, options, kind, batch_size, vad):
    # Without VAD the bare model writes "you" on both; the post-filter must drop it.
    samples = np.zeros(30 * SR) if kind == "silence" else _music()
    wav = _write_wav(tmp_path / f"{kind}.wav", samples)
    result = T.transcribe(tiny, wav, dataclasses.replace(options, batch_size=batch_size, vad_filter=vad))
    assert result.words == [], [s.text for s in result.segments]


def _segment(text: str, no_speech: float = 0.05, probability: float = 0.9, logprob: float = -0.3) -> Segment:
    words = [Word(i * 0.5, i * 0.5 + 0.4, " " + t, probability) for i, t in enumerate(text.split())]
    return Segment(0.0, len(words) * 0.5, " " + text, logprob, 1.2, no_speech, 0.0, words)


@pytest.mark.parametrize(
    "segment,dropped",
    [
        (_segment("[Music]"), True),
        (_segment("(upbeat music)"), True),
        (_segment("♪ ♪ ♪"), True),
        (_segment("Thank you for watching!", no_speech=0.7), True),
        (_segment("Thank you.", probability=0.3), True),
        (_segment("Subtitles by the Amara.org community", no_speech=0.5), True),
        (_segment("So we start.", no_speech=0.8, logprob=-1.4), True),
        (_segment("Thank you.", no_speech=0.05), False),  # the real end of a talk
        (_segment("Thank you for watching, and see you next month.", no_speech=0.7), False),
        (_segment("Music is what we talk about today."), False),
    ],
)
def test_hallucination_filter(options, segment, dropped):
    assert (hallucination_reason(segment, options) is not None) is dropped


def test_repetition_loops_are_collapsed():
    def words(text):
        return [Word(i, i + 0.5, " " + t, 0.9) for i, t in enumerate(text.split())]

    loop = words("we will see " + "I think that " * 6 + "done")
    assert [w.text.strip() for w in collapse_repetitions(loop)] == "we will see I think that done".split()
    speech = words("it is very very very good and good and good")
    assert collapse_repetitions(speech) == speech
    stutter = words("the " * 9 + "end")
    assert [w.text.strip() for w in collapse_repetitions(stutter)] == ["the", "end"]


# --------------------------------------------------------------------------- cache


def test_cache_is_used_and_never_trusted_when_stale(tiny, jfk_wav, options, tmp_path):
    cache = tmp_path / "cache" / "jfk.json"
    first = T.transcribe(tiny, jfk_wav, options, cache_path=cache)
    assert cache.is_file()
    # A hit needs no model at all.
    again = T.transcribe(None, jfk_wav, options, cache_path=cache, model_name="tiny.en")
    assert again == first
    # Other options or another model: a miss, which without a model cannot be served.
    with pytest.raises(ModelError):
        wider = dataclasses.replace(options, beam_size=options.beam_size + 1)
        T.transcribe(None, jfk_wav, wider, cache_path=cache, model_name="tiny.en")
    with pytest.raises(ModelError):
        T.transcribe(None, jfk_wav, options, cache_path=cache, model_name="base")
    # A corrupt file is ignored and rewritten.
    cache.write_text('{"fingerprint": "', encoding="utf-8")
    with pytest.raises(ModelError):
        T.transcribe(None, jfk_wav, options, cache_path=cache, model_name="tiny.en")
    rewritten = T.transcribe(tiny, jfk_wav, options, cache_path=cache)
    assert json.loads(cache.read_text())["fingerprint"] == first.options["fingerprint"]
    assert _words(rewritten) == _words(first)


def test_json_round_trip_is_exact():
    original = Transcription(
        audio_duration=12.345,
        language="en",
        model="tiny.en",
        segments=[_segment("Hello there, friends.", no_speech=0.123456789), _segment("Ünïcode — “quotes”.")],
        options={"fingerprint": "abc", "temperature": [0.0, 0.2]},
    )
    data = json.loads(json.dumps(original.to_json()))
    assert Transcription.from_json(data) == original


def test_fingerprint_covers_model_options_and_context(options):
    base = T.transcription_fingerprint("tiny.en", options)
    assert base == T.transcription_fingerprint("tiny.en", options)
    assert base != T.transcription_fingerprint("base", options)
    wider = dataclasses.replace(options, beam_size=options.beam_size + 1)
    assert base != T.transcription_fingerprint("tiny.en", wider)
    assert base != T.transcription_fingerprint("tiny.en", options, initial_prompt="Dask, Hugo Bowne-Anderson")
    assert base != T.transcription_fingerprint("tiny.en", options, hotwords="Dask")


# --------------------------------------------------------------------------- model choice


@pytest.mark.parametrize(
    "device,compute,cuda,supported,expected",
    [
        ("auto", "auto", 0, {"int8", "int8_float32", "float32"}, ("cpu", "int8")),
        ("auto", "auto", 1, {"float16", "int8_float16", "int8", "float32"}, ("cuda", "float16")),
        ("auto", "auto", 2, {"int8_float16", "float32"}, ("cuda", "int8_float16")),
        ("cpu", "auto", 1, {"int8", "float32"}, ("cpu", "int8")),
        ("cpu", "auto", 0, {"float32"}, ("cpu", "float32")),
        ("cuda", "int8_float16", 1, {"float16", "int8_float16"}, ("cuda", "int8_float16")),
        ("auto", "float32", 0, None, ("cpu", "float32")),
    ],
)
def test_device_and_compute_choice(device, compute, cuda, supported, expected):
    assert T.choose_device_and_compute(device, compute, cuda_devices=cuda, supported=supported) == expected


@pytest.mark.parametrize(
    "device,compute,cuda,supported",
    [("cuda", "auto", 0, None), ("tpu", "auto", 0, None), ("cpu", "float16", 0, {"int8", "float32"})],
)
def test_device_and_compute_errors(device, compute, cuda, supported):
    with pytest.raises(ModelError) as e:
        T.choose_device_and_compute(device, compute, cuda_devices=cuda, supported=supported)
    assert "\n" not in str(e.value)


def test_model_paths_and_threads(tmp_path, tiny_model_path):
    assert T.resolve_model_path("tiny.en") == tiny_model_path
    assert (Path(tiny_model_path) / "model.bin").is_file()
    assert T.resolve_model_path(str(tmp_path)) == str(tmp_path)
    assert T.resolve_model_path("large-v3") == "large-v3"
    assert T.cpu_thread_count(3) == 3
    assert T.cpu_thread_count(0) >= 1


def test_load_model_default_and_bad_name(tmp_path):
    model_options = config.load_config().model
    loaded = T.load_model(model_options, batch_size=8)
    assert (loaded.device, loaded.compute_type, loaded.name) == ("cpu", "int8", "tiny.en")
    assert loaded.batched is not None
    assert T.load_model(model_options).batched is None
    with pytest.raises(ModelError) as e:
        T.load_model(dataclasses.replace(model_options, name=str(tmp_path)))  # a folder without a model
    assert "cannot load model" in str(e.value) and "\n" not in str(e.value)
