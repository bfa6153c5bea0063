"""Issue 17, as a new user and an adversary meet it: settings refused up front (and by --dry-run
alike), nothing written where it does not belong, help readable at 80 columns, no chapter claiming
no speech over words.

Each test calls ``python -m pipeline`` in a subprocess against the loopback media server
(conftest's ``media``: real yt-dlp) and, where a run goes through, the real tiny.en model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from test_cli_edges import cli, one_line_error
from test_run import make_page, run_cli


@pytest.fixture()
def site(tmp_path, media):
    """(server, folder): one page of jfk.flac (one sentence, 11 s) with chapters at 00:00 and 00:05."""
    server, _ = media
    folder = tmp_path / "site"
    folder.mkdir()
    make_page(folder / "01-jfk.md", server.url("jfk.flac"), ["00:00 Opening", "00:05 Country"])
    return server, folder


def _config(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "mine.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


# (flags, a config file's text or None, what the one line says)
REFUSED = [
    (["--executor", "ray", "--workers", "-1"], None, "--workers -1"),
    (["--speakers", "--num-speakers", "100"], None, "--num-speakers 100"),
    (["--executor", "ray", "--ray-address", "127.0.0.1:1"], None, "--ray-address 127.0.0.1:1"),
    (["--export", "srt,doc"], None, "--export"),
    (["--cache-dir", "/proc"], None, "--cache-dir /proc"),
    (["--cache-dir", "/sys/kernel"], None, "--cache-dir /sys/kernel"),
    ([], b"[run]\nglossary = '\xff\xfe'\n", "not UTF-8"),
    ([], "[run]\ncache_dir = 7\n", "cache_dir: cannot use 7 as a path"),
    ([], '[run]\ncache_dir = ["x", "y"]\n', "cache_dir: cannot use ['x', 'y'] as a path"),
    ([], "[transcribe]\nbatch_size = 8.5\n", "batch_size: cannot use 8.5 as a whole number"),
]


@pytest.mark.parametrize("args, config, says", REFUSED, ids=[" ".join(r[0]) or r[2] for r in REFUSED])
def test_a_setting_a_run_would_refuse_is_refused_up_front_and_by_dry_run(site, tmp_path, args, config, says):
    server, folder = site
    if "/sys/kernel" in args and not Path("/sys/kernel").is_dir():
        pytest.skip("no /sys/kernel here")
    before = (folder / "01-jfk.md").read_bytes()
    work = tmp_path / "cwd"
    work.mkdir()
    config_args = ["--config", _config(tmp_path, config)] if config is not None else []
    cache = ["--cache-dir", str(tmp_path / "cache")] if "--cache-dir" not in args else []
    for extra in ([], ["--dry-run"]):
        result = cli("run", "--quiet", str(folder), *cache, *config_args, *args, *extra, cwd=work)
        assert result.returncode == 2, result.stdout + result.stderr
        line = one_line_error(result)
        assert says in line, line
        if config is not None:
            assert str(tmp_path / "mine.toml") in line  # the file and the key are named
    assert server.hits["/jfk.flac"] == 0
    assert (folder / "01-jfk.md").read_bytes() == before
    assert list(work.iterdir()) == []  # no folder "7" or "['x', 'y']" made where the run was started


def test_a_ray_address_where_something_else_listens_is_refused_in_one_line(site, tmp_path):
    server, folder = site
    address = f"127.0.0.1:{server.port}"  # an HTTP server: it answers, but not as Ray's GCS does
    for extra in ([], ["--dry-run"]):
        result = cli(
            "run",
            str(folder),
            "--cache-dir",
            str(tmp_path / "c"),
            "--executor",
            "ray",
            "--ray-address",
            address,
            *extra,
        )
        assert result.returncode == 2
        assert f"--ray-address {address}: something listens there, but not a Ray cluster" in one_line_error(result)
    assert server.hits["/jfk.flac"] == 0


def test_an_export_dir_that_is_a_file_is_refused_naming_it_before_any_download(site, tmp_path):
    server, folder = site
    blocker = tmp_path / "exports"
    blocker.write_text("a file, not a folder")
    for extra in ([], ["--dry-run"]):
        result = cli(
            "run",
            str(folder),
            "--cache-dir",
            str(tmp_path / "c"),
            "--export",
            "srt",
            "--export-dir",
            str(blocker),
            *extra,
        )
        assert result.returncode == 2 and f"--export-dir {blocker}" in one_line_error(result)
    assert server.hits["/jfk.flac"] == 0


def test_review_refuses_a_bad_port_or_cache_dir_in_one_line(tmp_path):
    from pipeline import pages

    page = make_page(tmp_path / "p.md", "https://youtu.be/Hd4Ks7Lp0Qw", ["00:00 Opening"])
    pages.write_transcript(page, "Some words of a draft.\n", model="tiny.en", date="2026-12-07")
    result = cli("review", str(page), "--no-browser", "--port", "70000")
    assert result.returncode == 2 and "--port 70000" in one_line_error(result)
    result = cli("review", str(page), "--no-browser", "--cache-dir", "/proc")
    assert result.returncode == 2 and "--cache-dir /proc" in one_line_error(result)


def test_exports_stay_in_the_export_dir_pages_stay_in_the_folder_and_no_chapter_claims_no_speech(site, tmp_path):
    _, folder = site
    cache = str(tmp_path / "cache")
    page = (folder / "01-jfk.md").resolve()
    # A page given by its absolute path: the exports land in --export-dir, never beside the page.
    out = tmp_path / "out"
    result = run_cli(str(page), "--cache-dir", cache, "--export", "srt,vtt", "--export-dir", str(out), "--json")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["01-jfk.srt", "01-jfk.vtt"]
    assert sorted(p.name for p in folder.iterdir()) == ["01-jfk.md"]
    written = json.loads(result.stdout)["pages"][0]["videos"][0]["exports"]
    assert all(Path(p).parent == out for p in written)  # the summary names where they are
    # One sentence over 00:00 Opening and 00:05 Country: Opening holds its first words, not "no speech".
    draft = page.read_text().split("## Transcript", 1)[1]
    opening = draft.split("(00:00)", 1)[1].split("###", 1)[0]
    assert "No speech" not in draft and "And so" in opening and "country" in draft.split("(00:05)", 1)[1]

    # A page given as ../site/01-jfk.md from a sibling folder: the same.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out2 = tmp_path / "out2"
    result = run_cli(
        "../site/01-jfk.md",
        "--force",
        "--cache-dir",
        cache,
        "--export",
        "srt",
        "--export-dir",
        str(out2),
        cwd=elsewhere,
    )
    assert result.returncode == 0, result.stderr
    assert [p.name for p in out2.iterdir()] == ["01-jfk.srt"] and not list(elsewhere.iterdir())

    # A page in the folder that links to a file outside it: refused in one line, the outside file untouched.
    outside = tmp_path / "outside.md"
    outside.write_text(page.read_text().split("## Transcript", 1)[0] + "## Transcript\n", encoding="utf-8")
    kept = outside.read_bytes()
    os.symlink(outside, folder / "02-link.md")
    result = run_cli(str(folder), "--cache-dir", cache, "--json")
    assert result.returncode == 1, result.stderr
    failed = {p["path"]: p["reason"] for p in json.loads(result.stdout)["pages"] if p["status"] == "failed"}
    assert list(failed) == ["02-link.md"] and "outside the folder given" in failed["02-link.md"]
    assert outside.read_bytes() == kept


def test_run_help_is_whole_at_80_columns():
    from pipeline.cli_options import CONFIG_FLAGS

    result = cli("run", "--help", env={"COLUMNS": "80"})
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in result.stdout
    for flag in (f for f in CONFIG_FLAGS if f.section != "review"):
        for name in flag.decls.split("/"):
            assert any(line.split()[0:1] == [name] or f" {name} " in f"{line} " for line in lines), name
    assert "configs/default.toml" in result.stdout
