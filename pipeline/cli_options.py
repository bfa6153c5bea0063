"""The command-line flags that set configuration options: one table, one row per flag.

Adding an option is one edit in ``configs/default.toml``, its field in the
dataclass of ``config.py``, and one row in ``CONFIG_FLAGS`` (plus its test): the flag, its type
(from the dataclass field), its section and its help all come from here, and
:func:`config_flags` adds the rows to a typer command. A flag left out is
``None`` and leaves the configured value alone.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import typer

from .config import SECTIONS, Config, ConfigError, load_config


@dataclass(frozen=True)
class ConfigFlag:
    decls: str  # typer's declaration: "--beam-size", or "--context/--no-context" for a switch
    section: str  # the config section ([model], [transcribe], ...)
    option: str  # the option's name in that section
    help: str

    @property
    def parameter(self) -> str:
        """The Python name of the command's parameter: the flag without dashes."""
        return self.decls.split("/")[0].lstrip("-").replace("-", "_")


def _table(**sections: dict[str, tuple[str, str]]) -> tuple[ConfigFlag, ...]:
    return tuple(
        ConfigFlag(decls, section, option, help_text)
        for section, rows in sections.items()
        for option, (decls, help_text) in rows.items()
    )


# section -> {option: (flag, help)}
CONFIG_FLAGS: tuple[ConfigFlag, ...] = _table(
    model={
        "name": ("--model", "Model name (tiny.en, base, large-v3, turbo, ...) or a local CTranslate2 folder."),
        "device": ("--device", "auto, cpu or cuda."),
        "compute_type": ("--compute-type", "auto, int8, float16, int8_float16, float32, ..."),
        "cpu_threads": ("--cpu-threads", "CPU threads for the model (0: one per core)."),
    },
    transcribe={
        "batch_size": ("--batch-size", "Batched inference size (1: sequential)."),
        "beam_size": ("--beam-size", "Beam search width (1: greedy decoding)."),
        "language": ("--language", "Spoken language code, e.g. en."),
        "use_page_context": ("--context/--no-context", "Bias the model toward the page's names and terms."),
    },
    run={
        "cache_dir": ("--cache-dir", "Cache folder (default: the user cache, $XDG_CACHE_HOME/du-transcripts)."),
        "downloads_ahead": ("--downloads-ahead", "Videos fetched ahead of the one being transcribed."),
        "glossary": ("--glossary", "A TOML file of extra spelling fixes."),
        "export": ("--export", "Also write subtitles/word JSON: any of srt,vtt,json."),
        "executor": ("--executor", "local, or ray: download and transcribe on a pool of Ray actors (the ray extra)."),
        "ray_address": ("--ray-address", "Ray cluster to join (HOST:PORT or auto); empty: start Ray on this machine."),
        "workers": ("--workers", "Ray actors (0: as many as the cluster holds)."),
        "gpus_per_worker": ("--gpus-per-worker", "GPUs per Ray actor: auto, 1, or a fraction such as 0.5."),
        "export_dir": (
            "--export-dir",
            "Folder for --export's files, mirroring the pages' folders (default: the cache).",
        ),
    },
    speakers={
        "enabled": (
            "--speakers/--no-speakers",
            "Label who speaks (needs the 'speakers' extra): paragraphs break at turns, **Name:** starts a turn.",
        ),
        "num_speakers": ("--num-speakers", "How many voices the talk has (0: found, 1 to 6)."),
    },
    chapters={
        "fill_timestamps": (
            "--fill-timestamps/--no-fill-timestamps",
            "Write the proposed chapters over the page's placeholder timestamps (a page without chapters).",
        ),
    },
    download={
        "cookies": ("--cookies", "cookies.txt for yt-dlp (YouTube's bot check)."),
        "cookies_from_browser": ("--cookies-from-browser", "Browser whose cookies yt-dlp uses: firefox, ..."),
        "sleep_requests": ("--sleep-requests", "Seconds between yt-dlp's HTTP requests."),
        "sleep_interval": ("--sleep-interval", "Seconds before each download."),
        "rate_limit": ("--rate-limit", "Download speed cap, e.g. 2M."),
        "retries": ("--retries", "Download retries on transient errors."),
    },
    review={
        "port": ("--port", "Port of the review page on 127.0.0.1 (0: any free one)."),
        "open_browser": ("--browser/--no-browser", "Open the review page in the default browser."),
    },
)

# Field types as the command line takes them; a list option is written "a,b,c".
_FLAG_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool, "tuple[str, ...]": str}


def flag_type(flag: ConfigFlag) -> type:
    """The Python type of a flag's value, read from its dataclass field."""
    field_types = {f.name: str(f.type) for f in fields(SECTIONS[flag.section])}
    return _FLAG_TYPES[field_types[flag.option]]


def build_config(config_file: str | Path | None, values: Mapping[ConfigFlag, Any]) -> Config:
    """configs/default.toml, then ``config_file``, then the flags that were given (not None)."""
    config = load_config(config_file)
    for section in dict.fromkeys(flag.section for flag in values):
        try:
            config = config.replace(section, **{f.option: v for f, v in values.items() if f.section == section})
        except ConfigError as e:  # name the flag the user typed, when one set the option at fault
            given = [f for f, v in values.items() if v is not None and (f.section, f.option) == (e.section, e.option)]
            if not given:
                raise
            flag = given[0].decls.split("/")[0]
            raise ConfigError(f"{flag} {values[given[0]]}: {e}", e.section, e.option) from None
    return config


def config_flags(
    *names: str, exclude_sections: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the table's flags (all, or those named, e.g. ``"--model"``) to a typer command;
    ``exclude_sections``: leave out the flags of those sections (another command's options).

    The command declares a parameter ``flags: dict`` instead: it receives
    ``{ConfigFlag: value or None}``, to pass to :func:`build_config`.
    """
    rows = [
        f for f in CONFIG_FLAGS if (not names or f.decls.split("/")[0] in names) and f.section not in exclude_sections
    ]
    unknown = set(names) - {f.decls.split("/")[0] for f in rows}
    if unknown:
        raise ValueError(f"no such config flag: {', '.join(sorted(unknown))}")

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "flags"]
        added = [
            inspect.Parameter(
                f.parameter,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(None, *f.decls.split(" "), help=f.help),
                annotation=flag_type(f) | None,
            )
            for f in rows
        ]

        @functools.wraps(command)
        def with_flags(**kwargs: Any) -> Any:
            values = {f: kwargs.pop(f.parameter) for f in rows}
            return command(**kwargs, flags=values)

        parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
        setattr(with_flags, "__signature__", inspect.Signature(parameters))  # noqa: B010
        with_flags.__annotations__ = {p.name: p.annotation for p in parameters}
        return with_flags

    return decorate
