"""The glossary: whole-word, case-aware spelling fixes on text and on timed words."""

from __future__ import annotations

import pytest
from pipeline.glossary import GlossaryError, apply_to_transcription, load_glossary
from pipeline.schema import Segment, Transcription, Word


@pytest.fixture(scope="module")
def glossary():
    return load_glossary()


@pytest.mark.parametrize(
    "raw, fixed",
    [
        # CONTRIBUTING.md's own examples of what volunteers fix by hand
        ("organizer for PY Ladies", "organizer for PyLadies"),
        ("welcome to data umbrella", "welcome to Data Umbrella"),
        ("find me as reishmas", "find me as Reshama"),
        ("with Numpy and num pie", "with NumPy and NumPy"),
        ("contributing to psychic learn", "contributing to scikit-learn"),
        ("the jupiter notebook", "the Jupyter notebook"),
        ("PyMC 3 and pi mc 3 and pymc", "PyMC3 and PyMC3 and PyMC"),
        # punctuation and possessives around the word are kept
        ('"numpy", (github)', '"NumPy", (GitHub)'),
        ("Reshama's talk on sci-kit learn's API.", "Reshama's talk on scikit-learn's API."),
        # lower-case canonical forms stay lower case mid-sentence...
        ("I use Pandas daily", "I use pandas daily"),
        # ...and are capitalised at a sentence start, as volunteers are asked to
        ("Pandas is fast. Pandas is fun", "Pandas is fast. Pandas is fun"),
        ("it works? Scikit learn does", "it works? Scikit-learn does"),
    ],
)
def test_fixes_names_and_terms(glossary, raw, fixed):
    assert glossary.apply_text(raw) == fixed


@pytest.mark.parametrize(
    "text",
    [
        "expandas and numpyish and subpython",  # never inside another word
        "data, umbrella",  # punctuation between the words of a variant
        "a pie chart of pi values",  # single common words are no variants
        "let's meet up on discord",  # ordinary English left out on purpose
        "Already NumPy, pandas, scikit-learn and Data Umbrella.",  # canonical forms unchanged
        "  spaces  kept\n",
    ],
)
def test_leaves_other_words_alone(glossary, text):
    assert glossary.apply_text(text) == text


def test_real_youtube_captions_get_the_communitys_spelling(glossary, corpus_dir):
    page = (corpus_dir / "2020" / "15-emma-gouillart-plotly.md").read_text(encoding="utf-8")
    captions = page.split("## Transcript", 1)[1]
    assert "pi ladies" in captions and "data umbrella" in captions and "reishmas" in captions
    fixed = glossary.apply_text(captions)
    for wrong in ("pi ladies", "data umbrella", "reishmas", "psychic image", "jupiter"):
        assert wrong not in fixed
    assert "PyLadies" in fixed and "Data Umbrella" in fixed and "Reshama" in fixed and "scikit-image" in fixed
    # Only words were respelled: line breaks, even inside a two-word name, stay where they were.
    assert fixed.count("\n") == captions.count("\n")
    assert glossary.apply_text("to data\numbrella") == "to Data\nUmbrella"


def _words(*items):
    return [Word(start, end, text, prob) for start, end, text, prob in items]


def test_rewrites_timed_words(glossary):
    segment = Segment(
        start=1.0,
        end=4.0,
        text=" Welcome to data umbrella, with py ladies and Numpy.",
        avg_logprob=-0.3,
        compression_ratio=1.2,
        no_speech_prob=0.01,
        words=_words(
            (1.0, 1.4, " Welcome", 0.9),
            (1.4, 1.5, " to", 0.95),
            (1.5, 1.8, " data", 0.8),
            (1.8, 2.3, " umbrella,", 0.6),
            (2.3, 2.5, " with", 0.9),
            (2.5, 2.7, " py", 0.4),
            (2.7, 3.1, " ladies", 0.7),
            (3.1, 3.3, " and", 0.9),
            (3.3, 3.9, " Numpy.", 0.5),
        ),
    )
    original = Transcription(audio_duration=5.0, language="en", model="tiny.en", segments=[segment])
    fixed = apply_to_transcription(original, glossary)

    assert fixed.segments[0].text == " Welcome to Data Umbrella, with PyLadies and NumPy."
    assert "".join(w.text for w in fixed.words) == fixed.segments[0].text
    by_text = {w.text: w for w in fixed.words}
    # Two words respelled as two keep their own times and confidences.
    assert (by_text[" Data"].start, by_text[" Data"].end, by_text[" Data"].probability) == (1.5, 1.8, 0.8)
    assert (by_text[" Umbrella,"].start, by_text[" Umbrella,"].end) == (1.8, 2.3)
    # Two words merged into one span both, with the lower confidence.
    assert (by_text[" PyLadies"].start, by_text[" PyLadies"].end, by_text[" PyLadies"].probability) == (2.5, 3.1, 0.4)
    assert (by_text[" NumPy."].start, by_text[" NumPy."].end) == (3.3, 3.9)
    # The input is left as it was.
    assert original.segments[0].words[2].text == " data"


