"""The evaluation metrics and truth format (scripts/evalkit) and the committed five-chapter test talk. No model runs."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

import evalkit

REPO = Path(__file__).resolve().parent.parent
FIVE_CHAPTERS = REPO / "tests" / "fixtures" / "talks" / "five-chapters"


@pytest.fixture(scope="module")
def truth() -> evalkit.Truth:
    return evalkit.load_truth(FIVE_CHAPTERS)


def draft_of(chapters: list[tuple[str, str]], note: bool = True) -> str:
    body = "_Machine-made first draft (tiny.en): please correct it._\n\n" if note else ""
    return body + "\n\n".join(f"### {title} (00:00)\n\n{text}" for title, text in chapters) + "\n"


def perfect_draft(truth: evalkit.Truth) -> list[tuple[str, str]]:
    return [(c.title, c.text) for c in truth.chapters]


# ---------------------------------------------------------------- normalising and WER


def test_normalize_is_whisper_english():
    assert evalkit.normalize("Hello, Mr. Smith!  The COLOUR is, um, grey.") == "hello mister smith the color is gray"


def test_wer_ignores_case_punctuation_and_spelling_variants():
    result = evalkit.word_error_rate("Okay, so it's ten percent, right? Colour.", "okay so it is 10% right color")
    assert result.wer == 0.0
    assert result.reference_words == len(evalkit.normalized_words("okay so it is 10% right color"))


def test_wer_counts_each_kind_of_error():
    result = evalkit.word_error_rate(
        "alpha beta gamma delta epsilon zeta eta theta", "omega alpha beta delta epsilon zeta iota theta"
    )
    assert (result.substitutions, result.deletions, result.insertions) == (1, 1, 1)
    assert result.wer == pytest.approx(3 / 8)


def test_wer_of_empty_texts():
    assert evalkit.word_error_rate("", "").wer == 0.0
    assert evalkit.word_error_rate("", "hello").wer == 1.0
    assert evalkit.word_error_rate("two words", "").wer == 1.0


def test_total_wer_weights_by_reference_words():
    a = evalkit.WerResult(0.5, 10, 5, 0, 0)
    b = evalkit.WerResult(0.0, 90, 0, 0, 0)
    assert evalkit.total_wer([a, b]).wer == pytest.approx(0.05)


# ---------------------------------------------------------------- reading a draft


def test_parse_draft_strips_note_flags_and_comments():
    body = (
        "_Machine-made first draft: please correct it._\n\n"
        "### Welcome (00:00)\n\n"
        "Hello and welcome.\nA second line of the same paragraph.\n\n"
        "A doubtful passage [?] <!-- low confidence 0.31 -->\n\n"
        "### Q&A (1:02:05)\n\n"
        "Any questions? <!-- a comment\nover two lines --> None.\n"
    )
    chapters = evalkit.parse_draft(body)
    assert [(c.title, c.heading_time) for c in chapters] == [("Welcome", 0.0), ("Q&A", 3725.0)]
    assert chapters[0].paragraphs == ["Hello and welcome. A second line of the same paragraph.", "A doubtful passage"]
    assert chapters[1].paragraphs == ["Any questions? None."]


def test_parse_draft_keeps_text_before_the_first_heading():
    chapters = evalkit.parse_draft("Some words first.\n\n### Part one (00:10)\n\nMore words.\n")
    assert [c.title for c in chapters] == [None, "Part one"]
    assert chapters[0].paragraphs == ["Some words first."]


# ---------------------------------------------------------------- chapters and boundaries


def test_alignment_gives_insertions_their_neighbours():
    alignment = evalkit.align_to_reference("a b c d".split(), "x a b z d y".split())
    assert alignment == [(None, -1, 0), (0, -1, 1), (1, 0, 2), (2, 1, 3), (3, 2, 4), (None, 3, 4)]


def test_perfect_draft_scores_perfectly(truth):
    score = evalkit.score_draft(truth, draft_of(perfect_draft(truth)))
    assert score.wer.wer == 0.0
    assert score.chapters.share == 1.0
    assert score.chapters.boundary_errors == [0.0] * (len(truth.chapters) - 1)


def test_words_moved_across_a_boundary_are_counted_and_timed(truth):
    chapters = [(title, text.split()) for title, text in perfect_draft(truth)]
    moved = chapters[1][1][-6:]  # the last six words of chapter 2 appear under chapter 3's heading
    chapters[1] = (chapters[1][0], chapters[1][1][:-6])
    chapters[2] = (chapters[2][0], moved + chapters[2][1])
    score = evalkit.score_chapters(truth, evalkit.parse_draft(draft_of([(t, " ".join(w)) for t, w in chapters])))
    assert score.words - score.in_true_chapter == 6
    assert score.boundary_errors[0] == 0.0
    # Six words of speech before the true start of chapter 3: one to four seconds of it.
    assert 1.0 < score.boundary_errors[1] < 4.0
    assert score.boundary_errors[2:] == [0.0] * (len(truth.chapters) - 3)


def test_a_word_invented_at_a_boundary_neither_moves_it_nor_counts_against_it(truth):
    chapters = perfect_draft(truth)
    chapters[2] = (chapters[2][0], "Zebra " + chapters[2][1])
    score = evalkit.score_chapters(truth, evalkit.parse_draft(draft_of(chapters)))
    assert score.boundary_errors[1] == 0.0
    assert score.in_true_chapter == score.words


def test_a_missing_chapter_heading_has_no_boundary_and_loses_its_words(truth):
    chapters = perfect_draft(truth)
    merged = [chapters[0], (chapters[1][0], chapters[1][1] + " " + chapters[2][1]), *chapters[3:]]
    score = evalkit.score_chapters(truth, evalkit.parse_draft(draft_of(merged)))
    assert score.boundary_errors[1] is None
    words_of_chapter_3 = len(evalkit.normalized_words(chapters[2][1]))
    assert score.words - score.in_true_chapter == words_of_chapter_3


def test_chapters_are_matched_by_title_not_position(truth):
    chapters = perfect_draft(truth)
    swapped = [chapters[0], (chapters[2][0], chapters[1][1]), (chapters[1][0], chapters[2][1]), *chapters[3:]]
    score = evalkit.score_chapters(truth, evalkit.parse_draft(draft_of(swapped)))
    moved = len(evalkit.normalized_words(chapters[1][1])) + len(evalkit.normalized_words(chapters[2][1]))
    assert score.words - score.in_true_chapter == moved


# ---------------------------------------------------------------- paragraphs and invented words


def test_false_no_speech_counts_empty_chapters_whose_truth_has_words(truth):
    chapters = perfect_draft(truth)
    assert evalkit.false_no_speech_chapters(truth, evalkit.parse_draft(draft_of(chapters))) == 0
    # The second chapter says "No speech" and its words went to the first: one false claim.
    (t0, x0), (t1, x1) = chapters[0], chapters[1]
    moved = [(t0, f"{x0} {x1}"), (t1, evalkit.NO_SPEECH_NOTE), *chapters[2:]]
    draft = evalkit.parse_draft(draft_of(moved))
    assert evalkit.false_no_speech_chapters(truth, draft) == 1
    assert evalkit.score_draft(truth, draft_of(moved)).to_json()["false_no_speech_chapters"] == 1


def test_paragraph_stats():
    stats = evalkit.paragraph_stats([10, 20, 30, 40, 200])
    assert (stats.count, stats.min, stats.median, stats.max, stats.mean) == (5, 10, 30.0, 200, 60.0)
    assert evalkit.paragraph_stats([]).count == 0


def small_truth_with_music() -> evalkit.Truth:
    return evalkit.Truth(
        name="music",
        duration=40.0,
        page_has_chapters=True,
        chapters=[
            evalkit.TrueChapter("One", 1.0, 20.0, 0, "we begin here"),
            evalkit.TrueChapter("Two", 20.0, 40.0, 21, "and end here"),
        ],
        utterances=[
            evalkit.Utterance(0, "a", "flite-rms", 1.0, 3.0, "we begin here"),
            evalkit.Utterance(1, "a", "flite-rms", 30.0, 32.0, "and end here"),
        ],
        non_speech=[evalkit.Span("music", 4.0, 28.0)],
    )


def test_words_invented_over_music_are_counted():
    truth = small_truth_with_music()
    assert evalkit.invented_in_non_speech(truth, "we begin here and end here") == 0
    assert evalkit.invented_in_non_speech(truth, "we begin here thank you for watching and end here") == 4
    # Inserted inside speech (no music between the neighbours) does not count.
    assert evalkit.invented_in_non_speech(truth, "we really begin here and end here") == 0


# ---------------------------------------------------------------- the committed test talk


def test_five_chapter_talk_is_complete_and_consistent(truth):
    data = json.loads((FIVE_CHAPTERS / "truth.json").read_text())
    assert (FIVE_CHAPTERS / data["audio"]).is_file()
    assert sum(f.stat().st_size for f in FIVE_CHAPTERS.iterdir()) < 1_500_000
    assert len(truth.chapters) == 5
    assert len({u.voice for u in truth.utterances}) >= 3
    assert 150 < truth.duration < 270
    for before, after in itertools.pairwise(truth.chapters):
        assert before.end == after.start
    for u in truth.utterances:
        chapter = truth.chapters[u.chapter]
        assert chapter.start <= u.start < u.end <= chapter.end
    # The chapter texts are the utterances' texts, in order.
    for i, chapter in enumerate(truth.chapters):
        assert chapter.text == " ".join(u.text for u in truth.utterances if u.chapter == i)


def test_five_chapter_page_times_are_off_by_up_to_four_seconds(truth):
    page = (FIVE_CHAPTERS / "page.md").read_text()
    assert "- Video: {VIDEO_URL}" in page
    assert page.rstrip().endswith("## Transcript")
    fence = re.search(r"```\n## Timestamps *\n(.*?)```", page, re.S).group(1)
    listed = [re.match(r"(\d\d):(\d\d) (.*)", line).groups() for line in fence.strip().split("\n")]
    assert [title for _, _, title in listed] == [c.title for c in truth.chapters]
    offsets = [int(m) * 60 + int(s) - c.start for (m, s, _), c in zip(listed, truth.chapters, strict=True)]
    assert all(abs(o) <= 4 for o in offsets)
    assert max(abs(o) for o in offsets[1:]) >= 3  # not luckily exact
    assert any(o < 0 for o in offsets[1:]) and any(o > 0 for o in offsets[1:])
