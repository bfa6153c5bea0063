"""Reading pages from disk: one file (``read_page``) or whole folders (``scan``).

The only I/O of the parser besides ``write``: it reads the page, asks one
``CompanionIndex`` per scan for the page's companion drafts, and hands both to
the pure ``parse_page``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..schema import NOT_AN_EVENT, Page, Video
from .companions import CompanionIndex
from .lines import PageError, read_text
from .parse import page_state, parse_page


def read_page(path: str | Path, *, root: str | Path | None = None, companions: CompanionIndex | None = None) -> Page:
    """Read and parse one page; ``Page.path`` is relative to ``root`` when given. ``companions``: the scan's
    index of misc/ companion drafts (a new one when not given)."""
    path = Path(path)
    root_path = Path(root) if root is not None else None
    if root_path is not None:
        try:
            shown = path.relative_to(root_path).as_posix()
        except ValueError:
            shown = str(path)
        _check_inside(path, root_path, shown)
    else:
        shown = str(path)
    text = read_text(path, shown)
    index = companions if companions is not None else CompanionIndex()
    page = parse_page(text, path=shown, source=path, companions=index.for_page(path, root_path))
    page.root = root_path  # local media a page names must lie under it (steps.media_location)
    return page


def _check_inside(path: Path, root: Path, shown: str) -> None:
    """A page found in a folder is written in place: one that is a link to a file outside that folder
    is refused, as local media there is (a run writes only inside the folder it was given)."""
    target = Path(os.path.realpath(path))
    if not target.is_relative_to(Path(os.path.realpath(root))):
        raise PageError(shown, f"a link to {target}, outside the folder given; not read, never written")


def _walk(folder: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if f.endswith(".md") and not f.startswith("."))
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def scan(paths: Iterable[str | Path]) -> Iterator[Page | PageError]:
    """Files or folders (recursive ``*.md``), sorted, one result per file; ``Page.path`` is relative to the
    folder given."""
    companions = CompanionIndex()
    results: list[Page | PageError] = []
    for given in paths:
        given = Path(given)
        if given.is_dir():
            for file in _walk(given):
                results.append(_read_or_error(file, given, companions))
        elif given.exists():
            results.append(_read_or_error(given, None, companions))
        else:
            results.append(PageError(given, "no such file or folder"))
    _drop_borrowed_embeds([r for r in results if isinstance(r, Page)])
    yield from results


def _read_or_error(path: Path, root: Path | None, companions: CompanionIndex) -> Page | PageError:
    try:
        return read_page(path, root=root, companions=companions)
    except PageError as e:
        return e
    except Exception as e:  # a parser bug must cost one page, not the batch
        shown = path.relative_to(root).as_posix() if root is not None else str(path)
        return PageError(shown, f"could not be parsed ({type(e).__name__}: {e})")


def _drop_borrowed_embeds(pages: list[Page]) -> None:
    """An embed-only video that another page's Video link names is that event's, copied by mistake."""
    owners: dict[str, str] = {}
    for p in pages:
        if p.state != NOT_AN_EVENT:
            for v in p.videos:
                if v.source == "link" and v.id:
                    owners.setdefault(v.id, p.path)
    for p in pages:
        if p.state == NOT_AN_EVENT:
            continue
        keep: list[Video] = []
        for v in p.videos:
            owner = owners.get(v.id or "")
            if v.source == "embed" and owner and owner != p.path:
                p.warnings.append(f"embed {v.id} is the video of {owner}; ignored")
            else:
                keep.append(v)
        if len(keep) != len(p.videos):
            p.videos = keep
            p.state = page_state(p)
