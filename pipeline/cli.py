"""The command line: parses arguments and calls the stages. No logic of its own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__, pages
from .config import Config, ConfigError, load_config

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="First-draft transcripts for Data Umbrella event pages.",
)
console = Console()
err_console = Console(stderr=True)


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
    paths: list[Path] = typer.Argument(..., help="Event pages, or folders searched recursively for *.md."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array, one object per page."),
) -> None:
    """List event pages, their state, videos and chapters, without downloading anything."""
    found: list[pages.Page] = []
    errors: list[pages.PageError] = []
    for item in pages.scan(paths):
        (errors if isinstance(item, pages.PageError) else found).append(item)
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


def _build_config(config_file: Path | None, **overrides) -> Config:
    """configs/default.toml, then --config FILE, then the flags that were given."""
    try:
        config = load_config(config_file)
        sections = {
            "model": ("name", "device", "compute_type", "cpu_threads"),
            "transcribe": ("batch_size", "beam_size", "language", "vad_filter", "use_page_context"),
            "download": (
                "cookies",
                "cookies_from_browser",
                "sleep_requests",
                "sleep_interval",
                "rate_limit",
                "retries",
            ),
            "run": (
                "cache_dir",
                "downloads_ahead",
                "glossary",
                "export",
                "executor",
                "ray_address",
                "workers",
                "gpus_per_worker",
            ),
        }
        for section, names in sections.items():
            config = config.replace(section, **{n: overrides.get(n) for n in names})
        return config
    except ConfigError as e:
        err_console.print(f"[red]config error[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(2) from None


ConfigOpt = typer.Option(None, "--config", help="A TOML file overlaying configs/default.toml (or 'gpu').")
CacheOpt = typer.Option(
    None, "--cache-dir", help="Cache folder [default: the user cache, $XDG_CACHE_HOME/du-transcripts]."
)


@app.command()
def run(
    paths: list[Path] = typer.Argument(..., help="Event pages, or folders searched recursively for *.md."),
    config_file: Path | None = ConfigOpt,
    model: str | None = typer.Option(
        None, "--model", help="Model name (tiny.en, base, large-v3, turbo, ...) or a local CTranslate2 folder."
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu or cuda."),
    compute_type: str | None = typer.Option(
        None, "--compute-type", help="auto, int8, float16, int8_float16, float32, ..."
    ),
    cpu_threads: int | None = typer.Option(None, "--cpu-threads", help="CPU threads for the model (0: one per core)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Batched inference size (1: sequential)."),
    beam_size: int | None = typer.Option(None, "--beam-size"),
    language: str | None = typer.Option(None, "--language"),
    context: bool | None = typer.Option(
        None, "--context/--no-context", help="Bias the model toward the page's names and terms."
    ),
    cache_dir: Path | None = CacheOpt,
    downloads_ahead: int | None = typer.Option(
        None, "--downloads-ahead", help="Videos fetched ahead of the one being transcribed."
    ),
    cookies: str | None = typer.Option(None, "--cookies", help="cookies.txt for yt-dlp (YouTube's bot check)."),
    cookies_from_browser: str | None = typer.Option(None, "--cookies-from-browser", help="e.g. firefox."),
    sleep_requests: float | None = typer.Option(
        None, "--sleep-requests", help="Seconds between yt-dlp's HTTP requests."
    ),
    sleep_interval: float | None = typer.Option(None, "--sleep-interval", help="Seconds before each download."),
    rate_limit: str | None = typer.Option(None, "--rate-limit", help="Download speed cap, e.g. 2M."),
    retries: int | None = typer.Option(None, "--retries", help="Download retries on transient errors."),
    glossary: str | None = typer.Option(None, "--glossary", help="A TOML file of extra spelling fixes."),
    export: str | None = typer.Option(None, "--export", help="Also write subtitles/word JSON: any of srt,vtt,json."),
    executor: str | None = typer.Option(
        None, "--executor", help="local, or ray: download and transcribe on a pool of Ray actors (the ray extra)."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster to join (HOST:PORT or auto) [default: start Ray on this machine]."
    ),
    workers: int | None = typer.Option(None, "--workers", min=0, help="Ray actors (0: as many as the cluster holds)."),
    gpus_per_worker: str | None = typer.Option(
        None, "--gpus-per-worker", help="GPUs per Ray actor: auto, 1, or a fraction such as 0.5."
    ),
    only_missing: bool = typer.Option(
        True, "--only-missing", help="Only pages whose Transcript section is empty (the default)."
    ),
    force: bool = typer.Option(False, "--force", help="Also redo this tool's own (unedited) drafts."),
    limit: int | None = typer.Option(None, "--limit", min=0, help="At most N pages."),
    shard: str | None = typer.Option(None, "--shard", help="I/N: only this machine's share of the backlog."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be done; download and write nothing."),
    report: Path | None = typer.Option(None, "--report", help="Write the run's report as JSON to FILE."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON instead of a table."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Transcribe every page that needs it and write the drafts into the pages."""
    from .progress import RichObserver, summary_table
    from .runner import Selection, run_batch

    config = _build_config(
        config_file,
        name=model,
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        batch_size=batch_size,
        beam_size=beam_size,
        language=language,
        use_page_context=context,
        cache_dir=str(cache_dir) if cache_dir else None,
        downloads_ahead=downloads_ahead,
        cookies=cookies,
        cookies_from_browser=cookies_from_browser,
        sleep_requests=sleep_requests,
        sleep_interval=sleep_interval,
        rate_limit=rate_limit,
        retries=retries,
        glossary=glossary,
        export=export,
        executor=executor,
        ray_address=ray_address,
        workers=workers,
        gpus_per_worker=gpus_per_worker,
    )
    selection = Selection(force=force or config.run.force, limit=limit, shard=_parse_shard(shard), dry_run=dry_run)
    show_progress = not (quiet or as_json or dry_run) and err_console.is_terminal
    try:
        if show_progress:
            with RichObserver(err_console) as observer:
                result = run_batch(paths, config, selection=selection, observer=observer)
        else:
            result = run_batch(paths, config, selection=selection)
    except ConfigError as e:
        err_console.print(f"[red]config error[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(2) from None
    data = result.to_json()
    if report:
        from .utils import atomic_write_text

        atomic_write_text(report, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    if as_json:
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif not quiet:
        console.print(summary_table(result))
    if result.failed:
        raise typer.Exit(1)


@app.command()
def status(
    paths: list[Path] = typer.Argument(..., help="Event pages, or folders searched recursively for *.md."),
    config_file: Path | None = ConfigOpt,
    model: str | None = typer.Option(None, "--model", help="The model a run would use (the cache is per model)."),
    cache_dir: Path | None = CacheOpt,
    force: bool = typer.Option(False, "--force", help="As a run with --force would see it."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What a run would do, and what the cache already holds; runs nothing."""
    from .runner import Selection, plan

    config = _build_config(config_file, name=model, cache_dir=str(cache_dir) if cache_dir else None)
    rows = plan(paths, config, selection=Selection(force=force))
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
                row["path"] if i == 0 else "",
                row["state"] if i == 0 else "",
                row["action"] if i == 0 else "",
                *("[green]cached[/]" if v.get(k) else ("-" if v else "") for k in ("media", "audio", "transcript")),
            )
    console.print(table)
    actions = [r["action"] for r in rows]
    console.print(
        f"{actions.count('transcribe')} to transcribe, {actions.count('write')} only to write from cache, "
        f"{len(rows) - actions.count('transcribe') - actions.count('write')} skipped"
    )


def main() -> None:
    app(prog_name="du-transcripts")
