"""Reviewer flags: loops and doubtful stretches are flagged, clean speech is not."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from faster_whisper import decode_audio
from faster_whisper.transcribe import get_compression_ratio
from pipeline.config import load_config
from pipeline.flags import (
    HIGH_COMPRESSION,
    LOW_CONFIDENCE,
    REPETITION,
    SPEECH_OVER_MUSIC,
    Flag,
    count_flags,
    flag_segments,
)
from pipeline.schema import Segment, Word

from conftest import whisper_transcription

OPTIONS = load_config().flags


def _segment(start, text, probabilities, *, avg_logprob=-0.3, no_speech_prob=0.02, step=0.4):
    """A segment as Whisper would report it, with its compression ratio computed as Whisper does."""
    words = [
        Word(round(start + i * step, 2), round(start + (i + 1) * step, 2), " " + token, p)
        for i, (token, p) in enumerate(zip(text.split(), probabilities, strict=False))
    ]
    return Segment(
        start=start,
        end=words[-1].end,
        text=" " + text,
        avg_logprob=avg_logprob,
        compression_ratio=get_compression_ratio(" " + text),
        no_speech_prob=no_speech_prob,
        words=words,
    )


def _shifted(segment: Segment, offset: float) -> Segment:
    return dataclasses.replace(
        segment,
        start=segment.start + offset,
        end=segment.end + offset,
        words=[dataclasses.replace(w, start=w.start + offset, end=w.end + offset) for w in segment.words],
    )


def test_clean_real_speech_is_not_flagged(jfk_transcription):
    assert jfk_transcription.words, "tiny.en heard nothing in jfk.flac"
    assert flag_segments(jfk_transcription.segments, OPTIONS) == []


def test_planted_loop_and_low_confidence_stretch_are_flagged(jfk_transcription):
    clean = jfk_transcription.segments  # 0 .. 11 s of real speech
    # A Whisper loop: the same sentence over and over, across consecutive segments.
    loop = [_segment(20.0 + 2.0 * k, "thank you so much for coming", [0.9] * 6) for k in range(4)]
    # A doubtful stretch in an otherwise confident segment: the model's average is fine,
    # but five words in a row are guesses.
    doubtful = _segment(
        40.0,
        "so the next step is my soul and I have not much more to do",
        [0.9, 0.95, 0.9, 0.95, 0.99, 0.6, 0.55, 0.62, 0.58, 0.6, 0.99, 0.92, 0.95, 0.97],
        avg_logprob=-0.45,
    )
    # A segment Whisper itself scored as unlikely.
    unlikely = _segment(60.0, "its just good thats what you do", [0.6] * 7, avg_logprob=-1.3)
    segments = [*clean, *loop, *(_shifted(s, 80.0) for s in clean), doubtful, unlikely]

    flags = flag_segments(segments, OPTIONS)

    assert flags == [
        Flag(20.0, loop[-1].end, REPETITION),
        Flag(42.0, 44.0, LOW_CONFIDENCE),  # "my soul and I have": words 5..9
        Flag(60.0, unlikely.end, LOW_CONFIDENCE),
    ]
    # The real speech, at its own time and again at 80 s, is untouched.
    assert all(f.end < 80.0 and f.start > 11.0 for f in flags)


def test_loop_inside_one_segment_and_its_compression():
    text = "and we will " * 6 + "see"
    segment = _segment(5.0, text.strip(), [0.8] * 19)
    assert segment.compression_ratio > 2.4  # Whisper's own measure agrees it is repetitive
    (flag,) = flag_segments([segment], OPTIONS)
    # The loop (words 0..17) and the whole segment's compression merge into one flag.
    assert flag == Flag(5.0, segment.end, f"{REPETITION}, {HIGH_COMPRESSION}")
    (loop_only,) = flag_segments([segment], OPTIONS, compression_threshold=10.0)
    assert loop_only == Flag(5.0, segment.words[17].end, REPETITION)


@pytest.mark.parametrize(
    "text",
    [
        "no no no that is not what I meant at all",  # a short stutter is no loop
        "thank you thank you",
        "one two three four five six seven eight nine ten",
    ],
)
def test_ordinary_repetition_is_not_a_loop(text):
    assert flag_segments([_segment(0.0, text, [0.9] * len(text.split()))], OPTIONS) == []


def test_speech_over_music():
    intro = _segment(0.0, "♪ ♪", [0.8, 0.8])
    lyrics = _segment(3.0, "welcome everyone to the webinar", [0.8] * 5, no_speech_prob=0.75)
    speech = _segment(10.0, "welcome everyone to the webinar", [0.8] * 5, no_speech_prob=0.1)
    marked = dataclasses.replace(speech, start=20.0, end=22.0, text=" [Music] welcome everyone", words=[])
    flags = flag_segments([intro, lyrics, speech, marked], OPTIONS, merge_gap=0.0)
    assert flags == [
        Flag(0.0, intro.end, SPEECH_OVER_MUSIC),
        Flag(3.0, lyrics.end, SPEECH_OVER_MUSIC),
        Flag(20.0, 22.0, SPEECH_OVER_MUSIC),
    ]


def test_real_speech_in_noise_is_flagged(whisper_tiny_cpu, jfk_flac):
    # The same real speech as the clean test, buried in noise (-8 dB SNR): tiny.en garbles it.
    speech = decode_audio(str(jfk_flac))
    noise = np.random.default_rng(0).normal(0.0, np.sqrt(np.mean(speech**2) * 10**0.8), speech.shape)
    transcription = whisper_transcription(whisper_tiny_cpu, (speech + noise).astype(np.float32))
    assert transcription.words, "tiny.en wrote nothing at all for the noisy clip"

    flags = flag_segments(transcription.segments, OPTIONS)

    assert flags, f"garbled speech was not flagged: {[s.text for s in transcription.segments]}"
    assert LOW_CONFIDENCE in {reason for f in flags for reason in f.reason.split(", ")}
    assert all(0.0 <= f.start < f.end <= transcription.audio_duration for f in flags)


def test_thresholds_are_options(jfk_transcription):
    # tiny.en scores jfk.flac about -0.4 on average: a stricter threshold flags it.
    strict = flag_segments(jfk_transcription.segments, OPTIONS, logprob_threshold=-0.2)
    assert strict and all(f.reason == LOW_CONFIDENCE for f in strict)


def test_overlapping_flags_merge_and_chapters_count_them():
    segment = _segment(0.0, "go " * 15 + "now", [0.1] * 16, avg_logprob=-1.5)
    later = _segment(100.0, "what is this", [0.1, 0.1, 0.1])
    flags = flag_segments([segment, later], OPTIONS)
    assert [f.reason for f in flags] == [f"{LOW_CONFIDENCE}, {REPETITION}, {HIGH_COMPRESSION}", LOW_CONFIDENCE]
    assert count_flags(flags, 0.0, 60.0) == 1 and count_flags(flags, 60.0, 200.0) == 1
    assert count_flags(flags, 0.0, 0.0) == 0
    assert isinstance(flags[0], tuple) and flags[0][:2] == (0.0, segment.end)
