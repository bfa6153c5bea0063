"""Speaker turns in the draft: paragraphs break at every change of speaker, a label starts each turn only.

Pure functions on hand-made words (align, render, the transcription cache's format); the real
engine on real speech is in test_speakers.py and test_speakers_run.py.
"""

from __future__ import annotations

import json

from pipeline import align, config, render
from pipeline.schema import Chapter, RenderedPart, Segment, Transcription, Word

OPTIONS = config.load_config().align


def sentence(start: float, text: str, speaker: int | None) -> list[Word]:
    """One word a quarter second, with a short gap between them."""
    return [Word(start + 0.25 * i, start + 0.25 * i + 0.2, f" {w}", 0.9, speaker) for i, w in enumerate(text.split())]


def transcription(words: list[Word]) -> Transcription:
    segment = Segment(words[0].start, words[-1].end, "".join(w.text for w in words), -0.2, 1.2, 0.01, words=words)
    return Transcription(audio_duration=words[-1].end + 1, language="en", model="tiny.en", segments=[segment])


def talk() -> Transcription:
    long_turn = " ".join(["We measured it again and it held."] * 30)  # 210 words: more than one paragraph
    return transcription(
        sentence(0.0, "Welcome everyone, my name is Ty.", 0)
        + sentence(3.0, "Yep.", 1)
        + sentence(4.0, "Over to you, Ali.", 0)
        + sentence(6.0, long_turn, 1)
        + sentence(70.0, "Thanks so much, that was great.", 0)
    )


def test_paragraphs_break_at_every_change_of_speaker():
    chapters = align.align(talk(), [Chapter(0.0, "Talk")], OPTIONS).chapters
    paragraphs = chapters[0].paragraphs
    speakers = [p.speaker for p in paragraphs]
    assert all({w.speaker for w in p.words} == {p.speaker} for p in paragraphs)
    assert speakers[:3] == [0, 1, 0] and speakers[-1] == 0
    assert speakers.count(1) >= 3, "a 210-word turn is more than one paragraph"
    assert [p.text for p in paragraphs[:2]] == ["Welcome everyone, my name is Ty.", "Yep."]


def test_a_label_starts_each_turn_and_only_there():
    alignment = align.align(talk(), [Chapter(0.0, "Talk")], OPTIONS)
    part = RenderedPart("https://example.org/talk.mp3", None, alignment, speakers={0: "Ty", 1: "Speaker 2"})
    body = render.render_transcript([part], model="tiny.en", date="2026-12-01")
    paragraphs = [b for b in body.split("\n\n") if not b.startswith(("*Machine", "###"))]
    starts = [p.split(":**")[0] + ":**" if p.startswith("**") else None for p in paragraphs]
    assert starts[:3] == ["**Ty:**", "**Speaker 2:**", "**Ty:**"]
    assert starts[3] == "**Speaker 2:**" and starts[4] is None, "the second paragraph of a turn has no label"
    assert starts[-1] == "**Ty:**" and "machine guesses" in body
    # Without speakers the draft is as before: no label, no note about them.
    plain = render.render_transcript([RenderedPart(part.url, None, alignment)], model="tiny.en", date="2026-12-01")
    assert "**" not in plain.replace("**Part", "") and "machine guesses" not in plain


def test_the_transcription_cache_never_stores_speakers():
    with_speakers = talk()
    without = transcription([Word(w.start, w.end, w.text, w.probability) for w in with_speakers.words])
    assert json.dumps(with_speakers.to_json()) == json.dumps(without.to_json())
    assert all(w.speaker is None for w in Transcription.from_json(with_speakers.to_json()).words)
