"""The command line: parses arguments and calls the stages. No logic of its own."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from . import __version__, pages

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
    paths: List[Path] = typer.Argument(..., help="Event pages, or folders searched recursively for *.md."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array, one object per page."),
) -> None:
    """List event pages, their state, videos and chapters, without downloading anything."""
    found: list[pages.Page] = []
    errors: list[pages.PageError] = []
    for item in pages.scan(paths):
        (errors if isinstance(item, pages.PageError) else found).append(item)
    for e in errors:
        err_console.print(f"[red]error[/red] {e}", markup=True, highlight=False)
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
                p.path,
                p.state,
                str(len(p.videos)),
                " + ".join(str(len(v.chapters)) for v in p.videos) or "0",
                "; ".join(p.warnings),
            )
        console.print(table)
        needs = sum(p.state == pages.NEEDS_TRANSCRIPT for p in found)
        console.print(f"{len(found)} pages, {needs} need a transcript, {len(errors)} unreadable")
    if errors and not found:
        raise typer.Exit(1)


def main() -> None:
    app(prog_name="du-transcripts")
