"""Speaker labels from the page and the talk (pipeline/naming.py): pure functions, no model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline import naming

SAMPLE_STM = Path(__file__).resolve().parent / "fixtures" / "speakers" / "sample.stm"


@dataclass(frozen=True)
class W:
    start: float
    end: float
    text: str


def talk(*turns: tuple[int, str], start: float = 0.0, seconds_per_word: float = 0.4):
    """Words and their speakers from (speaker, text) turns spoken one after the other."""
    words, speakers, t = [], [], start
    for speaker, text in turns:
        for token in text.split():
            words.append(W(t, t + seconds_per_word * 0.8, f" {token}"))
            speakers.append(speaker)
            t += seconds_per_word
        t += 0.7
    return words, speakers


def filler(n: int) -> str:
    return " ".join(["and so the data goes into the model."] * n)


def test_page_speaker_is_who_talks_most_in_the_talk_chapters():
    words, speakers = talk((0, filler(6)), (1, filler(30)), (0, filler(3)), (1, filler(3)))
    q_and_a = words[len(words) - 12 * 8].start
    chapters = [(0.0, "Introduction"), (words[6 * 8].start, "The Career Advice I Wish I Had"), (q_and_a, "Q&A")]
    labels = naming.label_speakers(words, speakers, page_speakers=["Ali Spittel"], chapters=chapters)
    assert labels == {0: "Speaker 1", 1: "Ali"}


def test_self_introduction_names_the_host():
    words, speakers = talk(
        (0, "Hey everyone. My name is Ty, I will be doing a quick intro."), (1, filler(30)), (0, "Thank you.")
    )
    labels = naming.label_speakers(words, speakers, page_speakers=["Ali Spittel"])
    assert labels == {0: "Ty", 1: "Ali"}


def test_real_conversation_names_both_from_their_introductions():
    turns = []
    for line in SAMPLE_STM.read_text(encoding="utf-8").splitlines():
        _, _, name, _, _, text = line.split(" ", 5)
        turns.append((0 if name == "Diane" else 1, text))
    words, speakers = talk(*turns)
    assert naming.label_speakers(words, speakers) == {0: "Diane", 1: "Sheila"}


def test_two_page_speakers_and_no_introduction_withhold_the_name():
    words, speakers = talk((0, filler(4)), (1, filler(30)), (2, filler(5)))
    labels = naming.label_speakers(words, speakers, page_speakers=["Hugo Bowne-Anderson", "James Bourbeau"])
    assert labels == {0: "Speaker 1", 1: "Speaker 2", 2: "Speaker 3"}


def test_a_self_introduction_settles_which_of_two_page_speakers():
    words, speakers = talk((0, filler(4)), (1, "Hi, I'm Hugo. " + filler(30)), (2, filler(5)))
    labels = naming.label_speakers(words, speakers, page_speakers=["Hugo Bowne-Anderson", "James Bourbeau"])
    assert labels == {0: "Speaker 1", 1: "Hugo", 2: "Speaker 3"}


def test_two_names_for_one_voice_give_neither():
    words, speakers = talk((0, "My name is Matt. " + filler(3)), (1, filler(3)), (0, "I'm Ty and " + filler(2)))
    assert naming.label_speakers(words, speakers) == {0: "Speaker 1", 1: "Speaker 2"}


def test_one_name_claimed_by_two_voices_goes_to_neither():
    words, speakers = talk((0, "I'm Reshama. " + filler(3)), (1, "And I'm Reshama too. " + filler(3)))
    assert naming.label_speakers(words, speakers) == {0: "Speaker 1", 1: "Speaker 2"}


def test_thanks_names_the_other_voice_not_the_one_saying_it():
    # Voice 0 talks most, so talk time alone would call it Matt; its own "thanks, Matt" says it is not.
    words, speakers = talk((0, filler(20)), (1, filler(4)), (0, "Thanks, Matt. " + filler(10)))
    evidence = naming.collect_evidence(words, speakers, page_speakers=["Matt Brems"])
    assert any(e.speaker == 0 and e.name == "Matt" and e.weight < 0 for e in evidence)
    assert naming.label_speakers(words, speakers, page_speakers=["Matt Brems"]) == {0: "Speaker 1", 1: "Matt"}


def test_hand_over_names_the_next_voice():
    words, speakers = talk((0, "So I will let Ali get to her presentation."), (1, filler(5)), (0, filler(5)))
    labels = naming.label_speakers(words, speakers, other_names=["Ali Spittel"])
    assert labels == {0: "Speaker 1", 1: "Ali"}


def test_words_that_follow_im_are_not_names_and_unknown_thanks_are_ignored():
    words, speakers = talk((0, "I'm Excited to be here. Thanks, Everyone. Thanks, Bob. It's Monday."), (1, filler(2)))
    assert naming.collect_evidence(words, speakers) == []
    assert naming.label_speakers(words, speakers) == {0: "Speaker 1", 1: "Speaker 2"}


def test_an_unknown_name_mid_sentence_is_not_enough():
    words, speakers = talk(
        (0, "well you see I'm Canadian so I know. " + filler(2)), (1, "so then I'm Rosa today " + filler(2))
    )
    assert naming.label_speakers(words, speakers) == {0: "Speaker 1", 1: "Speaker 2"}
    # The same words from a name the page gives are enough.
    assert naming.label_speakers(words, speakers, other_names=["Rosa Parks"]) == {0: "Speaker 1", 1: "Rosa"}


def test_generic_labels_follow_first_appearance_and_skip_unknown_words():
    assert naming.first_appearance([None, 2, 2, 0, None, 1, 0]) == [2, 0, 1]
    words, speakers = talk((2, "hello there"), (0, "hi"), (1, "yes"))
    speakers[0] = None
    assert naming.label_speakers(words, speakers) == {2: "Speaker 1", 0: "Speaker 2", 1: "Speaker 3"}


def test_first_name():
    assert naming.first_name("Hugo Bowne-Anderson") == "Hugo"
    assert naming.first_name("Dr. Emily Robinson") == "Emily"
