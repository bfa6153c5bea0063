"""Every file of the real corpus copy against expected values read off the pages by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline import pages

EXPECTED_FILE = Path(__file__).parent / "fixtures" / "pages" / "corpus_expected.json"
EXPECTED = json.loads(EXPECTED_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scanned(corpus_dir) -> dict[str, pages.Page]:
    results = list(pages.scan([corpus_dir]))
    errors = [r for r in results if isinstance(r, pages.PageError)]
    assert not errors, errors
    return {p.path: p for p in results}


def test_every_file_is_covered(scanned, corpus_dir):
    on_disk = {p.relative_to(corpus_dir).as_posix() for p in corpus_dir.rglob("*.md")}
    assert set(scanned) == on_disk
    listed = set(EXPECTED["pages"])
    folders = tuple(f + "/" for f in EXPECTED["not_an_event_folders"])
    assert on_disk - listed == {p for p in on_disk if p.startswith(folders)}
    assert listed <= on_disk


@pytest.mark.parametrize("path", sorted(EXPECTED["pages"]))
def test_page_matches_expected(scanned, path):
    want = EXPECTED["pages"][path]
    page = scanned[path]
    assert page.state == want["state"], page.warnings
    assert [(v.id, len(v.chapters)) for v in page.videos] == [tuple(v) for v in want["videos"]], page.warnings
    chapters = [c for v in page.videos[:1] for c in v.chapters]
    if "first" in want:
        assert (chapters[0].start, chapters[0].title) == tuple(want["first"])
    if "last" in want:
        assert (chapters[-1].start, chapters[-1].title) == tuple(want["last"])
    if "misc" in want:
        assert f"chapters taken from misc/{want['misc']}" in page.warnings
    else:
        assert not any(w.startswith("chapters taken from misc/") for w in page.warnings)
    for fragment in want.get("warns", []):
        assert any(fragment in w for w in page.warnings), (fragment, page.warnings)
    for video in page.videos:
        assert all(isinstance(c.start, float) and c.title for c in video.chapters)


def test_companion_drafts_are_not_events(scanned):
    misc = [p for path, p in scanned.items() if path.startswith("misc/")]
    assert len(misc) == 56
    assert {p.state for p in misc} == {pages.NOT_AN_EVENT}


def test_misc_05_goes_to_2020_not_2022(scanned):
    assert "chapters taken from misc/05_andy_sprint.md" in scanned["2020/05-andreas-mueller-contributing.md"].warnings
    discord = scanned["2022/05-reshamas-discord.md"]
    assert discord.videos[0].chapters[1].title == "Why Discord is used"


def test_chapter_details(scanned):
    nick = scanned["2021/21-nick-command.md"].videos[0].chapters
    assert {c.level for c in nick} == {0}  # every entry is `TIME -- Title`: no parent, no nesting
    assert nick[13].start == 3812 and nick[13].title.startswith("Rapid fire")
    scipy = scanned["2022/54-melissa-scipy.md"].videos[0].chapters
    assert "What _add_newdocs.py does" in [c.title for c in scipy]
    django = scanned["2022/55-joe-django.md"].videos
    assert [c.start for c in django[2].chapters if c.title.startswith("Django admin interface in dev")] == [1081]
    assert django[1].chapters[0].title == "What is a web development framework – software frameworks"
    gonzalo = scanned["2022/42-gonzalo-github-actions.md"].videos[0].chapters
    assert gonzalo[4].title.startswith('GitHub Development Workflow with "events" Can trigger')  # continuation joined
    assert gonzalo[3].title == "PART 1: GitHub, Workflows and GitHub Actions"  # `---PART` marker stripped
    wiki = scanned["2022/58-emily-diego-wikimedia.md"].videos[0].chapters
    assert wiki[3].title == "Emily and Diego‘s introduction"
    react = scanned["2022/61-joe-react.md"].videos
    assert react[1].chapters[0].start == 15 and react[1].label == "Video 2/3"
    luisa = scanned["2021/26-luisa-astronomy.md"].videos
    assert luisa[1].label and luisa[1].chapters[0].title.startswith("IRSA demo")
    lux = scanned["2021/37-doris-lux.md"].videos[0].chapters
    assert any(c.start == 2455 and c.title.startswith("Q: What is Lux driven by") for c in lux)  # NBSP after the time


def test_speakers_and_tags(scanned):
    joseph = scanned["2024/095-joseph-ml-security.md"]
    assert "Joseph Lucas" in joseph.speakers
    assert {"machinelearning", "datascience", "security"} <= set(joseph.tags)
    pytorch = scanned["2022/53-sebastian-adrian-pytorch.md"]
    assert pytorch.speakers[:2] == ["Sebastian Raschka", "Adrian Wälchli"]
    assert "Liliana Petrova" in scanned["2022/64-liliana-brand.md"].speakers
    assert "Andreas Mueller" in scanned["2020/05-andreas-mueller-contributing.md"].speakers


def test_cli_scan_json_runs_over_the_corpus(corpus_dir):
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "scan", "--json", str(corpus_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = json.loads(out.stdout)
    assert len(rows) == len(list(corpus_dir.rglob("*.md")))
    for row in rows:
        assert {"path", "state", "videos", "warnings"} <= set(row)
        for video in row["videos"]:
            assert {"url", "id", "chapters"} <= set(video)
            assert video["id"] is None or len(video["id"]) == 11
    by_path = {r["path"]: r for r in rows}
    assert by_path["2022/61-joe-react.md"]["videos"][2]["chapters"][-1] == {
        "start": 1580.0,
        "title": "Q&A: Does a beginner need to learn Redux?",
    }
    assert "Traceback" not in out.stderr
