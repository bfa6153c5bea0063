"""render: the Transcript body in the house style, from hand-built alignments."""

from __future__ import annotations

import pytest
from pipeline.render import count_flags_per_chapter, render_transcript
from pipeline.schema import LEAD, SECTION, AlignedChapter, Alignment, Flag, Paragraph, RenderedPart, Word


def _paragraph(text: str, start: float, step: float = 0.5) -> Paragraph:
    words = [Word(start + i * step, start + i * step + 0.4, " " + t, 0.9) for i, t in enumerate(text.split())]
    return Paragraph(words[0].start, words[-1].end, words)


def _chapter(title, start, *texts, kind="chapter", note=None, audio_start=None) -> AlignedChapter:
    t = start if audio_start is None else audio_start
    paragraphs = []
    for text in texts:
        paragraphs.append(_paragraph(text, t))
        t = paragraphs[-1].end + 1
    return AlignedChapter(
        title=title, start=start, audio_start=start, audio_end=t, paragraphs=paragraphs, kind=kind, note=note
    )


def _body_lines(body: str) -> list[str]:
    return [line for line in body.split("\n") if line]


def test_chapters_in_page_order_with_page_times_and_the_draft_note():
    alignment = Alignment(
        [
            _chapter(None, 0, "Hello everyone, we start soon.", kind=LEAD),
            _chapter("Introduction", 3, "Welcome to the webinar.", "Today we talk about Dask."),
            _chapter("Q&A", 3725, "Any questions?"),
            _chapter("Wrap-up", 7300, note="This chapter's time (2:01:40) is after the end of the audio (1:02:10)."),
            _chapter("Silent", 4000),
        ]
    )
    body = render_transcript(
        [RenderedPart("https://youtu.be/abcdefghijk", None, alignment)], model="tiny.en", date="2026-11-22"
    )
    assert body.endswith("\n") and not body.endswith("\n\n") and "\r" not in body
    lines = _body_lines(body)
    assert lines[0] == (
        "*Machine-generated draft (faster-whisper, model tiny.en, 2026-11-22) for human cleanup: "
        "check names and punctuation.*"
    )
    assert lines[1:] == [
        "Hello everyone, we start soon.",
        "### Introduction (00:03)",
        "Welcome to the webinar.",
        "Today we talk about Dask.",
        "### Q&A (1:02:05)",
        "Any questions?",
        "### Wrap-up (2:01:40)",
        "*(This chapter's time (2:01:40) is after the end of the audio (1:02:10).)*",
        "### Silent (1:06:40)",
        "*(No speech in this part.)*",
    ]
    assert "\n\nWelcome to the webinar.\n\nToday we talk about Dask.\n\n" in body  # paragraphs: blank lines


def test_untitled_sections_are_headed_by_their_time():
    alignment = Alignment(
        [_chapter(None, 0, "First part.", kind=SECTION), _chapter(None, 602, "Second part.", kind=SECTION)]
    )
    lines = _body_lines(render_transcript([RenderedPart("u", None, alignment)], model="base", date="2026-01-02"))
    assert lines[1:] == ["### 00:00", "First part.", "### 10:02", "Second part."]


def test_several_videos_get_one_part_each():
    parts = [
        RenderedPart("https://youtu.be/aaaaaaaaaaa", "Part 1", Alignment([_chapter("Start", 0, "One.")])),
        RenderedPart("https://youtu.be/bbbbbbbbbbb", "61a", Alignment([_chapter("Start", 0, "Two.")])),
    ]
    lines = _body_lines(render_transcript(parts, model="tiny.en", date="2026-11-22"))
    assert lines[1:] == [
        "**Part 1 of 2** (https://youtu.be/aaaaaaaaaaa)",
        "### Start (00:00)",
        "One.",
        "**Part 2 of 2: 61a** (https://youtu.be/bbbbbbbbbbb)",
        "### Start (00:00)",
        "Two.",
    ]


def test_titles_and_text_cannot_break_the_markdown():
    alignment = Alignment(
        [
            _chapter("Line one\n## Injected\r\nthree", 0, "4. To eject the last user press four."),
            _chapter("# Hash", 60, "- not a list", "> not a quote"),
        ]
    )
    lines = _body_lines(render_transcript([RenderedPart("u", None, alignment)], model="tiny.en", date="d"))
    assert lines[1] == "### Line one ## Injected three (00:00)"
    assert lines[2] == "4\\. To eject the last user press four."
    assert lines[3] == "### # Hash (01:00)"
    assert lines[4:] == ["\\- not a list", "\\> not a quote"]
    assert sum(line.startswith("#") for line in lines) == 2


