"""Chapter proposals (pipeline/propose.py) on real transcribed words, and the Timestamps block they fill.

The words are tiny.en's, cached beside the committed test talks (``tiny.en.json``: the pipeline's
own cache file for the talk, made with ``run --no-context`` so the page's titles did not bias them):
five-chapters (3 voices, 5 human chapters) and qa-webinar (a placeholder page's webinar with a
two-question Q&A, scripts/make_qa_talk.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pipeline import propose
from pipeline.config import load_config
from pipeline.pages.timestamps import fill_timestamps, timestamp_lines
from pipeline.propose_titles import question_title, section_titles, title_case
from pipeline.schema import CUE_QUESTION, Chapter, Transcription, Word

import evalkit
from evalkit.boundaries import score_boundaries

TALKS = Path(__file__).resolve().parent / "fixtures" / "talks"
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
OPTIONS = load_config().chapters


def cached_words(name: str) -> Transcription:
    return Transcription.from_json(json.loads((TALKS / name / "tiny.en.json").read_text(encoding="utf-8")))


def spoken(transcription: Transcription) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z0-9']+", " ".join(w.text for w in transcription.words))}


def check_titles(chapters, transcription: Transcription) -> None:
    """Every title is words of the talk (Q&A's label aside), short unless it is a question."""
    said = spoken(transcription)
    for chapter in chapters:
        words = re.findall(r"[A-Za-z0-9']+", chapter.title.replace("Q&A", ""))
        assert words, chapter
        assert all(w.lower() in said for w in words), chapter
        assert chapter.title[0].isupper(), chapter
        if not chapter.title.startswith("Q&A"):
            assert len(words) <= 6, chapter


def test_proposals_on_real_words_land_on_the_human_chapters():
    transcription = cached_words("five-chapters")
    truth = evalkit.load_truth(TALKS / "five-chapters")
    chapters = propose.propose_chapters(transcription, OPTIONS)
    starts = [c.start for c in chapters]
    assert starts[0] == transcription.words[0].start and starts == sorted(starts)
    assert all(b - a >= OPTIONS.min_seconds for a, b in zip(starts, starts[1:], strict=False))
    score = score_boundaries(starts, [c.start for c in truth.chapters], 15.0)
    assert score.f1 >= 0.75, score  # measured: 4 of 4 within 1 s
    check_titles(chapters, transcription)
    assert len({c.title for c in chapters}) == len(chapters)


def test_the_qa_and_each_of_its_questions_is_a_chapter_titled_by_the_question():
    transcription = cached_words("qa-webinar")
    truth = evalkit.load_truth(TALKS / "qa-webinar")
    chapters = propose.propose_chapters(transcription, OPTIONS)
    check_titles(chapters, transcription)
    by_title = {c.title: c for c in chapters}
    asked = [c for c in truth.chapters if c.title.startswith("Q&A - ")]
    assert len(asked) == 2
    first = by_title["Q&A - How Does One Get into AI Security?"]
    second = by_title["Q&A - What Is the Overlap Between Machine Learning Security and AI Ethics?"]
    assert abs(first.start - asked[0].start) <= 15 and abs(second.start - asked[1].start) <= 15
    assert second.cue == CUE_QUESTION
    # the speaker's talk begins after the handover, the closing thanks everyone
    assert any(abs(c.start - truth.chapters[1].start) <= 2 for c in chapters), chapters
    assert chapters[-1].title == "Thank You All for Coming" and abs(chapters[-1].start - truth.chapters[-1].start) <= 2


def test_without_cues_or_speakers_each_feature_alone_still_proposes_from_its_own_evidence():
    transcription = cached_words("five-chapters")
    items = propose.sentences(transcription.words)
    duration = transcription.audio_duration
    for feature in ("topic", "pauses"):
        chosen = propose.choose_boundaries(items, duration, OPTIONS, use=(feature,))
        assert 0 in chosen and len(chosen) >= 2, feature
    # "Q&A" said in passing, with no question after it, makes no Q&A chapter
    assert not any(c.title.startswith("Q&A") for c in propose.propose_chapters(transcription, OPTIONS))


def test_a_change_of_speaker_ends_a_sentence_and_scores_as_a_boundary():
    words = [Word(0.0, 0.4, " Hello", 0.9, 0), Word(0.5, 0.9, " there", 0.9, 0), Word(1.0, 1.4, " Yes", 0.9, 1)]
    items = propose.sentences(words)
    assert [s.text for s in items] == ["Hello there", "Yes"]
    weights = {**propose.WEIGHTS, "speakers": 1.0}  # shipped at 0 (measured), so weigh it here
    assert propose.boundary_scores(items, use=("speakers",), weights=weights) == [0.0, 1.0]
    assert propose.propose_chapters(Transcription(2.0, "en", "tiny.en"), OPTIONS) == []


@pytest.mark.parametrize(
    ("said", "title"),
    [
        ("So the next question is, how does one get into AI security?", "Q&A - How Does One Get into AI Security?"),
        (
            "Someone asks: is the speaker related to the research by NVIDIA on securing LLM systems against prompt "
            "injection in any way at all?",
            "Q&A - Is the Speaker Related to the Research by NVIDIA on Securing LLM Systems?",  # 14 words at most
        ),
        ("What do you see in the future of AI in 2024?", "Q&A - What Do You See in the Future of AI in 2024?"),
    ],
)
def test_a_question_read_aloud_titles_its_chapter(said, title):
    assert question_title(said) == title


def test_section_titles_are_what_a_section_announces_else_its_own_key_phrase():
    sections = [
        "Now let's talk about the distributed scheduler. It runs tasks on workers.",
        "We load a Dask DataFrame. The Dask DataFrame looks like pandas. A Dask DataFrame is lazy.",
        "We load a Dask DataFrame again, then we train. Support vector classifier. The support vector classifier.",
    ]
    assert section_titles(sections) == ["Distributed Scheduler", "Dask DataFrame", "Support Vector Classifier"]
    assert title_case("working with numpy and the NumPy API") == "Working with Numpy and the NumPy API"


def test_fill_timestamps_changes_only_the_placeholder_line_and_only_once(tmp_path):
    seed = next(SEEDS.glob("000_*.txt"))
    page = tmp_path / "095-joseph-ml-security.md"
    page.write_bytes(seed.read_bytes().replace(b"\n", b"\r\n"))  # CRLF, as 2022/60-62 are
    before = page.read_bytes()
    chapters = [Chapter(0.0, "Welcome to Data Umbrella"), Chapter(222.4, "Machine Learning"), Chapter(3725, "Q&A")]
    assert fill_timestamps(page, chapters).changed
    placeholder = b"00:00 Help us add timestamps"
    head, tail = before.split(placeholder)
    assert page.read_bytes() == head + "\r\n".join(timestamp_lines(chapters)).encode() + tail
    assert timestamp_lines(chapters) == ["00:00 Welcome to Data Umbrella", "03:42 Machine Learning", "1:02:05 Q&A"]
    filled = page.read_bytes()
    assert not fill_timestamps(page, chapters).changed and page.read_bytes() == filled
    assert b"## Timestamps\r\n[get from video]\r\n" in filled  # the later placeholder section stays as it was


def test_fill_timestamps_never_touches_a_list_a_human_wrote(tmp_path):
    for seed in (next(SEEDS.glob("001_*.txt")),):
        page = tmp_path / seed.name
        page.write_bytes(seed.read_bytes())
        assert not fill_timestamps(page, [Chapter(0.0, "Start")]).changed
        assert page.read_bytes() == seed.read_bytes()
    mixed = tmp_path / "71-mixed.md"  # real entries, then a placeholder (as 2022/71-wg-sw-career.md)
    mixed.write_text("# T\n\n```\n## Timestamps\n00:00 Intro\nxx:xx Help us add timestamps\n```\n\n## Transcript\n")
    before = mixed.read_bytes()
    assert not fill_timestamps(mixed, [Chapter(0.0, "Start")]).changed and mixed.read_bytes() == before


def test_fill_timestamps_fills_an_empty_block_under_its_heading(tmp_path):
    page = tmp_path / "69-bruno-rust.md"  # a fence holding only ``## Timestamps`` (2022/69)
    page.write_text("# T\n\n```\n## Timestamps\n```\n\n## Transcript")
    assert fill_timestamps(page, [Chapter(0.0, "Start"), Chapter(61.0, "Rust")]).changed
    assert page.read_text() == "# T\n\n```\n## Timestamps\n00:00 Start\n01:01 Rust\n```\n\n## Transcript"


def test_boundary_scores_match_one_to_one_within_the_tolerance_and_skip_the_start():
    human = [0.0, 60.0, 120.0, 300.0]
    score = score_boundaries([0.3, 55.0, 70.0, 125.0, 400.0], human, 15.0)
    # 55 takes 60 (70 is farther), 125 takes 120; 400 matches nothing; 300 is missed; the starts do not count
    assert (score.proposed, score.truth, score.hits) == (4, 3, 2)
    assert score.precision == 0.5 and score.recall == pytest.approx(2 / 3)
    assert score_boundaries([0.0], [0.0], 15.0).f1 == 1.0  # a talk of one chapter, proposed as one


def test_fill_page_leaves_a_page_with_human_chapters_as_it_is(tmp_path):
    from pipeline.pages import read_page
    from pipeline.proposals import VideoProposals, fill_page
    from pipeline.schema import ProposedChapter

    seed = next(SEEDS.glob("001_*.txt"))
    page = tmp_path / "095-joseph-ml-security.md"
    page.write_bytes(seed.read_bytes())
    parsed = read_page(page)
    found = [VideoProposals(parsed.videos[0], [ProposedChapter(0.0, "Start")])]
    assert "has its own chapters" in fill_page(parsed, found)
    assert page.read_bytes() == seed.read_bytes()