def test_one_word_can_become_two(glossary):
    segment = Segment(
        0.0,
        2.0,
        " dataumbrella rocks",
        -0.2,
        1.1,
        0.0,
        words=_words((0.0, 1.2, " dataumbrella", 0.6), (1.2, 2.0, " rocks", 0.9)),
    )
    fixed = apply_to_transcription(Transcription(2.0, "en", "tiny.en", [segment]), glossary)
    data, umbrella, rocks = fixed.words
    assert (data.text, umbrella.text) == (" Data", " Umbrella")
    assert data.start == 0.0 and umbrella.end == 1.2 and data.end == umbrella.start
    assert 0.0 < data.end < 1.2 and data.probability == umbrella.probability == 0.6


def test_user_file_adds_and_overrides(tmp_path):
    user = tmp_path / "mine.toml"
    user.write_text(
        '[[term]]\ncanonical = "Hugo Bowne-Anderson"\nvariants = ["hugo bone anderson"]\n\n'
        '[[term]]\ncanonical = "Numpy"  # this project wants it so\nvariants = ["numpy"]\n',
        encoding="utf-8",
    )
    glossary = load_glossary(user)
    assert glossary.apply_text("thanks hugo bone anderson for num pie") == "thanks Hugo Bowne-Anderson for NumPy"
    assert glossary.apply_text("numpy") == "Numpy"
    assert "Data Umbrella" in glossary.canonical_forms
    assert load_glossary(user, shipped=False).apply_text("data umbrella") == "data umbrella"


@pytest.mark.parametrize(
    "content, message",
    [
        (
            '[[term]]\ncanonical = "A"\nvariants = ["a"]\n\n[[term]]\ncanonical = "B"\nvariants = "b"\n',
            r"bad\.toml:5: 'variants' must be a list",
        ),
        ('[[term]]\ncanonical = "A"\nvariants = [x]\n', r"bad\.toml: not valid TOML: .*line 3"),
        ('[[term]]\nvariants = ["a"]\n', r"bad\.toml:1: 'canonical' must be a non-empty string"),
        ('[[term]]\ncanonical = "A"\nvariant = ["a"]\n', r"bad\.toml:1: unknown key\(s\) variant"),
        (
            '[[term]]\ncanonical = "A"\nvariants = ["x"]\n[[term]]\ncanonical = "B"\nvariants = ["X"]\n',
            r"bad\.toml:4: 'X' is listed for both 'A' and 'B'",
        ),
        ('[words]\nnumpy = "NumPy"\n', r"bad\.toml: unknown key\(s\) words"),
    ],
)
def test_bad_file_is_a_one_line_error_naming_file_and_line(tmp_path, content, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(GlossaryError, match=message) as error:
        load_glossary(bad)
    assert isinstance(error.value, ValueError) and "\n" not in str(error.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(GlossaryError, match="nope.toml: glossary file not found"):
        load_glossary(tmp_path / "nope.toml")


def test_shipped_glossary_has_the_community_terms(glossary):
    for name in (
        "Data Umbrella",
        "PyLadies",
        "scikit-learn",
        "NumPy",
        "pandas",
        "PyMC",
        "Jupyter",
        "Reshama",
        "NumFOCUS",
        "GitHub",
    ):
        assert name in glossary.canonical_forms
    assert glossary.terms_in("A talk on #pymc with num pie, by Data Umbrella") == ["PyMC", "NumPy", "Data Umbrella"]
