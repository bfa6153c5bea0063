"""SRT, WebVTT and JSON exports: real subtitle parsers read them, and their times match the audio."""

from __future__ import annotations

import json
import re

import jiwer
import pytest
import srt
import webvtt
from faster_whisper import decode_audio
from pipeline.export import MAX_CUE_SECONDS, MAX_LINE_CHARS, subtitle_cues, write_exports
from pipeline.schema import Segment, Transcription

from conftest import whisper_transcription


def _seconds(timestamp: str) -> float:
    hours, minutes, seconds = timestamp.replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).strip()


@pytest.fixture(scope="module")
def exported(jfk_transcription, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    paths = write_exports(jfk_transcription, out, "jfk", ["srt", "vtt", "json"])
    return out, paths


def test_writes_each_format_next_to_the_others(exported):
    out, paths = exported
    assert [p.name for p in paths] == ["jfk.srt", "jfk.vtt", "jfk.json"]
    assert sorted(p.name for p in out.iterdir()) == ["jfk.json", "jfk.srt", "jfk.vtt"]  # no temporary files left


def test_srt_and_vtt_parse_and_agree_with_the_words(exported, jfk_transcription):
    out, _ = exported
    from_srt = list(srt.parse((out / "jfk.srt").read_text(encoding="utf-8")))
    from_vtt = webvtt.read(str(out / "jfk.vtt")).captions
    via_webvtt = webvtt.from_srt(str(out / "jfk.srt")).captions  # a second, independent SRT parser

    assert len(from_srt) == len(from_vtt) == len(via_webvtt) >= 2  # the 7.6 s first segment is split
    words = jfk_transcription.words
    position = 0
    previous_end = 0.0
    for sub, cue, other in zip(from_srt, from_vtt, via_webvtt, strict=True):
        start, end = sub.start.total_seconds(), sub.end.total_seconds()
        assert (start, end) == pytest.approx((_seconds(cue.start), _seconds(cue.end)), abs=1e-3)
        assert (start, end) == pytest.approx((_seconds(other.start), _seconds(other.end)), abs=1e-3)
        assert sub.content == cue.text == other.text
        # Each cue is a run of the model's words, timed from its first word to its last.
        cue_words = sub.content.split()
        spoken = words[position : position + len(cue_words)]
        assert [w.text.strip() for w in spoken] == cue_words
        assert start == pytest.approx(max(spoken[0].start, previous_end), abs=1e-3)
        assert end == pytest.approx(spoken[-1].end, abs=1e-3)
        assert end - start <= MAX_CUE_SECONDS
        assert all(len(line) <= MAX_LINE_CHARS for line in sub.content.split("\n"))
        assert len(sub.content.split("\n")) <= 2
        position += len(cue_words)
        previous_end = end
    assert position == len(words)  # every word, once
    assert 0.0 <= from_srt[0].start.total_seconds() and previous_end <= jfk_transcription.audio_duration


def test_cue_times_match_the_audio(exported, whisper_tiny_cpu, jfk_flac):
    # Cut the audio at each cue's times and listen again: the cue's own words are there.
    out, _ = exported
    audio = decode_audio(str(jfk_flac))
    assert len(audio) / 16000 == pytest.approx(11.0, abs=0.1)
    for cue in srt.parse((out / "jfk.srt").read_text(encoding="utf-8")):
        start, end = cue.start.total_seconds(), cue.end.total_seconds()
        clip = audio[int(max(0.0, start - 0.15) * 16000) : int((end + 0.15) * 16000)]
        heard = " ".join(s.text for s in whisper_transcription(whisper_tiny_cpu, clip, vad_filter=False).segments)
        assert jiwer.wer(_normalise(cue.content), _normalise(heard)) <= 0.25, (cue.content, heard)


def test_json_holds_segments_and_words(exported, jfk_transcription):
    out, _ = exported
    data = json.loads((out / "jfk.json").read_text(encoding="utf-8"))
    assert data["audio_duration"] == jfk_transcription.audio_duration and data["model"] == "tiny.en"
    assert len(data["segments"]) == len(jfk_transcription.segments)
    first = data["segments"][0]
    assert first["text"] == jfk_transcription.segments[0].text
    assert [w["text"] for s in data["segments"] for w in s["words"]] == [w.text for w in jfk_transcription.words]
    assert {"start", "end", "probability"} <= set(first["words"][0])


def test_segment_without_word_times_is_split_by_length():
    text = " ".join(["Welcome everyone to this Data Umbrella webinar about contributing to scikit-learn."] * 3)
    segment = Segment(
        start=10.0, end=28.0, text=" " + text, avg_logprob=-0.3, compression_ratio=1.5, no_speech_prob=0.0
    )
    cues = subtitle_cues(Transcription(audio_duration=30.0, language="en", model="tiny.en", segments=[segment]))
    assert len(cues) >= 3
    assert cues[0].start == 10.0 and cues[-1].end == 28.0
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:], strict=False))
    assert " ".join(" ".join(c.lines) for c in cues) == text
    assert all(c.end - c.start <= MAX_CUE_SECONDS and len(c.lines) <= 2 for c in cues)


def test_unknown_format_writes_nothing(tmp_path, jfk_transcription):
    with pytest.raises(ValueError, match="unknown export format.*docx"):
        write_exports(jfk_transcription, tmp_path, "jfk", ["srt", "docx"])
    assert list(tmp_path.iterdir()) == []
