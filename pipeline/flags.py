"""Flags for the reviewer: passages the model was unsure of, to listen to again.

CONTRACT (other modules rely on these names; keep them):

- ``Flag(start, end, reason)``: a NamedTuple (defined in ``schema``), so it unpacks as a
  plain ``(start, end, reason)`` span. ``reason`` is one of REASONS, or several
  joined by ", " in REASONS' order where flags were merged.
- ``flag_segments(segments, options: FlagOptions, **overrides) -> list[Flag]``:
  sorted, non-overlapping. ``options`` is the [flags] section of the run's config
  (``load_config().flags``); keyword overrides (``logprob_threshold=-0.8``) replace
  single thresholds.
- ``count_flags(flags, start, end) -> int``: flags that begin in [start, end), for
  the per-chapter count in the draft marker.

What is flagged, and why:

- "low confidence": a segment whose average log-probability is below
  ``logprob_threshold`` (Whisper's own fallback test), or a run of at least
  ``low_word_run`` words each below ``word_probability_threshold``.
- "high compression": a segment whose text gzips better than
  ``compression_threshold`` (Whisper's test for repetitive output).
- "repetition": a phrase of 1..``repetition_max_ngram`` words said at least
  ``repetition_min_repeats`` times back to back, covering at least
  ``repetition_min_words`` words, within a segment or across consecutive ones
  (Whisper's loops often repeat whole segments).
- "speech over music": the model wrote a music mark (♪, [Music], (music playing))
  or wrote words in a segment it deems likely non-speech (``no_speech_prob`` at
  least ``music_no_speech_prob``). Limits: Whisper has no music detector, so this
  catches intros and outros the model itself marks, and speech under loud music
  or noise that it hears as non-speech; quiet background music under clear
  speech goes unflagged, and so does applause it hears as non-speech but leaves
  without words.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from .config import FlagOptions
from .schema import Flag, Segment
from .utils import repeat_count

LOW_CONFIDENCE = "low confidence"
HIGH_COMPRESSION = "high compression"
REPETITION = "repetition"
SPEECH_OVER_MUSIC = "speech over music"
REASONS = (LOW_CONFIDENCE, REPETITION, HIGH_COMPRESSION, SPEECH_OVER_MUSIC)

_MUSIC_MARK = re.compile(r"[♪♫🎵🎶]|[\[(]\s*(?:upbeat |soft |gentle |dramatic )?music\b[^\])]*[\])]", re.I)
_WORD_CHARS = re.compile(r"[^\w']+")


class _Token(NamedTuple):
    key: str  # the word in lower case without punctuation, for comparing
    start: float
    end: float


def flag_segments(segments: Iterable[Segment], options: FlagOptions, **overrides: Any) -> list[Flag]:
    """Spans of ``segments`` a reviewer should check, merged and in time order."""
    if overrides:
        options = dataclasses.replace(options, **overrides)
    segments = list(segments)
    flags: list[Flag] = []
    for segment in segments:
        flags.extend(_segment_flags(segment, options))
    flags.extend(_repetition_flags(segments, options))
    return _merge(flags, options.merge_gap)


def count_flags(flags: Iterable[Flag], start: float, end: float) -> int:
    """How many flags begin in [start, end)."""
    return sum(1 for f in flags if start <= f.start < end)


def _segment_flags(segment: Segment, options: FlagOptions) -> list[Flag]:
    flags = []
    if segment.avg_logprob < options.logprob_threshold:
        flags.append(Flag(segment.start, segment.end, LOW_CONFIDENCE))
    else:
        flags.extend(_low_word_runs(segment, options))
    if segment.compression_ratio > options.compression_threshold:
        flags.append(Flag(segment.start, segment.end, HIGH_COMPRESSION))
    has_words = bool(segment.words) or bool(_WORD_CHARS.sub("", _MUSIC_MARK.sub("", segment.text)))
    if _MUSIC_MARK.search(segment.text) or (has_words and segment.no_speech_prob >= options.music_no_speech_prob):
        flags.append(Flag(segment.start, segment.end, SPEECH_OVER_MUSIC))
    return flags


def _low_word_runs(segment: Segment, options: FlagOptions) -> list[Flag]:
    """Stretches where ``low_word_run`` words in a row average below the probability threshold."""
    words = segment.words
    size = min(options.low_word_run, len(words))
    if size < 2:  # one doubtful word is no stretch
        return []
    doubtful = [False] * len(words)
    for i in range(len(words) - size + 1):
        if sum(w.probability for w in words[i : i + size]) / size < options.word_probability_threshold:
            doubtful[i : i + size] = [True] * size
    flags: list[Flag] = []
    for i, word in enumerate(words):
        if not doubtful[i]:
            continue
        if i > 0 and doubtful[i - 1]:
            flags[-1] = flags[-1]._replace(end=word.end)
        else:
            flags.append(Flag(word.start, word.end, LOW_CONFIDENCE))
    return flags


def _tokens(segments: list[Segment]) -> list[_Token]:
    """Every word of every segment in order; without word times a word gets its segment's."""
    tokens = []
    for segment in segments:
        if segment.words:
            pieces = [(w.text, w.start, w.end) for w in segment.words]
        else:
            pieces = [(text, segment.start, segment.end) for text in segment.text.split()]
        for text, start, end in pieces:
            key = _WORD_CHARS.sub("", text).lower()
            if key:
                tokens.append(_Token(key, start, end))
    return tokens


def _repetition_flags(segments: list[Segment], options: FlagOptions) -> list[Flag]:
    """Loops: a phrase repeated back to back, found over all segments' words at once."""
    tokens = _tokens(segments)
    keys = [t.key for t in tokens]
    flags = []
    i = 0
    while i < len(keys):
        loop_end = _loop_end(keys, i, options)
        if loop_end is None:
            i += 1
            continue
        flags.append(Flag(tokens[i].start, tokens[loop_end - 1].end, REPETITION))
        i = loop_end
    return flags


def _loop_end(keys: list[str], i: int, options: FlagOptions) -> int | None:
    """End (exclusive) of the longest loop starting at ``i``, or None."""
    best = None
    for n in range(1, options.repetition_max_ngram + 1):
        repeats = repeat_count(keys, i, n)
        if repeats == 0:
            break
        covered = repeats * n
        if repeats >= options.repetition_min_repeats and covered >= options.repetition_min_words:
            if best is None or i + covered > best:
                best = i + covered
    return best


def _merge(flags: list[Flag], gap: float) -> list[Flag]:
    """One flag per stretch: overlapping (or nearly touching) flags join, reasons listed once."""
    merged: list[Flag] = []
    for flag in sorted(flags):
        if merged and flag.start <= merged[-1].end + gap:
            last = merged[-1]
            reasons = set(last.reason.split(", ")) | {flag.reason}
            merged[-1] = Flag(last.start, max(last.end, flag.end), ", ".join(r for r in REASONS if r in reasons))
        else:
            merged.append(flag)
    return merged
