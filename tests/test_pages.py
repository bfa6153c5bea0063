"""Synthetic pages for each shape VARIANTS.md describes, write-back, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline import pages
from pipeline.pages import HAS_DRAFT, HAS_TRANSCRIPT, NEEDS_TRANSCRIPT, NO_TRANSCRIPT_SECTION, NO_VIDEO, NOT_AN_EVENT

HEAD = """# Ada Lovelace: Engines of Thought

## Key Links
- Transcript: https://github.com/data-umbrella/event-transcripts/blob/main/2023/80-ada-engines.md
- Meetup Event: https://www.meetup.com/data-umbrella/events/1/
"""
EMBED = (
    '<a href="http://www.youtube.com/watch?feature=player_embedded&v={id}" target="_blank">'
    '<img src="http://img.youtube.com/vi/{img}/0.jpg"\nalt="{alt}" width="50%" /></a>\n'
)


def page(tmp_path: Path, text: str, name: str = "80-ada-engines.md", folder: str = "2023") -> pages.Page:
    path = tmp_path / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return pages.read_page(path, root=tmp_path)


def ids(p: pages.Page) -> list[tuple[str | None, int]]:
    return [(v.id, len(v.chapters)) for v in p.videos]


# ----------------------------------------------------------------- states and videos


def test_plain_page_needs_transcript(tmp_path):
    p = page(tmp_path, HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\n")
    assert p.state == NEEDS_TRANSCRIPT and ids(p) == [("Hd4Ks7Lp0Qw", 0)]
    assert p.path == "2023/80-ada-engines.md" and p.title == "Ada Lovelace: Engines of Thought"
    assert p.speakers == ["Ada Lovelace"]


def test_video_line_under_the_title_without_key_links_or_heading(tmp_path):
    p = page(tmp_path, "# Ada Lovelace: Engines\n\nVideo: https://youtu.be/Hd4Ks7Lp0Qw\n\nSome text.\n")
    assert p.state == NO_TRANSCRIPT_SECTION and ids(p) == [("Hd4Ks7Lp0Qw", 0)]


def test_multi_interview_page_with_three_h1s_has_no_section(tmp_path):
    text = "# Interview 1\nText.\n# Interview 2\nText.\n# Interview 3\n- Video: https://youtu.be/Hd4Ks7Lp0Qw\n"
    assert page(tmp_path, text).state == NO_TRANSCRIPT_SECTION


def test_video_label_variants(tmp_path):
    text = HEAD + (
        "- video: https://youtu.be/Xq7Lm2Np4Rt\n"
        "- Video Part 2 [120b]: demo (https://youtu.be/Zk9Wp3Qa1Bc)\n"
        "- Video:  [The talk](https://www.youtube.com/watch?v=Tm5Vr8Ye2Hu&t=5s) (30 minutes)   \n"
        "\n## Transcript\n"
    )
    p = page(tmp_path, text)
    assert ids(p) == [("Xq7Lm2Np4Rt", 0), ("Zk9Wp3Qa1Bc", 0), ("Tm5Vr8Ye2Hu", 0)]
    assert p.videos[1].label == "Video Part 2 [120b]"


def test_other_events_videos_under_resources_are_ignored(tmp_path):
    text = HEAD + (
        "- Video: https://youtu.be/Hd4Ks7Lp0Qw,\n\n## Resources\n"
        "- Video: Other Talk:  https://youtu.be/Zk9Wp3Qa1Bc\n"
        "- VIDEO Other Talk https://youtu.be/Xq7Lm2Np4Rt\n"
        "- video: [Other Talk](https://youtu.be/Tm5Vr8Ye2Hu)\n"
        "- Channel: https://youtube.com/c/SomeName\n"
        "\u200b\u200b- https://example.org/notes \u2011 see\n\n"
        "## Timestamps\n```\n00:00 Intro\n31:10 Shell (Ref: video, https://youtu.be/Tm5Vr8Ye2Hu)\n```\n\n"
        "## Video\n" + EMBED.format(id="Hd4Ks7Lp0Qw", img="Hd4Ks7Lp0Qw", alt="Ada") + "\n## Transcript\n\n"
    )
    p = page(tmp_path, text)
    assert ids(p) == [("Hd4Ks7Lp0Qw", 2)]
    assert p.videos[0].url == "https://youtu.be/Hd4Ks7Lp0Qw"  # the trailing comma is not part of it
    assert p.videos[0].chapters[1].title == "Shell (Ref: video, https://youtu.be/Tm5Vr8Ye2Hu)"


def test_numbered_part_two_under_resources_is_this_events(corpus_dir):
    p = pages.read_page(corpus_dir / "2021" / "26-luisa-astronomy.md")
    assert [v.id for v in p.videos] == ["q10mVlYQUbA", "veUkHUP_V4M"]


def test_one_line_embed_without_key_links_video(tmp_path):
    text = (
        HEAD
        + "- Video:\n\n## Video\n"
        + (
            '<a href="http://www.youtube.com/watch?feature=player_embedded&v=Tm5Vr8Ye2Hu" target="_blank">'
            '<img src="http://img.youtube.com/vi/Tm5Vr8Ye2Hu/0.jpg" alt="Ada: Engines" width="50%" /></a>\n'
        )
        + "\n## Transcript\n"
    )
    p = page(tmp_path, text)
    assert p.state == NEEDS_TRANSCRIPT and ids(p) == [("Tm5Vr8Ye2Hu", 0)]
    assert p.videos[0].source == "embed"


def test_malformed_embeds(tmp_path):
    no_v = (
        HEAD
        + "- Video:\n\n## Video\n"
        + (
            '<a href="http://www.youtube.com/watch?feature=player_embedded&Tm5Vr8Ye2Hu" target="_blank">'
            '<img src="http://img.youtube.com/vi/Tm5Vr8Ye2Hu/0.jpg" alt="x" /></a>\n'
        )
        + "\n## Transcript\n"
    )
    p = page(tmp_path, no_v)
    assert ids(p) == [("Tm5Vr8Ye2Hu", 0)] and any("no v=" in w for w in p.warnings)
    long_img = (
        HEAD
        + "- Video:\n\n## Video\n"
        + EMBED.format(id="Xq7Lm2Np4Rt", img="Xq7Lm2Np4Rtx", alt="x")
        + "\n## Transcript\n"
    )
    p = page(tmp_path, long_img, name="81-b.md")
    assert ids(p) == [("Xq7Lm2Np4Rt", 0)] and any("11-character" in w for w in p.warnings)


def test_wrong_embed_when_key_links_names_the_video(tmp_path):
    text = (
        HEAD
        + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Video\n"
        + EMBED.format(id="Pkg-DKkObKs", img="Pkg-DKkObKs", alt="Carol Willing: Core Python")
        + "\n## Transcript\n"
    )
    p = page(tmp_path, text)
    assert ids(p) == [("Hd4Ks7Lp0Qw", 0)] and any("ignored" in w for w in p.warnings)


def test_three_embeds_with_an_empty_key_links_line(tmp_path):
    embeds = "".join(
        EMBED.format(id=i, img=i, alt=f"Ada Lovelace part {n}")
        for n, i in enumerate(["Hd4Ks7Lp0Qw", "Zk9Wp3Qa1Bc", "Xq7Lm2Np4Rt"], 1)
    )
    p = page(tmp_path, HEAD + "- Video: \n\n## Video\n" + embeds + "\n## Transcript\n")
    assert [v.id for v in p.videos] == ["Hd4Ks7Lp0Qw", "Zk9Wp3Qa1Bc", "Xq7Lm2Np4Rt"]


def test_three_part_lines_but_one_embed(tmp_path):
    text = HEAD + (
        "- Video Part 1: https://youtu.be/Hd4Ks7Lp0Qw\n- Video Part 2: https://youtu.be/Zk9Wp3Qa1Bc\n"
        "- Video Part 3: https://youtu.be/Xq7Lm2Np4Rt\n\n## Video\n"
        + EMBED.format(id="Hd4Ks7Lp0Qw", img="Hd4Ks7Lp0Qw", alt="Ada")
        + "\n## Transcript\n"
    )
    assert [v.id for v in page(tmp_path, text).videos] == ["Hd4Ks7Lp0Qw", "Zk9Wp3Qa1Bc", "Xq7Lm2Np4Rt"]


def test_non_youtube_video_url_counts_and_crafted_ids_are_not_ids(tmp_path):
    p = page(tmp_path, HEAD + "- Video: https://media.example.org/podcast/ep1.mp3\n\n## Transcript\n")
    assert p.state == NEEDS_TRANSCRIPT and ids(p) == [(None, 0)]
    assert p.videos[0].url == "https://media.example.org/podcast/ep1.mp3"
    crafted = (
        "# ../../../etc/passwd: $(rm -rf ~)\n\n## Key Links\n- Video: https://youtu.be/../../etc/pas\n\n## Transcript\n"
    )
    p = page(tmp_path, crafted, name="82-x.md")
    assert p.title == "../../../etc/passwd: $(rm -rf ~)" and [v.id for v in p.videos] == [None]
    assert pages.youtube_id("https://www.youtube.com/watch?v=abc/../../de") is None


def test_no_video_and_not_an_event(tmp_path):
    assert page(tmp_path, HEAD + "- Video: \n\n## Transcript\n").state == NO_VIDEO
    assert page(tmp_path, "# Notes\n\n## Transcript\n", name="README.md").state == NOT_AN_EVENT
    assert (
        page(tmp_path, "# First Last:  [title of talk]\n- Video:\n## Transcript\n", name="57-x.md").state
        == NOT_AN_EVENT
    )
    assert (
        page(tmp_path, HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n## Transcript\n", name="0_template.md").state
        == NOT_AN_EVENT
    )


def test_draft_named_like_x201_with_the_previous_events_embed(tmp_path):
    previous = HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\n"
    draft = (
        "# Grace Hopper: Compilers\n\n## Key Links\n- Video:\n\n## Video\n"
        + EMBED.format(id="Hd4Ks7Lp0Qw", img="Hd4Ks7Lp0Qw", alt="Ada Lovelace: Engines of Thought")
        + "\n## Transcript\n"
    )
    (tmp_path / "2024").mkdir()
    (tmp_path / "2024" / "200-ada.md").write_text(previous)
    (tmp_path / "2024" / "x201-some-talk.md").write_text(draft)
    (tmp_path / "2024" / "201-grace.md").write_text(draft)
    found = {p.path: p for p in pages.scan([tmp_path])}
    assert found["2024/x201-some-talk.md"].state == NOT_AN_EVENT
    grace = found["2024/201-grace.md"]
    assert grace.state == NO_VIDEO and any("2024/200-ada.md" in w for w in grace.warnings)
    assert found["2024/200-ada.md"].state == NEEDS_TRANSCRIPT


# ----------------------------------------------------------------- chapters


def test_time_forms_and_sub_chapters(tmp_path):
    text = (
        HEAD
        + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Timestamps\n```text\n## Timestamps\n"
        + (
            "0:00 Welcome\n12:43 Data\n12:43 -- Loading data\n13:07 --Cleaning\n17:42: Vector stores\n"
            "18.01 Dots\n58:10 Q&A\n1:02:05 Wrap-up\n01:03:00 Long form\n"
            "09:14 open\u00a0the notebook\n"
        )
        + "```\n\n## Transcript\n"
    )
    chapters = page(tmp_path, text).videos[0].chapters
    assert [(c.start, c.title, c.level) for c in chapters] == [
        (0, "Welcome", 0),
        (763, "Data", 0),
        (763, "Loading data", 1),
        (787, "Cleaning", 1),
        (1062, "Vector stores", 0),
        (1081, "Dots", 0),
        (3490, "Q&A", 0),
        (3725, "Wrap-up", 0),
        (3780, "Long form", 0),
        (554, "open the notebook", 0),
    ]


def test_description_style_times(tmp_path):
    text = (
        HEAD
        + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Chapters\n"
        + ("[00:00](https://youtu.be/Hd4Ks7Lp0Qw?t=0) Intro\n**05:10** Bold\n1. 07:00 Numbered\n* 08:00 Star\n")
        + "\n## Transcript\n"
    )
    chapters = page(tmp_path, text).videos[0].chapters
    assert [(c.start, c.title) for c in chapters] == [(0, "Intro"), (310, "Bold"), (420, "Numbered"), (480, "Star")]


def test_video_line_outside_key_links_is_a_last_resort(tmp_path):
    text = (
        "# Ada Lovelace: Engines\n\n## About the Event\nVideo: https://youtu.be/Hd4Ks7Lp0Qw\n\n"
        "## Resources\n- Video: https://youtu.be/Zk9Wp3Qa1Bc\n\n## Transcript\n"
    )
    assert ids(page(tmp_path, text)) == [("Hd4Ks7Lp0Qw", 0)]


def test_placeholders_are_not_chapters(tmp_path):
    base = HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n"
    p = page(
        tmp_path,
        base + "```\n## Timestamps\n00:00 Intro\n04:00 Talk\n15:00 Help us add timestamps\n```\n## Transcript\n",
    )
    assert ids(p) == [("Hd4Ks7Lp0Qw", 2)] and any("placeholder" in w for w in p.warnings)
    for n, fence in enumerate(
        [
            "```\n## Timestamps\n```\n",
            "```\n```\n",
            "```\n00:00:00 \n```\n",
            "```\nxx:xx Help us add timestamps\n```\n",
            "## Timestamps\n[get from video]\n",
            "## Resources\n[get from Meetup]\n",
        ]
    ):
        p = page(tmp_path, base + fence + "\n## Transcript\n", name=f"9{n}-p.md")
        assert ids(p) == [("Hd4Ks7Lp0Qw", 0)], fence


def test_fence_kept_when_a_later_timestamps_heading_says_get_from_video(tmp_path):
    text = (
        HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n```\n## Timestamps\n00:00 A\n05:00 B\n```\n\n"
        "## Video\n\n## Timestamps\n[get from video]\n\n## Transcript\n"
    )
    assert ids(page(tmp_path, text)) == [("Hd4Ks7Lp0Qw", 2)]


def test_heading_above_a_fence_with_the_same_pseudo_heading_and_unheaded_fences(tmp_path):
    base = HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n"
    same = base + "## Timestamps\n```\n## Timestamps\n00:00 A\n01:00 B\n```\n\n## Transcript\n"
    assert ids(page(tmp_path, same)) == [("Hd4Ks7Lp0Qw", 2)]
    about = base + "## About the Event\nA talk.\n```\n00:00 Opening remarks\n```\n\n## Transcript\n"
    assert page(tmp_path, about, name="83-a.md").videos[0].chapters == [pages.Chapter(0, "Opening remarks")]
    at_eof = base + "## Transcript\n\n```\n00:00 Start\n```\n"
    p = page(tmp_path, at_eof, name="84-a.md")
    assert p.state == NEEDS_TRANSCRIPT and ids(p) == [("Hd4Ks7Lp0Qw", 1)]
    no_heading = base + "## Video\n\n```\n00:00 Start\n```\n"
    p = page(tmp_path, no_heading, name="85-a.md")
    assert p.state == NO_TRANSCRIPT_SECTION and ids(p) == [("Hd4Ks7Lp0Qw", 1)]


def test_parts_in_separate_fences_go_to_their_videos(tmp_path):
    text = HEAD + (
        "- Video Part 1 [120a]: talk (https://youtu.be/Hd4Ks7Lp0Qw)\n"
        "- Video Part 2 [120b]: demo (https://youtu.be/Zk9Wp3Qa1Bc)\n\n"
        "```\n## Timestamps: Part 2 (Setup)\n00:00 Setup\n02:00 Install\n05:00 Run\n```\n\n"
        "```\n## Timestamps for 120a (long version)\n00:00 Intro\n10:00 Body\n```\n\n## Transcript\n"
    )
    p = page(tmp_path, text)
    assert ids(p) == [("Hd4Ks7Lp0Qw", 2), ("Zk9Wp3Qa1Bc", 3)]


def test_order_duplicates_and_one_line_lists(tmp_path):
    text = (
        HEAD
        + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n"
        + "```\n00:00 A\n01:00:00 B\n01:00:00 C\n00:50:00 D\n```\n## Transcript\n"
    )
    p = page(tmp_path, text)
    assert [c.start for c in p.videos[0].chapters] == [0, 3600, 3600, 3000]
    assert any("duplicate" in w for w in p.warnings) and any("out of order" in w for w in p.warnings)
    one = HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n```\n00:00 Start\n```\n## Transcript\n"
    assert ids(page(tmp_path, one, name="86-a.md")) == [("Hd4Ks7Lp0Qw", 1)]


def test_not_chapters(tmp_path):
    text = (
        HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## About the Speaker\n"
        "His motto is in Luke 12:48. We start at 7:05 (0:36 / 44:31).\n4;29 is not a time.\n\n"
        "## Transcript\n\n5:00 I started speaking then.\n"
    )
    p = page(tmp_path, text)
    assert p.state == HAS_TRANSCRIPT and ids(p) == [("Hd4Ks7Lp0Qw", 0)]


def test_ten_thousand_timestamps(tmp_path):
    lines = "".join(
        f"{h}:{m:02d}:{s:02d} Chapter {h}-{m}-{s}\n" for h in range(3) for m in range(60) for s in range(0, 60, 2)
    )
    lines = lines + "".join(f"3:{m:02d}:{s:02d} More\n" for m in range(60) for s in range(0, 60, 3))
    text = HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n```\n" + lines + "```\n\n## Transcript\n"
    p = page(tmp_path, text)
    assert len(p.videos[0].chapters) == 3 * 60 * 30 + 60 * 20 == 6600
    many = HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n```\n" + "00:00 Again\n" * 10_000 + "```\n\n## Transcript\n"
    p = page(tmp_path, many, name="87-many.md")
    assert len(p.videos[0].chapters) == 10_000 and any("duplicate" in w for w in p.warnings)


# ----------------------------------------------------------------- misc/ companions


def _corpus_like(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "misc").mkdir(parents=True)
    (root / "misc" / "05_andy_sprint.md").write_text(
        "\nTranscript:\nhttps://example.org/scikit-learn-sprint\n\n```text\n## Agenda\n00:00:00 to 00:00:40 Intro\n"
        "00:00:40 Instructions\n```\n\n```\n## Info: Video Volume 2\n- video: https://youtu.be/p_2Uw2BxdhA\n\n"
        "## Agenda\n00:00:00 Intro\n00:00:31 Basics\n00:00:59 Pairs\n```\n"
    )
    (root / "misc" / "06_grace.md").write_text(
        "```text\nGrace Hopper: Compilers\n\n## Key Links\n- Video: https://youtu.be/Zk9Wp3Qa1Bc\n\n## Agenda\n"
        "00:00 Intro\n01:00 Compilers\n02:00 Bugs\n```\n"
    )
    return root


def test_misc_companion_is_matched_safely(tmp_path):
    root = _corpus_like(tmp_path)
    sprint = (
        "# Crash Course\n\n## Key Links\n- Video: [Sprint Instructions](https://youtu.be/5OL8XoMMOfA)\n\n"
        "## Transcript\n"
    )
    discord = "# Reshama Shaikh: Discord\n\n## Key Links\n- Video: https://youtu.be/w2A8SknM-68\n\n## Transcript\n"
    same_id = "# Someone: Other\n\n## Key Links\n- Video: https://youtu.be/Zk9Wp3Qa1Bc\n\n## Transcript\n"
    other_event = (
        "# Grace Hopper: Compilers II\n\n## Key Links\n- Video: https://youtu.be/Xq7Lm2Np4Rt\n\n## Transcript\n"
    )
    for folder, name, text in [
        ("2020", "05-andreas.md", sprint),
        ("2022", "05-discord.md", discord),
        ("2021", "06-someone.md", same_id),
        ("2023", "06-grace-again.md", other_event),
    ]:
        (root / folder).mkdir(exist_ok=True)
        (root / folder / name).write_text(text)
    found = {p.path: p for p in pages.scan([root])}
    assert ids(found["2020/05-andreas.md"]) == [("5OL8XoMMOfA", 2)]
    assert "chapters taken from misc/05_andy_sprint.md" in found["2020/05-andreas.md"].warnings
    assert ids(found["2022/05-discord.md"]) == [("w2A8SknM-68", 0)]
    assert ids(found["2021/06-someone.md"]) == [("Zk9Wp3Qa1Bc", 3)]
    # same number and speaker, but the companion names another video: not used
    assert ids(found["2023/06-grace-again.md"]) == [("Xq7Lm2Np4Rt", 0)]
    # read_page alone (as the runner calls it) finds the companion by walking up
    alone = pages.read_page(root / "2020" / "05-andreas.md")
    assert ids(alone) == [("5OL8XoMMOfA", 2)]


# ----------------------------------------------------------------- Transcript section states


@pytest.mark.parametrize(
    "section, state",
    [
        ("", NEEDS_TRANSCRIPT),
        ("\n\n", NEEDS_TRANSCRIPT),
        ("\n#python #webapp #django\n", NEEDS_TRANSCRIPT),
        ("\n## Agenda\n00:00:00 Intro\n\\\n00:02:40 Agenda\n", NEEDS_TRANSCRIPT),
        ("\n## Agenda\n00:00:00 Intro\n\nHello everybody and welcome to the webinar.\n", HAS_TRANSCRIPT),
        ("\n[needs a transcriber]\n", NEEDS_TRANSCRIPT),
        ("(it is not a transcript but the slides contain my notes)\n", HAS_TRANSCRIPT),
        ("\nhey everybody welcome to a data umbrella\nwebinar\n[Music]\n", HAS_TRANSCRIPT),
        ("\n## Intro (0:00)\nOkay, so it says it's ready.\n", HAS_TRANSCRIPT),
    ],
)
def test_section_states(tmp_path, section, state):
    p = page(tmp_path, HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\n" + section)
    assert p.state == state


def test_video_transcript_block_is_not_the_heading(corpus_dir):
    assert pages.read_page(corpus_dir / "2020" / "05-andreas-mueller-contributing.md").state == NO_TRANSCRIPT_SECTION
    assert pages.read_page(corpus_dir / "2020" / "06-reshama-shaikh-sklearn-pr.md").state == NO_TRANSCRIPT_SECTION


def test_transcript_heading_inside_a_fence_does_not_count(tmp_path):
    text = HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n```\n## Transcript\n```\n"
    assert page(tmp_path, text).state == NO_TRANSCRIPT_SECTION


# ----------------------------------------------------------------- writing


BODY = "### Intro (00:00)\n\nHello and welcome.\n\n### Talk (05:12)\n\nToday we look at engines.\n"


def _write_page(tmp_path: Path, text: str | bytes, name: str = "80-ada.md") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_write_keeps_every_other_byte_and_reads_back(tmp_path):
    before = HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw  \n\n## Transcript\n\n#python #webapp  \n\n\n"
    path = _write_page(tmp_path, before)
    result = pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22")
    assert result.changed
    after = path.read_text(encoding="utf-8")
    prefix = before[: before.index("## Transcript\n") + len("## Transcript\n")]
    assert after.startswith(prefix)
    assert after.endswith("<!-- /du-transcripts draft -->\n\n#python #webapp  \n\n\n")  # tags below, tail kept
    assert pages.read_transcript(path) == BODY
    p = pages.read_page(path)
    assert p.state == HAS_DRAFT and p.draft == pages.DraftInfo("tiny.en", "2026-11-22", edited=False)
    assert p.tags == ["python", "webapp"]
    assert [f.name for f in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_write_keeps_crlf_and_no_final_newline(tmp_path):
    before = (HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript").replace("\n", "\r\n")
    path = _write_page(tmp_path, before)
    pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22")
    raw = path.read_bytes()
    assert raw.startswith(before.encode() + b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")  # every line ending is still CRLF
    assert raw.endswith(b"<!-- /du-transcripts draft -->")  # still no final newline
    assert pages.read_transcript(path) == BODY
    assert pages.read_page(path).state == HAS_DRAFT


def test_write_keeps_an_agenda_under_the_heading(corpus_dir, tmp_path):
    original = (corpus_dir / "2022" / "40-meenal-array.md").read_bytes()
    path = _write_page(tmp_path, original, "40-meenal-array.md")
    pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22")
    after = path.read_bytes()
    head_end = original.index(b"## Transcript\n") + len(b"## Transcript\n")
    assert after[:head_end] == original[:head_end]
    assert after.endswith(original[original.index(b"## Agenda") :])
    p = pages.read_page(path)
    assert p.state == HAS_DRAFT and len(p.videos[0].chapters) == 13


def test_replacing_a_draft_only_on_request(tmp_path):
    path = _write_page(tmp_path, HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\n")
    pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22")
    once = path.read_bytes()
    assert pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22").changed is False
    with pytest.raises(pages.PageError, match="already holds a draft"):
        pages.write_transcript(path, "Other.\n", model="tiny.en", date="2026-11-23")
    assert path.read_bytes() == once
    assert pages.write_transcript(path, "Other.\n", model="base", date="2026-11-23", replace_draft=True).changed
    assert pages.read_transcript(path) == "Other.\n"
    pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22", replace_draft=True)
    assert path.read_bytes() == once  # replacing gives the same file as writing once


def test_a_human_edited_draft_is_never_overwritten(tmp_path):
    path = _write_page(tmp_path, HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\n")
    pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22")
    path.write_text(path.read_text().replace("Hello and welcome.", "Hello, and welcome!"))
    p = pages.read_page(path)
    assert p.state == HAS_TRANSCRIPT and p.draft.edited and any("edited" in w for w in p.warnings)
    edited = path.read_bytes()
    with pytest.raises(pages.PageError, match="edited"):
        pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22", replace_draft=True)
    assert path.read_bytes() == edited
    # trailing whitespace alone is not an edit (the hash ignores it)
    path2 = _write_page(tmp_path, HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\n", "81-b.md")
    pages.write_transcript(path2, BODY, model="tiny.en", date="2026-11-22")
    path2.write_text(path2.read_text().replace("welcome.\n", "welcome.   \n"))
    assert pages.read_page(path2).state == HAS_DRAFT


@pytest.mark.parametrize(
    "text, message",
    [
        (HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\nA human wrote this.\n", "human text"),
        (HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n", "no '## Transcript' heading"),
    ],
)
def test_refusals_leave_the_file_alone(tmp_path, text, message):
    path = _write_page(tmp_path, text)
    with pytest.raises(pages.PageError, match=message):
        pages.write_transcript(path, BODY, model="tiny.en", date="2026-11-22")
    assert path.read_text() == text


def test_marker_values_are_checked(tmp_path):
    path = _write_page(tmp_path, HEAD + "## Transcript\n")
    for model in ["tiny --> x", "a;b", "two words", ""]:
        with pytest.raises(pages.PageError):
            pages.write_transcript(path, BODY, model=model, date="2026-11-22")


# ----------------------------------------------------------------- bad input


def test_bad_files_give_one_line_errors_and_the_batch_goes_on(tmp_path):
    root = tmp_path / "repo" / "2023"
    root.mkdir(parents=True)
    (root / "01-binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR")
    (root / "02-latin1.md").write_bytes("# Caf\xe9\n".encode("latin-1"))
    with open(root / "03-huge.md", "wb") as f:
        f.truncate(50 * 1024 * 1024)  # a sparse 50 MB file
    (root / "04-good.md").write_text(HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\n")
    (root / "05-dir.md").mkdir()
    results = list(pages.scan([tmp_path / "repo", tmp_path / "missing"]))
    errors = {e.path: e.reason for e in results if isinstance(e, pages.PageError)}
    assert set(errors) == {"2023/01-binary.md", "2023/02-latin1.md", "2023/03-huge.md", str(tmp_path / "missing")}
    assert "binary" in errors["2023/01-binary.md"] and "UTF-8" in errors["2023/02-latin1.md"]
    assert "too large" in errors["2023/03-huge.md"]
    assert all("\n" not in reason for reason in errors.values())
    assert [p.path for p in results if isinstance(p, pages.Page)] == ["2023/04-good.md"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = _write_page(tmp_path, HEAD + "## Transcript\n")
    path.chmod(0)
    try:
        with pytest.raises(pages.PageError, match="cannot read"):
            pages.read_page(path)
    finally:
        path.chmod(0o644)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_pipes_and_broken_links_are_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "01-pipe.md")
    (tmp_path / "02-link.md").symlink_to(tmp_path / "nowhere.md")
    errors = {e.path: e.reason for e in pages.scan([tmp_path])}
    assert "not a regular file" in errors["01-pipe.md"] and "cannot read" in errors["02-link.md"]


def test_cli_reports_bad_pages_without_a_traceback(tmp_path):
    (tmp_path / "01-[bold]binary.md").write_bytes(b"\x00\x01")  # rich markup in names must stay text
    (tmp_path / "02-[italic]odd.md").write_text(HEAD + "- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\n")
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "scan", "--json", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert "01-[bold]binary.md" in out.stderr and "binary" in out.stderr
    rows = json.loads(out.stdout)
    assert [r["path"] for r in rows] == ["02-[italic]odd.md"] and rows[0]["state"] == NEEDS_TRANSCRIPT
    table = subprocess.run(
        [sys.executable, "-m", "pipeline", "scan", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert table.returncode == 0 and "Traceback" not in table.stderr
    assert "1 pages, 1 need a transcript, 1 unreadable" in table.stdout
    assert "[italic]odd" in table.stdout.replace("\n", "").replace("│", "").replace(" ", "")


def test_unnumbered_page_with_a_transcript_heading_is_an_event_but_repo_documents_are_not(tmp_path):
    text = "# Jane Doe: A talk\n\n## Key Links\n- Video: https://youtu.be/Hd4Ks7Lp0Qw\n\n## Transcript\n"
    for name, state in [
        ("my-talk.md", pages.NEEDS_TRANSCRIPT),
        ("page.md", pages.NEEDS_TRANSCRIPT),
        ("README.md", pages.NOT_AN_EVENT),
        ("x201-some-talk.md", pages.NOT_AN_EVENT),
        ("CONTRIBUTING.md", pages.NOT_AN_EVENT),
    ]:
        (tmp_path / name).write_text(text)
        assert pages.read_page(tmp_path / name).state == state, name
    (tmp_path / "notes.md").write_text("# Notes\n\n- Video: https://youtu.be/Hd4Ks7Lp0Qw\n")
    assert pages.read_page(tmp_path / "notes.md").state == pages.NOT_AN_EVENT


def test_embed_link_without_v_and_no_image_id_still_names_the_video(tmp_path):
    text = (
        "# Ge: Z\n\n## Key Links\n- Video:\n\n## Video\n"
        '<a href="http://www.youtube.com/watch?feature=player_embedded&Tm5Vr8Ye2Hu" target="_blank">'
        '<img src="images/local.png" alt="x" width="50%" /></a>\n\n## Transcript\n'
    )
    (tmp_path / "106-g.md").write_text(text)
    found = pages.read_page(tmp_path / "106-g.md")
    assert found.state == pages.NEEDS_TRANSCRIPT
    assert [v.id for v in found.videos] == ["Tm5Vr8Ye2Hu"]
    assert any("without v=" in w for w in found.warnings)


def test_an_unlabelled_chapter_list_goes_to_the_first_of_several_embedded_videos(tmp_path):
    embed = (
        '<a href="http://www.youtube.com/watch?feature=player_embedded&v={id}" target="_blank">'
        '<img src="http://img.youtube.com/vi/{id}/0.jpg" alt="Three videos part {n}" width="50%" /></a>\n'
    )
    ids = ["Aa1Bb2Cc3Dd", "Zk9Wp3Qa1Bc", "Xq7Lm2Np4Rt"]
    text = (
        "# Hi: Three videos\n\n## Key Links\n- Video:\n\n## Video\n"
        + "".join(embed.format(id=i, n=n) for n, i in enumerate(ids, 1))
        + "\n## About the Event\nText.\n\n```\n00:00 Opening remarks\n03:00 Talk\n```\n\n## Transcript\n"
    )
    (tmp_path / "107-h.md").write_text(text)
    found = pages.read_page(tmp_path / "107-h.md")
    # the alt text's "part 3" names no part: the list belongs to the first video
    assert [(v.id, len(v.chapters)) for v in found.videos] == [(ids[0], 2), (ids[1], 0), (ids[2], 0)]
