"""The flag metric of scripts/evalkit/flagscore.py: which errors a reviewer finds by checking the [?] passages."""

import pytest

from evalkit.flagscore import FlagScore, TimedWord, flagged_words, score_flags

JFK = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def test_a_flag_over_the_wrong_word_finds_it_and_checks_little():
    words = [("the", False), ("cat", False), ("sad", True), ("on", True), ("the", False), ("mat", False)]
    score = score_flags("the cat sat on the mat", words)
    assert (score.errors, score.found, score.flagged, score.flagged_wrong) == (1, 1, 2, 1)
    assert (score.precision, score.recall, score.coverage) == (0.5, 1.0, pytest.approx(2 / 6))


def test_an_unflagged_error_is_missed_and_a_deletion_is_found_beside_a_flag():
    # "sat" substituted unflagged; "the" before "mat" deleted next to the flagged "on".
    score = score_flags(
        "the cat sat on the mat", [("the", False), ("cat", False), ("sad", False), ("on", True), ("mat", False)]
    )
    assert (score.errors, score.found, score.flagged_wrong) == (2, 1, 0)
    assert score.recall == 0.5 and score.precision == 0.0


def test_words_are_normalised_as_for_the_wer():
    # "Um" is no word, "twenty-five dollars" is "$25" in both, case and punctuation do not count.
    score = score_flags(
        "It costs 25 dollars.",
        [("Um,", True), ("it", False), ("costs", False), ("twenty-five", False), ("Dollars", False)],
    )
    assert (score.words, score.errors, score.flagged) == (3, 0, 0)
    assert score.precision is None and score.recall is None


def test_scores_add_up_over_talks():
    total = FlagScore(10, 2, 1, 4, 2) + FlagScore(30, 1, 1, 0, 0)
    assert (total.words, total.flagged, total.flagged_wrong, total.errors, total.found) == (40, 3, 2, 4, 2)
    assert total.to_json()["coverage"] == 0.075


def test_real_speech_flag_spans_mark_the_words_under_them(jfk_transcription):
    words = [TimedWord(w.text, w.start, w.end) for s in jfk_transcription.segments for w in s.words]
    assert len(words) >= 20
    # A reference that differs in the last word: the model's "country." is then the one error.
    reference = JFK.rsplit(" ", 1)[0] + " nation."
    last = words[-1]
    marked = flagged_words(words, [(last.start, last.end)])
    assert [m for _, m in marked].count(True) == 1 and marked[-1][1]
    score = score_flags(reference, marked)
    assert (score.errors, score.found, score.flagged_wrong, score.flagged) == (1, 1, 1, 1)
    # A flag elsewhere finds nothing.
    assert score_flags(reference, flagged_words(words, [(words[0].start, words[0].end)])).found == 0


def test_dropped_words_are_counted_against_their_speaker():
    from evalkit.dropped import dropped_by_speaker
    from evalkit.truth import TrueChapter, Truth, Utterance

    said = [
        Utterance(0, "Host", "v1", 0.0, 2.0, "Welcome to the talk everyone."),
        Utterance(0, "Guest", "v2", 2.5, 5.0, "Thank you, it is good to be here."),
        Utterance(0, "Host", "v1", 5.5, 7.0, "Let us begin."),
    ]
    truth = Truth("t", 7.0, False, [TrueChapter("All", 0.0, 7.0, 0, "")], said, [])
    # The guest's quiet words mostly lost, one host word misheard (a substitution, not a drop).
    host, guest = dropped_by_speaker(truth, "Welcome to the talk everyone. Good. Let us begun.")
    assert (host.speaker, host.words, host.dropped) == ("Host", 8, 0)
    assert (guest.speaker, guest.words, guest.dropped) == ("Guest", 8, 7)
    assert guest.share == 7 / 8
