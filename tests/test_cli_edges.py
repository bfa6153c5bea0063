"""The command line as a new user meets it (issue 10): every mistake gets one line, early.

Each test calls ``python -m pipeline`` in a subprocess, as a user does, against a
loopback media server (real yt-dlp) and the real tiny.en model.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit.mediaserver import MediaServer
from test_run import EXAMPLE_AUDIO, make_page, run_cli

REPO = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd or REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})},
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The run's stderr, asserted to be a single line with no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture()
def site(tmp_path, media):
    """One page of real speech (jfk.flac) on the loopback media server (conftest's ``media``)."""
    server, _ = media
    folder = tmp_path / "site"
    folder.mkdir()
    make_page(folder / "01-jfk.md", server.url("jfk.flac"), ["00:00 Inauguration"])
    return server, folder


# -- 1. the model, the device and the numbers are checked before anything is downloaded ---------


@pytest.mark.parametrize(
    "args, says",
    [
        (["--device", "cuda"], "cuda"),
        (["--model", "no-such-model"], "no-such-model"),
        (["--model", "large-v3-turbo"], "large-v3-turbo"),  # needs the hub, which is offline here
        (["--compute-type", "float77"], "float77"),
        (["--beam-size", "0"], "beam"),
        (["--batch-size", "0"], "batch"),
        (["--cpu-threads", "-1"], "thread"),
        (["--retries", "-2"], "retries"),
        (["--sleep-requests", "-1"], "sleep"),
        (["--downloads-ahead", "-1"], "ahead"),
    ],
)
def test_a_setting_that_would_fail_every_page_is_refused_before_any_download(site, tmp_path, args, says):
    server, folder = site
    for extra in ([], ["--dry-run"]):
        result = cli("run", "--quiet", str(folder), "--cache-dir", str(tmp_path / "cache"), *args, *extra)
        assert result.returncode == 2, result.stdout + result.stderr
        assert says in one_line_error(result).lower()
    assert server.hits["/jfk.flac"] == 0
    assert (
        "## Transcript\n" in (folder / "01-jfk.md").read_text()
        and "du-transcripts draft" not in (folder / "01-jfk.md").read_text()
    )


# -- 3. Ctrl-C stops cleanly, reports what was done, and a rerun resumes ------------------------


def test_ctrl_c_reports_the_pages_done_exits_130_and_a_rerun_resumes(tmp_path, jfk_flac):
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(jfk_flac, media / "jfk.flac")
    shutil.copy(EXAMPLE_AUDIO, media / "terminal.ogg")
    folder = tmp_path / "site"
    folder.mkdir()
    trace = tmp_path / "trace.jsonl"
    report = tmp_path / "report.json"
    cache = tmp_path / "cache"
    with MediaServer(media) as server:
        first = make_page(folder / "01-jfk.md", server.url("jfk.flac"), ["00:00 Inauguration"])
        second = make_page(folder / "02-terminal.md", server.url("terminal.ogg"), ["00:00 Introduction"])
        env = {**os.environ, "DU_TRANSCRIPTS_TRACE": str(trace), "HF_HUB_OFFLINE": "1"}
        run = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run", str(folder), "--cache-dir", str(cache), "--report", str(report)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and run.poll() is None:
            events = [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []
            if any(
                e["event"] == "start" and e["stage"] == "transcribe" and e["page"].endswith("02-terminal.md")
                for e in events
            ) and any(e["event"] == "end" and e["stage"] == "write" for e in events):
                break
            time.sleep(0.05)
        os.killpg(run.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        out, err = run.communicate(timeout=60)
        assert run.returncode == 130, out + err
        assert "Traceback" not in err, err
        assert "interrupted" in (out + err).lower()
        data = json.loads(report.read_text())
        status = {Path(p["path"]).name: p["status"] for p in data["pages"]}
        assert status["01-jfk.md"] == "done"
        assert status.get("02-terminal.md") != "done"
        assert "du-transcripts draft" in first.read_text() and "du-transcripts draft" not in second.read_text()

        again = run_cli(str(folder), "--cache-dir", str(cache), "--json")
        assert again.returncode == 0, again.stderr
        totals = json.loads(again.stdout)["totals"]
        assert totals["done"] == 1 and totals["videos_transcribed"] == 1  # only the interrupted one
        assert "du-transcripts draft" in second.read_text()


# -- 4. errors a user can cause name the path, in one line --------------------------------------


def test_an_unwritable_cache_dir_and_a_config_folder_get_one_line_naming_the_path(site, tmp_path):
    _, folder = site
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = cli("run", str(folder), "--cache-dir", str(blocker / "cache"))
    assert result.returncode == 2
    assert str(blocker) in one_line_error(result)
    result = cli("status", str(folder), "--cache-dir", str(blocker / "cache"))
    assert result.returncode == 2 and str(blocker) in one_line_error(result)

    result = cli("run", str(folder), "--config", str(tmp_path))
    assert result.returncode == 2
    assert str(tmp_path) in one_line_error(result)


# -- 5. messages keep their brackets ------------------------------------------------------------


def test_config_errors_help_and_tables_keep_bracketed_text(site, tmp_path):
    _, folder = site
    bad = tmp_path / "bad.toml"
    bad.write_text("[transcribe]\nbatchsize = 4\n")
    result = cli("run", str(folder), "--config", str(bad))
    assert result.returncode == 2
    assert "[transcribe]" in one_line_error(result) and "batchsize" in result.stderr

    helptext = cli("run", "--help").stdout
    assert "XDG_CACHE_HOME" in helptext

    odd = folder / "02-[red]odd.md"
    shutil.copy(folder / "01-jfk.md", odd)
    status = cli("status", str(folder), "--cache-dir", str(tmp_path / "cache"))
    assert status.returncode == 0, status.stderr
    assert "[red]odd" in status.stdout.replace("\n", "")
    dry = cli("run", str(folder), "--dry-run", "--cache-dir", str(tmp_path / "cache"))
    assert dry.returncode == 0, dry.stderr
    assert "[red]odd" in dry.stdout.replace("\n", "")


# -- 6. exports carry the page's words and are written where the user can find them --------------


def test_exports_get_the_glossary_and_land_in_the_export_dir(site, tmp_path):
    _, folder = site
    glossary = tmp_path / "glossary.toml"
    glossary.write_text('[[term]]\ncanonical = "Fatherland"\nvariants = ["country"]\n')
    exports = tmp_path / "exports"
    result = run_cli(
        str(folder),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--glossary",
        str(glossary),
        "--export",
        "srt,vtt,json",
        "--export-dir",
        str(exports),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    page_text = (folder / "01-jfk.md").read_text()
    assert "Fatherland" in page_text and " country" not in page_text.split("## Transcript")[1]
    srt = (exports / "01-jfk.srt").read_text()
    assert "Fatherland" in srt and "country" not in srt
    assert "Fatherland" in (exports / "01-jfk.vtt").read_text()
    words = json.loads((exports / "01-jfk.json").read_text())
    assert "Fatherland" in json.dumps(words)
    data = json.loads(result.stdout)
    written = data["pages"][0]["videos"][0]["exports"]
    assert sorted(Path(p).name for p in written) == ["01-jfk.json", "01-jfk.srt", "01-jfk.vtt"]
    assert all(Path(p).parent == exports for p in written)


# -- 9. a rate limit stops only the host that rate-limited --------------------------------------


def test_a_rate_limited_host_does_not_stop_other_hosts_or_local_files(tmp_path, jfk_flac):
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(jfk_flac, media / "jfk.flac")
    folder = tmp_path / "site"
    folder.mkdir()
    with MediaServer(media) as server:
        for i in range(1, 6):  # five pages on the limited host: three strikes, then the rest not attempted
            # query strings keep the URLs (and so the cache keys) apart; the server ignores them
            make_page(folder / f"0{i}-limited.md", server.url("status/429") + f"?page={i}", [])
        other_host = server.url("jfk.flac").replace("127.0.0.1", "localhost")
        make_page(folder / "07-other-host.md", other_host, ["00:00 Inauguration"])
        local = folder / "media"
        local.mkdir()
        shutil.copy(jfk_flac, local / "jfk.flac")
        make_page(folder / "08-local.md", "media/jfk.flac", ["00:00 Inauguration"])
        result = run_cli(
            str(folder), "--cache-dir", str(tmp_path / "cache"), "--retries", "0", "--downloads-ahead", "1", "--json"
        )
    data = json.loads(result.stdout)
    status = {Path(p["path"]).name: (p["status"], p.get("error") or "") for p in data["pages"]}
    assert status["07-other-host.md"][0] == "done", status
    assert status["08-local.md"][0] == "done", status
    assert [status[f"0{i}-limited.md"][0] for i in range(1, 6)] == ["failed"] * 5
    assert "not attempted" in status["05-limited.md"][1] and "127.0.0.1" in status["05-limited.md"][1]


# -- 10. --shard is the same whatever folder is named -------------------------------------------


def test_a_shard_holds_the_same_pages_whatever_folder_is_named(tmp_path):
    repo = tmp_path / "event-transcripts"
    for year in ("2020", "2021"):
        (repo / year).mkdir(parents=True)
        for i in range(1, 9):
            make_page(repo / year / f"{i:02d}-talk.md", f"https://youtu.be/abcdefghi{i:02d}", [])

    def shard_pages(target: Path, cwd: Path) -> set[str]:
        picked = set()
        for index in (1, 2):
            result = cli("run", str(target), "--shard", f"{index}/2", "--dry-run", "--json", cwd=cwd)
            assert result.returncode == 0, result.stderr
            for page in json.loads(result.stdout)["pages"]:
                if page["status"] == "planned":
                    # a page's path in the report is relative to the folder named
                    picked.add(f"{index}:{(cwd / target / page['path']).resolve().relative_to(repo)}")
        return picked

    whole = shard_pages(repo, tmp_path)
    assert whole == shard_pages(repo / "2020", tmp_path) | shard_pages(repo / "2021", tmp_path)
    assert whole == shard_pages(Path("."), repo)
    assert len(whole) == 16


# -- 12. help and reasons -----------------------------------------------------------------------


def test_every_option_of_every_command_has_help():
    import typer.main
    from pipeline.cli import app

    group = typer.main.get_command(app)
    missing = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help, f"command {name} has no help"
        for param in command.params:
            if param.param_type_name == "option" and not getattr(param, "help", None):
                missing.append(f"{name} {param.opts[0]}")
    assert not missing, missing
    assert "--only-missing" not in cli("run", "--help").stdout


def test_scan_says_why_a_page_is_not_an_event(tmp_path):
    (tmp_path / "README.md").write_text("# Event transcripts\n\nThe repository's readme.\n")
    (tmp_path / "template.md").write_text("# [Title of Talk]\n\n## Transcript\n")
    result = cli("scan", "--json", str(tmp_path))
    assert result.returncode == 0, result.stderr
    found = {Path(p["path"]).name: p for p in json.loads(result.stdout)}
    for name in ("README.md", "template.md"):
        assert found[name]["state"] == "not-an-event"
        assert any(w.startswith("not an event page:") for w in found[name]["warnings"]), found[name]
