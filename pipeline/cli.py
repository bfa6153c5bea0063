"""The command line: parses arguments and calls the stages. No logic of its own."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__, pages
from .cli_options import ConfigFlag, build_config, config_flags
from .config import Config, ConfigError

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,  # click's plain help: wraps at any width, never cuts an option's name
    no_args_is_help=True,
    help="First-draft transcripts for Data Umbrella event pages.",
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # a message is one line, however long

PathsArg = typer.Argument(..., help="Event pages, or folders searched recursively for *.md.")


def _version(value: bool) -> None:
    if value:
        print(f"du-transcripts {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    pass


@app.command()
def scan(
    paths: list[Path] = PathsArg,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array, one object per page."),
) -> None:
    """List event pages, their state, videos and chapters, without downloading anything."""
    found: list[pages.Page] = []
    errors: list[pages.PageError] = []
    for item in pages.scan(paths):
        if isinstance(item, pages.PageError):
            errors.append(item)
        else:
            found.append(item)
    for e in errors:
        err_console.print(f"[red]error[/red] {escape(str(e))}", markup=True, highlight=False)
    if as_json:
        json.dump([p.to_json() for p in found], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        table = Table(show_lines=False)
        table.add_column("page", overflow="fold")
        table.add_column("state")
        table.add_column("videos", justify="right")
        table.add_column("chapters", justify="right")
        table.add_column("warnings", overflow="fold")
        for p in found:
            table.add_row(
                escape(p.path),  # page text is data, never rich markup
                p.state,
                str(len(p.videos)),
                " + ".join(str(len(v.chapters)) for v in p.videos) or "0",
                escape("; ".join(p.warnings)),
            )
        console.print(table)
        needs = sum(p.state == pages.NEEDS_TRANSCRIPT for p in found)
        console.print(f"{len(found)} pages, {needs} need a transcript, {len(errors)} unreadable")
    if errors and not found:
        raise typer.Exit(1)


def _parse_shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        index, count = (int(x) for x in value.split("/"))
    except ValueError:
        raise typer.BadParameter("use I/N, e.g. 2/4") from None
    if not (count >= 1 and 1 <= index <= count):
        raise typer.BadParameter("I must be between 1 and N")
    return index, count


def _build_config(config_file: Path | None, flags: Mapping[ConfigFlag, Any]) -> Config:
    """configs/default.toml, then --config FILE, then the flags that were given."""
    try:
        return build_config(config_file, flags)
    except ConfigError as e:
        _config_error(e)


def _config_error(error: ConfigError) -> NoReturn:
    """A setting that cannot work: one line (its text kept: "[transcribe]" is no markup), exit status 2."""
    err_console.print(f"[red]config error[/red] {escape(str(error))}", highlight=False)
    raise typer.Exit(2)


ConfigOpt = typer.Option(None, "--config", help="A TOML file overlaying configs/default.toml (or 'gpu').")


@app.command()
def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="The cache folder whose free space to check."),
) -> None:
    """What this machine has for the job (GPU, CUDA libraries, torch, ffmpeg, yt-dlp, models, cache, Ray),
    each missing piece with its fix. Exit status 1 when the main job cannot run."""
    from .cache import default_cache_dir
    from .doctor import render, run_checks

    checks = run_checks(cache_dir or default_cache_dir())
    if as_json:
        json.dump({"checks": [c.to_json() for c in checks]}, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(render(checks))
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)


@app.command()
@config_flags(exclude_sections=("review",))  # the review page's options are `review`'s
def run(
    paths: list[Path] = PathsArg,
    config_file: Path | None = ConfigOpt,
    force: bool = typer.Option(False, "--force", help="Also redo this tool's own (unedited) drafts."),
    limit: int | None = typer.Option(None, "--limit", min=0, help="At most N pages."),
    shard: str | None = typer.Option(None, "--shard", help="I/N: only this machine's share of the backlog."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be done; download and write nothing."),
    report: Path | None = typer.Option(None, "--report", help="Write the run's report as JSON to FILE."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON instead of a table."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    flags: dict[ConfigFlag, Any] | None = None,
) -> None:
    """Transcribe every page that needs it and write the drafts into the pages."""
    from .plan import Selection
    from .progress import RichObserver, summary_table
    from .runner import run_batch

    config = _build_config(config_file, flags or {})
    selection = Selection(force=force or config.run.force, limit=limit, shard=_parse_shard(shard), dry_run=dry_run)
    show_progress = not (quiet or as_json or dry_run) and err_console.is_terminal
    try:
        if show_progress:
            with RichObserver(err_console) as observer:
                result = run_batch(paths, config, selection=selection, observer=observer)
        else:
            result = run_batch(paths, config, selection=selection)
    except ConfigError as e:
        _config_error(e)
    except KeyboardInterrupt:  # outside the batch proper (scan, checks): every finished step is cached
        err_console.print("interrupted; rerun to resume (finished work is cached)")
        raise typer.Exit(130) from None
    data = result.to_json()
    if report:
        _write_report(report, data)
    if as_json:
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif not quiet:
        console.print(summary_table(result))
    if result.interrupted:
        done = result.count("done")
        err_console.print(f"interrupted: {done} page(s) done, {result.count('interrupted')} left; rerun to resume")
        sys.stdout.flush()
        sys.stderr.flush()
        # Downloads abandoned in their threads would hold the exit until they finish; their
        # partial files are resumed by the next run, so leave now, as a shell's Ctrl-C expects.
        os._exit(130)
    if result.failed:
        raise typer.Exit(1)


def _write_report(path: Path, data: dict[str, Any]) -> None:
    from .utils import atomic_write_text

    try:
        atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    except OSError as e:
        err_console.print(f"[red]error[/red] --report {escape(str(path))}: {escape(e.strerror or str(e))}")
        raise typer.Exit(2) from None


@app.command()
@config_flags("--model", "--cache-dir")
def status(
    paths: list[Path] = PathsArg,
    config_file: Path | None = ConfigOpt,
    force: bool = typer.Option(False, "--force", help="As a run with --force would see it."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    flags: dict[ConfigFlag, Any] | None = None,
) -> None:
    """What a run would do (with the same model and options), and what the cache already holds; runs nothing."""
    from .plan import Selection, plan

    config = _build_config(config_file, flags or {})
    try:
        rows = plan(paths, config, selection=Selection(force=force))
    except ConfigError as e:
        _config_error(e)
    if as_json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    table = Table()
    for column in ("page", "state", "action", "media", "audio", "transcript"):
        table.add_column(column, overflow="fold")
    for row in rows:
        videos = row["videos"] or [{}]
        for i, v in enumerate(videos):
            table.add_row(
                escape(row["path"]) if i == 0 else "",  # page names are data, never rich markup
                row["state"] if i == 0 else "",
                escape(row["action"]) if i == 0 else "",
                *("[green]cached[/]" if v.get(k) else ("-" if v else "") for k in ("media", "audio", "transcript")),
            )
    console.print(table)
    actions = [r["action"] for r in rows]
    console.print(
        f"{actions.count('transcribe')} to transcribe, {actions.count('write')} only to write from cache, "
        f"{len(rows) - actions.count('transcribe') - actions.count('write')} skipped"
    )


# The options that make run's words for a video (its cache entry), fetch it, and fill the page.
_CHAPTERS_FLAGS = (
    *("--model", "--device", "--compute-type", "--cpu-threads", "--batch-size", "--beam-size", "--language"),
    *("--context", "--cache-dir", "--glossary", "--speakers", "--num-speakers", "--fill-timestamps"),
    *("--cookies", "--cookies-from-browser", "--sleep-requests", "--sleep-interval", "--rate-limit", "--retries"),
)


@app.command()
@config_flags(*_CHAPTERS_FLAGS)
def chapters(
    page: Path = typer.Argument(..., help="An event page."),
    config_file: Path | None = ConfigOpt,
    as_json: bool = typer.Option(False, "--json", help="Print JSON: per video, its chapters (start, title, cue)."),
    flags: dict[ConfigFlag, Any] | None = None,
) -> None:
    """Propose chapters from the talk itself, as a Timestamps block (cached words, else run's steps)."""
    from .pages import timestamp_lines
    from .proposals import ProposalError, fill_page, page_proposals

    config = _build_config(config_file, flags or {})
    try:
        parsed, found = page_proposals(page, config)
        done = fill_page(parsed, found) if config.chapters.fill_timestamps else None
    except ConfigError as e:
        _config_error(e)
    except ProposalError as e:
        err_console.print(f"[red]error[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        json.dump([v.to_json() for v in found], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    for index, video in enumerate([] if as_json else found):
        label = [f"Video {index + 1}: {video.video.url}"] if len(found) > 1 else []
        sys.stdout.write("\n".join([*label, "## Timestamps", *timestamp_lines(video.chapters)]) + "\n")
    if done:
        err_console.print(escape(done), highlight=False)


@app.command()
@config_flags("--model", "--cache-dir", "--port", "--browser")
def review(
    page: Path = typer.Argument(..., help="An event page holding this tool's draft."),
    config_file: Path | None = ConfigOpt,
    flags: dict[ConfigFlag, Any] | None = None,
) -> None:
    """Listen to a draft, check and fix it in the browser, and save it back into the page."""
    from .review import ReviewError, draft_model, open_review
    from .review_server import serve

    values = dict(flags or {})
    model_flag = next(f for f in values if f.option == "name")
    # The draft's own model by default: its cached words are the ones that time the draft.
    values[model_flag] = values[model_flag] or draft_model(page)
    config = _build_config(config_file, values)
    try:
        session = open_review(page, config)
        status = serve(session, port=config.review.port, open_browser=config.review.open_browser)
    except ReviewError as e:
        err_console.print(f"[red]error[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(1) from None
    except ConfigError as e:  # e.g. a --cache-dir that cannot be written
        _config_error(e)
    raise typer.Exit(status)


def main() -> None:
    app(prog_name="du-transcripts")
