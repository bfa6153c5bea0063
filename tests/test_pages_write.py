"""Writing a page on the file system: its final newline, read-only pages, symlinks; and the parser without I/O."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest
from pipeline import locations, pages

BODY = "### Introduction (00:00)\n\nHello everybody, welcome to Data Umbrella.\n"
# A real page that ends with its empty "## Transcript\n" heading, as 32 of the corpus's pages do.
REAL_PAGE = "2024/095-joseph-ml-security.md"


def _copy(corpus_dir: Path, tmp_path: Path, name: str = REAL_PAGE) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(corpus_dir / name, path)
    return path


def test_a_page_that_ended_with_a_newline_still_does(corpus_dir, tmp_path):
    path = _copy(corpus_dir, tmp_path)
    before = path.read_bytes()
    assert before.endswith(b"## Transcript\n") and pages.read_page(path).state == pages.NEEDS_TRANSCRIPT
    assert pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22").changed
    after = path.read_bytes()
    assert after.endswith(pages.DRAFT_END.encode() + b"\n") and not after.endswith(b"\n\n")
    assert after.startswith(before)  # the heading's own line ending included: only the section was added
    assert pages.read_transcript(path) == BODY and pages.read_page(path).state == pages.HAS_DRAFT
    # the same draft again is no change, and a new one keeps the final newline too
    assert not pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22").changed
    pages.write_transcript(path, BODY + "\nMore.\n", model="tiny.en", date="2026-11-23", replace_draft=True)
    assert path.read_bytes().endswith(pages.DRAFT_END.encode() + b"\n")


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_a_page_without_a_final_newline_still_has_none(corpus_dir, tmp_path, eol):
    path = _copy(corpus_dir, tmp_path)
    text = path.read_bytes().decode("utf-8").rstrip("\n").replace("\n", eol)
    path.write_bytes(text.encode("utf-8"))
    pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22")
    after = path.read_bytes().decode("utf-8")
    assert after.endswith(pages.DRAFT_END)
    assert after.count(eol) == after.count("\n")  # CRLF stays CRLF throughout
    assert pages.read_transcript(path) == BODY


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_a_reviewed_body_replaces_only_the_drafts_body(corpus_dir, tmp_path, ending):
    path = _copy(corpus_dir, tmp_path)
    eol = ending or "\n"
    text = path.read_bytes().decode("utf-8").rstrip("\n").replace("\n", eol) + ending
    path.write_bytes(text.encode("utf-8"))
    pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22")
    path.write_bytes(path.read_bytes() + f"{eol}Notes below the draft.{ending}".encode())
    before = path.read_bytes()
    marker_at = before.index(pages.DRAFT_START.encode())
    head, tail = before[: before.index(b"\n", marker_at) + 1], before[before.index(pages.DRAFT_END.encode()) :]
    reviewed = BODY.replace("Hello everybody", "Hello, everybody")
    sha = hashlib.sha256(before).hexdigest()
    assert pages.replace_draft_body(path, reviewed, expected_sha256=sha).changed
    after = path.read_bytes()
    assert after == head + reviewed.replace("\n", eol).encode() + tail  # the markers and the rest, byte for byte
    assert pages.read_transcript(path) == reviewed
    assert pages.read_page(path).state == pages.HAS_TRANSCRIPT  # the old hash: now a human's text, never rewritten
    assert not pages.replace_draft_body(path, reviewed).changed
    with pytest.raises(pages.PageChangedError):
        pages.replace_draft_body(path, BODY, expected_sha256=sha)
    assert path.read_bytes() == after


def test_replacing_a_draft_body_needs_a_draft(corpus_dir, tmp_path):
    path = _copy(corpus_dir, tmp_path)
    before = path.read_bytes()
    with pytest.raises(pages.PageError, match="no draft"):
        pages.replace_draft_body(path, BODY)
    assert path.read_bytes() == before


def test_a_read_only_page_is_not_overwritten(corpus_dir, tmp_path):
    path = _copy(corpus_dir, tmp_path)
    before = path.read_bytes()
    path.chmod(0o444)
    try:
        with pytest.raises(pages.PageError) as refused:
            pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22")
        assert "read-only" in refused.value.reason and "\n" not in str(refused.value)
        assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == 0o444
        assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    finally:
        path.chmod(0o644)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_a_symlinked_page_is_written_through_to_its_target(corpus_dir, tmp_path):
    target = _copy(corpus_dir, tmp_path / "checkout")
    link = tmp_path / "site" / "2024" / "095-talk.md"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    assert pages.write_transcript(link, BODY, model="tiny.en", date="2026-11-22").changed
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert pages.read_transcript(target) == BODY and pages.read_transcript(link) == BODY
    assert sorted(p.name for p in link.parent.iterdir()) == [link.name]
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_an_unwritable_folder_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    path = tmp_path / "80-x.md"
    path.write_text("# Ada Lovelace: Engines\n\n- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\n")

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tempfile.mkstemp", no_space)  # a full disk cannot be made here
    with pytest.raises(pages.PageError, match="cannot write: No space left on device"):
        pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22")


# ----------------------------------------------------------------- companions passed in, one youtube_id

COMPANION = (
    "# Andy Terrel: Sprint\n\n- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n```\n00:00 Welcome\n05:10 The sprint\n```\n"
)
PAGE = "# Andy Terrel: Sprint\n\n## Key Links\n- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\n"


def test_the_parser_takes_companions_and_reads_no_file(tmp_path):
    (tmp_path / "misc").mkdir()
    (tmp_path / "misc" / "05_andy_sprint.md").write_text(COMPANION)
    source = tmp_path / "2020" / "05-andy.md"
    # the companion is on disk next to `source`, but the parser only uses what it is given
    alone = pages.parse_page(PAGE, path="2020/05-andy.md", source=source)
    assert [len(v.chapters) for v in alone.videos] == [0]
    given = pages.parse_page(
        PAGE, path="2020/05-andy.md", source=source, companions=[pages.parse_companion("05_andy_sprint.md", COMPANION)]
    )
    assert [(c.start, c.title) for c in given.videos[0].chapters] == [(0.0, "Welcome"), (310.0, "The sprint")]
    assert "chapters taken from misc/05_andy_sprint.md" in given.warnings
    # read_page finds the same companion through an index, which reads each file once
    source.parent.mkdir()
    source.write_text(PAGE)
    index = pages.CompanionIndex()
    assert pages.read_page(source, root=tmp_path, companions=index).videos == given.videos
    assert index.for_page(source, tmp_path)[0] is index.for_page(source, tmp_path)[0]


def test_one_youtube_id_for_pages_and_downloads():
    assert locations.youtube_id is pages.youtube_id  # the cache key and the parser agree on ids
    vid = "Tm5Vr8Ye2Hu"
    for url in (
        f"http://www.youtube.com/watch?feature=player_embedded&amp;v={vid}",  # as embeds write it
        f"//www.youtube.com/embed/{vid}",
        f"https://YouTube.com/watch?v={vid}",
        f"youtu.be/{vid}",
        f"https://www.youtube-nocookie.com/embed/{vid}?rel=0",
    ):
        assert pages.youtube_id(url) == vid, url
    for url in (
        f"https://www.youtube.com/redirect?event=video_description&v={vid}&q=https%3A%2F%2Fexample.org",
        f"https://notyoutube.com/watch?v={vid}",
        f"https://example.org/?u=https://youtu.be/{vid}",
        "https://www.youtube.com/playlist?list=PLxyz",
        f"ftp://youtu.be/{vid}",
    ):
        assert pages.youtube_id(url) is None, url
