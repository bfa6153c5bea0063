"""Which pages a run takes and why it leaves the others: one plan, shared by ``run`` and ``status``;
and ``status``'s report of it (:func:`plan`), with what the cache holds for each video."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import download as download_stage
from . import pages as pages_mod
from .config import Config
from .job import JobMaker, cache_of

TODO = "todo"  # to transcribe and write
SKIP = "skip"  # reported with its reason
OTHER_SHARD = "other-shard"  # another machine's page: not ours to report
UNREADABLE = "unreadable"  # the page could not be read


@dataclass(frozen=True)
class Selection:
    force: bool = False  # also redo this tool's own unedited drafts
    limit: int | None = None  # at most this many pages
    shard: tuple[int, int] | None = None  # (i, n): only pages whose hash falls in shard i of n (1-based)
    dry_run: bool = False


@dataclass(frozen=True)
class PagePlan:
    path: str
    state: str
    decision: str  # TODO | SKIP | OTHER_SHARD | UNREADABLE
    reason: str | None = None  # why skipped or unreadable
    page: pages_mod.Page | None = None  # None when unreadable


def plan_pages(items: Iterable[pages_mod.Page | pages_mod.PageError], selection: Selection) -> list[PagePlan]:
    """A decision for every page ``pages.scan`` found, in its order."""
    plans: list[PagePlan] = []
    taken = 0
    for item in items:
        if isinstance(item, pages_mod.PageError):
            plans.append(PagePlan(item.path, UNREADABLE, UNREADABLE, item.reason))
            continue
        reason = skip_reason(item, selection)
        decision = SKIP if reason is not None else TODO
        if decision == TODO and selection.shard and not in_shard(shard_key(item), *selection.shard):
            decision = OTHER_SHARD
        elif decision == TODO and selection.limit is not None and taken >= selection.limit:
            decision, reason = SKIP, f"beyond --limit {selection.limit}"
        taken += decision == TODO
        plans.append(PagePlan(item.path, item.state, decision, reason, item))
    return plans


_YEAR = re.compile(r"^(?:19|20)\d\d$")


def shard_key(page: pages_mod.Page) -> str:
    """The name a page is sharded by, the same whatever folder the run was given: its path in
    its git repository; else from its event-year folder (``2020/04-ali-spittel-career.md``);
    else its path as found."""
    if page.source is None:
        return page.path
    source = Path(page.source).resolve()
    for folder in source.parents:
        if (folder / ".git").exists():
            return source.relative_to(folder).as_posix()
    for folder in source.parents:
        if _YEAR.match(folder.name):
            return source.relative_to(folder.parent).as_posix()
    return page.path


def in_shard(page_path: str, index: int, count: int) -> bool:
    """Deterministic split of a backlog across ``count`` machines; ``index`` is 1-based.

    Hashing the page's path (not its position) keeps each page on the same shard
    when pages are added or removed.
    """
    digest = int(hashlib.sha256(page_path.replace("\\", "/").encode()).hexdigest(), 16)
    return digest % count == index - 1


def skip_reason(page: pages_mod.Page, selection: Selection) -> str | None:
    """Why a run leaves this page alone, or None when the page is one to transcribe."""
    if page.state == pages_mod.NEEDS_TRANSCRIPT:
        return None
    if page.state == pages_mod.HAS_DRAFT:
        return None if selection.force else "has this tool's draft (use --force to redo it)"
    return {
        pages_mod.HAS_TRANSCRIPT: "has a human transcript",
        pages_mod.NO_TRANSCRIPT_SECTION: "no '## Transcript' section",
        pages_mod.NO_VIDEO: "no video link",
        # The parser's warning says why ("not an event page: a template").
        pages_mod.NOT_AN_EVENT: next((w for w in page.warnings if w.startswith("not an event")), "not an event page"),
    }.get(page.state, f"state {page.state}")


# -- status's report -------------------------------------------------------------------------


def plan(
    paths: Iterable[str | Path],
    config: Config,
    *,
    cache_dir: str | Path | None = None,
    selection: Selection = Selection(),
) -> list[dict[str, Any]]:
    """What a run would do with each page, and what the cache holds for its videos. Runs nothing."""
    jobs = JobMaker(config, cache_of(config, cache_dir))
    plans = plan_pages(pages_mod.scan(paths), selection)
    rows = [status_row(p, []) for p in plans if p.decision == UNREADABLE]
    for page_plan in plans:
        if page_plan.page is not None:
            videos = [cached_parts(jobs, page_plan.page, v) for v in page_plan.page.videos]
            rows.append(status_row(page_plan, videos))
    return rows


def status_row(page_plan: PagePlan, videos: list[dict[str, Any]]) -> dict[str, Any]:
    """One page's line of the status report."""
    if page_plan.decision == TODO:
        action = "write" if videos and all(v["transcript"] for v in videos) else "transcribe"
    elif page_plan.decision == OTHER_SHARD:
        action = "skip: another shard"
    else:
        action = f"skip: {page_plan.reason}"
    return {"path": page_plan.path, "state": page_plan.state, "action": action, "videos": videos}


def cached_parts(jobs: JobMaker, page: pages_mod.Page, video: pages_mod.Video) -> dict[str, Any]:
    """What the cache holds for one video: media, audio, transcription."""
    try:
        job = jobs.job(page, video)
    except Exception:
        return {"url": video.url, "key": None, "media": False, "audio": False, "transcript": False}
    cache = jobs.cache
    return {
        "url": video.url,
        "key": job.key,
        "media": download_stage.cached_media(job.location, cache) is not None,
        "audio": cache.audio_path(job.key).is_file(),
        "transcript": job.transcript.read() is not None,
    }
