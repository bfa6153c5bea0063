"""Property tests: parsing never raises; writing a body and reading it back is exact and local."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pipeline import pages
from pipeline.pages.lines import split_lines
from pipeline.pages.section import find_transcript_heading

FRAGMENTS = [
    "## Transcript",
    "## Transcript ",
    "## Video Transcript",
    "```",
    "```text",
    "~~~",
    "## Timestamps",
    "## Agenda",
    "00:00 Intro",
    "- 0:00 -- Start",
    "1:02:05 Wrap-up",
    "xx:xx Help us add timestamps",
    "17:42: Vectors",
    "\\",
    "- Video: https://youtu.be/Hd4Ks7Lp0Qw",
    "Video 1/3: https://youtu.be/Zk9Wp3Qa1Bc",
    "- Video:",
    "#python #data",
    '<a href="http://www.youtube.com/watch?feature=player_embedded&v=Tm5Vr8Ye2Hu"><img src="http://img.youtube.com/vi/Tm5Vr8Ye2Hu/0.jpg"',
    "# Ada Lovelace: Engines",
    "## Key Links",
    "## Resources",
    "[55a] Part 1",
    "### [61b] Part 2",
    pages.DRAFT_END,
    "<!-- du-transcripts draft v1; model: tiny.en; date: 2026-11-22; sha256: " + "0" * 64 + " -->",
    "hello everybody welcome",
    "",
    " ",
    "\t",
    "\u00a0",
    "\u200b",
]
noise = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
line = st.one_of(st.sampled_from(FRAGMENTS), noise, st.builds(lambda a, b: a + b, st.sampled_from(FRAGMENTS), noise))
page_lines = st.lists(line, max_size=30)
eols = st.sampled_from(["\n", "\r\n"])
writable_lines = st.lists(
    st.sampled_from(
        [
            "",
            " ",
            "#python #webapp",
            "#tag  ",
            "## Agenda",
            "00:00:00 Intro",
            "\\",
            "```",
            "00:01 Next",
            "[get from video]",
        ]
    ),
    max_size=8,
)
bodies = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(page_lines, eols, st.booleans())
def test_parsing_never_raises(rows, eol, final_newline):
    text = eol.join(rows) + (eol if final_newline else "")
    page = pages.parse_page(text, path="2023/80-x.md")
    assert page.state in {
        pages.NEEDS_TRANSCRIPT,
        pages.HAS_DRAFT,
        pages.HAS_TRANSCRIPT,
        pages.NO_TRANSCRIPT_SECTION,
        pages.NO_VIDEO,
        pages.NOT_AN_EVENT,
    }
    for video in page.videos:
        assert video.id is None or (len(video.id) == 11 and video.id.replace("-", "").replace("_", "").isalnum())
        assert all(c.start >= 0 for c in video.chapters)


def _check_write(text: str, body: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "80-x.md"
        path.write_bytes(text.encode("utf-8"))
        try:
            pages.write_transcript(path, body, model="tiny.en", date="2026-11-22")
        except pages.PageError:
            assert path.read_bytes() == text.encode("utf-8")  # a refusal changes nothing
            return
        after = path.read_bytes().decode("utf-8")
        lines = split_lines(text)
        head = find_transcript_heading(lines)
        heading_end = lines[head].start + len(lines[head].text)
        assert after[:heading_end] == text[:heading_end]  # every byte up to the section is unchanged
        if text[heading_end : lines[head].end]:
            assert after[: lines[head].end] == text[: lines[head].end]
        expected = body if not body or body.endswith("\n") else body + "\n"
        assert pages.read_transcript(path) == expected
        assert pages.read_page(path).state == pages.HAS_DRAFT
        tail = text[len(text.rstrip(" \t\r\n")) :]
        if text[heading_end:].strip(" \t\r\n"):
            assert after.endswith(tail)  # trailing whitespace and final newline as they were


@SETTINGS
@given(page_lines, eols, bodies)
def test_write_then_read_on_any_page(rows, eol, body):
    _check_write(eol.join(rows) + eol, body)


@SETTINGS
@given(page_lines, writable_lines, eols, bodies, st.sampled_from(["", "\n", "\n\n", " \n"]))
def test_write_then_read_on_writable_pages(before, section, eol, body, trailer):
    joined = "".join(before)
    assume("## Transcript" not in joined and "```" not in joined and "~~~" not in joined and "\x00" not in joined)
    text = eol.join(before + ["## Transcript"] + section) + trailer.replace("\n", eol)
    kept = eol.join(section).strip(" \t\r\n")
    _check_write(text, body)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "80-x.md"
        path.write_bytes(text.encode("utf-8"))
        if pages.read_page(path).state in (pages.NEEDS_TRANSCRIPT, pages.NO_VIDEO):
            pages.write_transcript(path, body, model="tiny.en", date="2026-11-22")
            after = path.read_bytes().decode("utf-8")
            if kept:
                assert kept in after[after.index(pages.DRAFT_END) :]  # hashtags/agenda stay below the draft


@SETTINGS
@given(page_lines, writable_lines, eols, bodies, st.sampled_from(["", "\n", "\n\n", " \n", " "]))
def test_a_written_page_ends_as_it_did(tmp_path_factory, before, section, eol, body, trailer):
    # Issue 10 item 7: a page that ended with a newline still does after the write; one that did not, does not.
    text = eol.join(before + ["## Transcript"] + section) + trailer.replace("\n", eol)
    assume("\x00" not in text)  # a binary file is refused before any write
    page_file = tmp_path_factory.mktemp("page") / "80-x.md"
    page_file.write_bytes(text.encode("utf-8"))
    if pages.read_page(page_file).state not in (pages.NEEDS_TRANSCRIPT, pages.NO_VIDEO):
        return  # human text, or no heading: refused, as the tests above check
    pages.write_transcript(page_file, body, model="tiny.en", date="2026-11-22")
    after = page_file.read_bytes().decode("utf-8")
    assert after.endswith("\n") == text.endswith("\n")
    assert after.endswith("\r\n") == text.endswith("\r\n")
    # and writing the same draft again changes nothing
    assert not pages.write_transcript(page_file, body, model="tiny.en", date="2026-11-22").changed
