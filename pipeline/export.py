"""Exports for volunteers who edit in a subtitle editor: SRT, WebVTT and word-level JSON.

CONTRACT (other modules rely on these names; keep them):

- ``FORMATS``: the names ``--export`` accepts: "srt", "vtt", "json".
- ``write_exports(transcription, out_dir, stem, formats, *, labels=None) -> list[Path]``: write
  ``<out_dir>/<stem>.<format>`` for each format, atomically; an unknown format
  raises ``ValueError`` before anything is written.
- ``subtitle_cues(transcription, labels=None) -> list[Cue]``: the cues both subtitle formats share.
- ``mirrored_folder(export_dir, page_path) -> Path``: where ``--export-dir`` puts a page's files,
  always inside ``export_dir``.

With ``labels`` (speaker index -> label, for words that carry a ``speaker``) a cue
never spans two speakers: SRT cues start with ``Label: ``, WebVTT cues with a
voice span ``<v Label>``, and each word of the JSON has its speaker's label.

Cues follow the common subtitle conventions: at most two lines of 42
characters and 7 seconds on screen. A longer segment is split at word
boundaries using the words' own times, so every cue starts with its first
word and ends with its last; a segment without word times is split by
characters in proportion to its duration. Cues never overlap and never run
past the audio; no word is ever dropped.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath

import srt

from .config import EXPORT_FORMATS
from .schema import Transcription, Word
from .utils import atomic_write_text

FORMATS = EXPORT_FORMATS  # the names --export accepts, checked when the config is built

# Subtitle conventions (Netflix, BBC and most editors' defaults), not options.
MAX_LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_SECONDS = 7.0


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None  # the label of who says it

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def mirrored_folder(export_dir: str | Path, page_path: str) -> Path:
    """The folder under ``export_dir`` for a page's exports: the page's folder relative to the folder
    given to run; a page given by an absolute path or one with ``..`` in it lands in ``export_dir`` itself
    (never outside it)."""
    parent = PurePosixPath(Path(page_path).as_posix()).parent
    if parent.is_absolute() or ".." in parent.parts:
        return Path(export_dir)
    return Path(export_dir) / parent


def write_exports(
    transcription: Transcription,
    out_dir: str | Path,
    stem: str,
    formats: Iterable[str],
    *,
    labels: Mapping[int, str] | None = None,
) -> list[Path]:
    """Write each requested format next to the others; return the paths written."""
    formats = list(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s): {', '.join(unknown)} (known: {', '.join(FORMATS)})")
    writers = {"srt": to_srt, "vtt": to_vtt, "json": to_json_text}
    paths = []
    for fmt in formats:
        path = Path(out_dir) / f"{stem}.{fmt}"
        atomic_write_text(path, writers[fmt](transcription, labels))
        paths.append(path)
    return paths


def to_srt(transcription: Transcription, labels: Mapping[int, str] | None = None) -> str:
    subtitles = [
        srt.Subtitle(
            index=i,
            start=timedelta(seconds=c.start),
            end=timedelta(seconds=c.end),
            content=f"{c.speaker}: {c.text}" if c.speaker else c.text,
        )
        for i, c in enumerate(subtitle_cues(transcription, labels), 1)
    ]
    return srt.compose(subtitles, reindex=False)


def to_vtt(transcription: Transcription, labels: Mapping[int, str] | None = None) -> str:
    blocks = ["WEBVTT\n"]
    for cue in subtitle_cues(transcription, labels):
        text = f"<v {_vtt_escape(cue.speaker)}>{_vtt_escape(cue.text)}" if cue.speaker else _vtt_escape(cue.text)
        blocks.append(f"{_vtt_time(cue.start)} --> {_vtt_time(cue.end)}\n{text}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    # WebVTT cue text is markup: a bare "<" or "&" would start a tag or an entity.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_json_text(transcription: Transcription, labels: Mapping[int, str] | None = None) -> str:
    """Segments with their words and times (and each word's speaker label), plus what produced them."""
    segments = [asdict(s) for s in transcription.segments]
    for segment in segments:
        for word in segment["words"]:
            speaker = word.pop("speaker")
            if labels:
                word["speaker"] = labels.get(speaker) if speaker is not None else None
    data = {
        "audio_duration": transcription.audio_duration,
        "language": transcription.language,
        "model": transcription.model,
        "segments": segments,
    }
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def _vtt_time(seconds: float) -> str:
    # WebVTT is SRT's timestamp with a dot before the milliseconds.
    return srt.timedelta_to_srt_timestamp(timedelta(seconds=seconds)).replace(",", ".")


def subtitle_cues(transcription: Transcription, labels: Mapping[int, str] | None = None) -> list[Cue]:
    cues: list[Cue] = []
    for segment in transcription.segments:
        words = segment.words or _words_from_text(segment.text, segment.start, segment.end)
        for turn in _speaker_runs(words) if labels else [words]:
            speaker = labels.get(turn[0].speaker) if labels and turn[0].speaker is not None else None
            for group in _group_words(turn):
                cues.append(_cue(group, speaker, cues, transcription.audio_duration))
    return cues


def _cue(group: list[Word], speaker: str | None, cues: list[Cue], duration: float) -> Cue:
    """The cue of one group of words, after ``cues`` (the one before may be taken back into it)."""
    # Neighbouring words' times may overlap a little: a cue starts where the last one ended.
    start = max(group[0].start, cues[-1].end if cues else 0.0)
    end = min(group[-1].end, duration or group[-1].end)
    text = _join(group)
    if end <= start and cues and cues[-1].speaker == speaker:  # no time of its own: join the cue before
        text = cues[-1].text.replace("\n", " ") + " " + text
        start, end = cues.pop().start, max(end, start)
    return Cue(round(start, 3), round(max(end, start + 0.001), 3), tuple(_lines(text)), speaker)


def _speaker_runs(words: list[Word]) -> list[list[Word]]:
    """``words`` cut where the speaker changes."""
    runs: list[list[Word]] = []
    for word in words:
        if runs and runs[-1][-1].speaker == word.speaker:
            runs[-1].append(word)
        else:
            runs.append([word])
    return runs


def _words_from_text(text: str, start: float, end: float) -> list[Word]:
    """Words with times shared out by length, for segments transcribed without word times."""
    tokens = text.split()
    total = sum(len(t) + 1 for t in tokens)
    words, t = [], start
    for token in tokens:
        step = (end - start) * (len(token) + 1) / total
        words.append(Word(t, t + step, " " + token, 1.0))
        t += step
    return words


def _group_words(words: list[Word]) -> list[list[Word]]:
    """Split ``words`` into runs that each fit one cue, cutting where a reader would.

    A run too long for one cue is cut in two at the best word boundary (halves of
    similar length, preferably after punctuation or at a pause), and each half
    in turn, so a 9-second sentence becomes two even cues rather than a full
    one and a stub.
    """
    words = [w for w in words if w.text.strip()]
    if not words or _fits(words):
        return [words] if words else []
    cut = min(range(1, len(words)), key=lambda i: _cut_cost(words, i))
    return _group_words(words[:cut]) + _group_words(words[cut:])


def _cut_cost(words: list[Word], i: int) -> float:
    left, right = len(_join(words[:i])), len(_join(words[i:]))
    cost = abs(left - right) / (left + right)
    if words[i - 1].text.rstrip()[-1:] in ".?!;:,":
        cost -= 0.3
    if words[i].start - words[i - 1].end >= 0.3:
        cost -= 0.2
    return cost


def _fits(words: list[Word]) -> bool:
    if words[-1].end - words[0].start > MAX_CUE_SECONDS:
        return False
    return len(_wrap(_join(words))) <= MAX_LINES


def _join(words: list[Word]) -> str:
    return " ".join(w.text.strip() for w in words)


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, MAX_LINE_CHARS, break_long_words=False, break_on_hyphens=False) or [text]


def _lines(text: str) -> list[str]:
    lines = _wrap(text)
    # Only a single word too long for two lines gets here: keep it whole.
    return lines if len(lines) <= MAX_LINES else [" ".join(lines)]
