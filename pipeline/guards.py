"""Guards on the model's text: what Whisper invents on silence and music, and its decoding loops.

``transcribe`` applies both to every window: :func:`hallucination_reason` drops a segment
the model invented, :func:`collapse_repetitions` keeps one copy of an n-gram repeated back
to back.
"""

from __future__ import annotations

import re

from .config import TranscribeOptions
from .schema import Segment, Word
from .utils import repeat_count

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
