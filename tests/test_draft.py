"""The draft format (pipeline.draft): what render writes, review and the evaluation kit read back."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pipeline import draft

# Words as the model writes them, and those that would start a Markdown list, quote or heading.
WORDS = st.sampled_from(["hello", "Ada's", "pandas,", "4.", "2)", "-", "#python", ">", "*", "+1", "=", "|", "ok."])
TITLES = st.sampled_from(["Intro", "Q&A: pandas", "Part 2", "", "Why 4. is odd"])
SECONDS = st.floats(min_value=0, max_value=5 * 3600, allow_nan=False)
LINKS = st.one_of(st.none(), st.just("https://youtu.be/abcdefghijk?t=754"))
REASONS = st.sampled_from(["low confidence", "repetition --> loop", "check > this", "few words"])


@st.composite
def paragraphs(draw) -> str:
    """A paragraph line: maybe a speaker's label, words with flag marks after some of them."""
    words = draw(st.lists(WORDS, min_size=1, max_size=12))
    text = ""
    for word in words:
        text += (" " if text else "") + word
        if draw(st.integers(0, 5)) == 0:
            text += draft.flag_mark(draw(SECONDS), draw(REASONS), draw(LINKS))
    label = draw(st.one_of(st.none(), st.sampled_from(["Speaker 1", "Reshama", "Hugo Bowne-Anderson"])))
    return draft.paragraph(text, label)


@st.composite
def bodies(draw) -> str:
    """A whole draft body as render writes it: the note, then per video its part line and chapters."""
    counts = draw(st.lists(st.tuples(TITLES, st.integers(1, 9)), max_size=3))
    blocks = [draft.note("tiny.en", "2026-12-01", counts, speakers=draw(st.booleans()))]
    videos = draw(st.integers(1, 3))
    for index in range(1, videos + 1):
        if videos > 1:
            blocks.append(draft.part_line(index, videos, draw(st.sampled_from([None, "Part 1", "Demo"])), "a.ogg"))
        for _ in range(draw(st.integers(0, 3))):
            blocks.append(draft.heading(draw(st.sampled_from([3, 4])), draw(TITLES), draw(SECONDS), draw(LINKS)))
            if draw(st.booleans()):
                blocks.append(draft.aside("No speech in this part."))
            blocks.extend(draw(st.lists(paragraphs(), max_size=3)))
    return "\n\n".join(blocks) + "\n"


@settings(max_examples=100, deadline=None)
@given(bodies())
def test_a_draft_written_read_and_written_again_is_the_same(body):
    blocks = draft.parse_draft(body)
    assert draft.body_markdown(blocks) == body
    assert [b.kind for b in blocks].count("part") == body.count("**Part ")


@settings(max_examples=100, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=12), st.one_of(st.none(), st.just("Speaker 2")))
def test_a_paragraph_reads_back_its_own_words_and_label(words, label):
    speaker, items = draft.parse_paragraph(draft.paragraph(" ".join(words), label))
    assert speaker == label
    assert [item.text for item in items if isinstance(item, draft.Word)] == words


def test_a_flag_mark_reads_back_its_reason_and_time():
    line = draft.paragraph("a doubtful passage" + draft.flag_mark(754.4, "low confidence", None))
    _, items = draft.parse_paragraph(line)
    mark = items[-1]
    assert isinstance(mark, draft.FlagMark) and (mark.reason, mark.time) == ("low confidence", 754.0)
    linked = draft.flag_mark(754.4, "x", draft.video_link("abcdefghijk", 754.4))
    assert draft.parse_paragraph("word" + linked)[1][-1] == draft.FlagMark(linked, "x", 754.0)
