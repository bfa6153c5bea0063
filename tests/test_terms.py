"""The names-and-terms metric of scripts/evalkit/terms.py (score_terms, talk_terms). No model runs here."""

from __future__ import annotations

from pathlib import Path

import evalkit

REPO = Path(__file__).resolve().parent.parent
FIVE_CHAPTERS = REPO / "tests" / "fixtures" / "talks" / "five-chapters"
TERMS = ["Data Umbrella", "PyLadies", "NumPy", "pandas", "Reshama", "Hugo", "Bowne-Anderson"]


def test_exact_spelling_counts_and_punctuation_or_possessive_does_not_matter():
    reference = "Welcome to Data Umbrella. Reshama's talk uses NumPy, and PyLadies helps."
    hypothesis = "welcome to Data Umbrella, Reshama talk uses (NumPy) and PyLadies' helps"
    score = evalkit.score_terms(reference, hypothesis, TERMS)
    assert (score.right, score.occurrences, score.share) == (4, 4, 1.0)
    assert score.misses == []


def test_wrong_case_wrong_split_and_misheard_names_are_wrong():
    reference = "Welcome to Data Umbrella. Reshama uses NumPy with PyLadies."
    hypothesis = "Welcome to data umbrella. Rishama uses numpy with py ladies."
    score = evalkit.score_terms(reference, hypothesis, TERMS)
    assert (score.right, score.occurrences) == (0, 4)
    assert ("Reshama", "Rishama") in score.misses
    assert ("Data Umbrella", "data umbrella") in score.misses
    assert score.per_term["NumPy"] == [0, 1]


def test_a_term_is_judged_at_its_aligned_place_not_anywhere_in_the_text():
    # The hypothesis says NumPy once, but in the wrong sentence: the reference's
    # occurrence is misheard there, and the other NumPy is an extra word.
    reference = "we import NumPy here and then we plot the data"
    hypothesis = "we import numb pie here and then we plot the NumPy data"
    score = evalkit.score_terms(reference, hypothesis, TERMS)
    assert (score.right, score.occurrences) == (0, 1)


def test_longest_term_first_without_overlap_and_sentence_start_capital():
    reference = "Data Umbrella and pandas. Pandas is fast. Hugo Bowne-Anderson speaks."
    occurrences = evalkit.find_term_occurrences(
        evalkit.term_tokens(reference), TERMS + ["Data", "Hugo Bowne-Anderson"], evalkit.sentence_starts(reference)
    )
    assert [t for _, _, t in occurrences] == ["Data Umbrella", "pandas", "pandas", "Hugo Bowne-Anderson"]
    hypothesis = "Data Umbrella and Pandas. Pandas is fast. Hugo Bone Anderson speaks."
    score = evalkit.score_terms(reference, hypothesis, TERMS + ["Hugo Bowne-Anderson"])
    assert (score.right, score.occurrences) == (2, 4)  # "Pandas" mid-sentence and the split surname are wrong


def test_empty_draft_and_text_without_terms():
    assert evalkit.score_terms("Reshama and NumPy", "", TERMS).right == 0
    none = evalkit.score_terms("nothing to see here", "nothing to see here", TERMS)
    assert (none.occurrences, none.share) == (0, None)


def test_talk_terms_and_score_draft_on_the_committed_talk():
    truth = evalkit.load_truth(FIVE_CHAPTERS)
    speakers = evalkit.page_speakers(FIVE_CHAPTERS)
    assert speakers == ["Hugo Bowne-Anderson", "James Bourbeau"]
    terms = evalkit.talk_terms(truth, speakers, glossary_terms=["Data Umbrella", "Dask"])
    assert {"Hugo", "Bourbeau", "Hugo Bowne-Anderson", "Reshama", "Dask", "Data Umbrella"} <= set(terms)
    assert "speaker" not in terms
    perfect = "\n\n".join(f"### {c.title} (00:00)\n\n{c.text}" for c in truth.chapters)
    score = evalkit.score_draft(truth, perfect, terms=terms).terms
    assert score.occurrences > 0 and score.right == score.occurrences
    lowered = evalkit.score_draft(truth, perfect.lower(), terms=terms).terms
    assert lowered.right < lowered.occurrences


def test_a_capitalised_lower_case_term_counts_only_at_a_sentence_start():
    # "a Pandas DataFrame" is the human transcriber's spelling, not the project's "pandas": not an occurrence.
    reference = "We load it into a Pandas DataFrame. Pandas is fast, and (pandas) is everywhere."
    assert evalkit.sentence_starts(reference)[:8] == [True, False, False, False, False, False, False, True]
    score = evalkit.score_terms(
        reference, "We load it into a pandas DataFrame. Pandas is fast, and pandas is everywhere.", TERMS
    )
    assert (score.right, score.occurrences) == (2, 2)