def test_flags_mark_the_passage_and_are_counted_per_chapter():
    alignment = Alignment(
        [
            _chapter("A", 0, "we use pandas and dask every day", "second paragraph here"),
            _chapter("B", 100, "more words in chapter b"),
        ]
    )
    flags = [Flag(1.0, 2.3, "low confidence"), Flag(100.5, 100.9, "name? --> check"), Flag(50.0, 60.0, "silence")]
    body = render_transcript([RenderedPart("u", None, alignment, flags)], model="tiny.en", date="d")
    # the note says how many passages to check, and in which chapters
    assert "the 2 passages marked [?] (A 1, B 1)" in body.split("\n")[0]
    lines = _body_lines(body)
    assert lines[2] == "we use pandas and dask [?]<!-- check 00:01: low confidence --> every day"
    assert lines[5] == "more words [?]<!-- check 01:40: name? -) check --> in chapter b"
    assert count_flags_per_chapter(alignment, flags) == [1, 1]
    assert body.count("[?]<!--") == 2


def test_each_part_carries_its_own_flags():
    alignment = Alignment([_chapter("A", 0, "some words here")])
    body = render_transcript(
        [RenderedPart("u", None, alignment, []), RenderedPart("v", None, alignment, [Flag(0.0, 0.2, "x")])],
        model="m",
        date="d",
    )
    assert body.count("[?]<!--") == 1 and body.index("[?]<!--") > body.index("(v)")


def _sub_chapter(title, start, text) -> AlignedChapter:
    chapter = _chapter(title, start, text)
    chapter.level = 1
    return chapter


def test_sub_chapters_are_level_four_headings_under_their_chapter():
    alignment = Alignment(
        [
            _chapter("Part I: The Job Search", 426, "Let us start."),
            _sub_chapter("Find Your Niche", 432, "Pick one thing."),
            _sub_chapter("Portfolios", 711, "Show your work."),
            _chapter("Part II: Interviewing", 920, "Now interviews."),
        ]
    )
    lines = _body_lines(render_transcript([RenderedPart("u", None, alignment)], model="tiny.en", date="d"))
    assert lines[1:] == [
        "### Part I: The Job Search (07:06)",
        "Let us start.",
        "#### Find Your Niche (07:12)",
        "Pick one thing.",
        "#### Portfolios (11:51)",
        "Show your work.",
        "### Part II: Interviewing (15:20)",
        "Now interviews.",
    ]


def _flagged_part(url: str) -> RenderedPart:
    alignment = Alignment([_chapter("Goals", 368, "we use pandas and dask every day"), _sub_chapter("Poll", 484, "x")])
    return RenderedPart(url, None, alignment, [Flag(369.6, 370.4, "low confidence")])


def test_flags_link_to_that_second_of_a_youtube_video():
    body = render_transcript([_flagged_part("https://www.youtube.com/watch?v=LZuJlZIDIbo")], model="m", date="d")
    lines = _body_lines(body)
    assert lines[2] == (
        "we use pandas and dask [?](https://youtu.be/LZuJlZIDIbo?t=369)<!-- check 06:10: low confidence --> every day"
    )
    assert lines[1] == "### Goals (06:08)" and lines[3] == "#### Poll (08:04)"  # plain times by default
    assert "the 1 passage marked [?] (Goals 1)" in lines[0]


def test_link_times_links_headings_as_the_human_transcripts_do():
    body = render_transcript([_flagged_part("https://youtu.be/LZuJlZIDIbo")], model="m", date="d", link_times=True)
    lines = _body_lines(body)
    assert lines[1] == "### Goals [(06:08)](https://youtu.be/LZuJlZIDIbo?t=368)"
    assert lines[3] == "#### Poll [(08:04)](https://youtu.be/LZuJlZIDIbo?t=484)"
    sections = Alignment([_chapter(None, 602, "Second part.", kind=SECTION)])
    lines = _body_lines(
        render_transcript(
            [RenderedPart("https://youtu.be/LZuJlZIDIbo", None, sections)], model="m", date="d", link_times=True
        )
    )
    assert lines[1] == "### [10:02](https://youtu.be/LZuJlZIDIbo?t=602)"


@pytest.mark.parametrize("url", ["media/talk.ogg", "https://example.org/podcast/episode-12.mp3"])
def test_other_media_keep_plain_times_and_flags(url):
    body = render_transcript([_flagged_part(url)], model="m", date="d", link_times=True)
    lines = _body_lines(body)
    assert lines[1] == "### Goals (06:08)" and lines[3] == "#### Poll (08:04)"
    assert "dask [?]<!-- check 06:10: low confidence --> every" in lines[2]
    assert "](" not in body
