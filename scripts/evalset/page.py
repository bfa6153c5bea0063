"""Pages: an event page for a talk in the corpus's house layout, its chapter times off as a human's are."""

from __future__ import annotations

import math
import random
from pathlib import Path

from pipeline.utils import atomic_write_text, format_timestamp

from evalkit import VIDEO_PLACEHOLDER
from evalkit.truth import Truth

MAX_PAGE_OFFSET = 4  # seconds a page's chapter time may be off the truth


def page_offsets(chapters: list[dict], rng: random.Random) -> None:
    """Give each chapter a page time off its true start by 1 to MAX_PAGE_OFFSET whole seconds.

    The first chapter stays at 00:00, as on human pages. The others are off
    early and late by turns (a page time before the true start pulls the end of
    the previous chapter in, one after it pushes words out), and at least one is
    off by 3 s or more, so a test cannot pass by luck. A short chapter's time is
    off by at most a third of it or of the chapter before (a human who lists a
    chapter of 5 s clicks its start more carefully), rounded to whole seconds,
    and the page times stay in order.
    """
    sign = rng.choice((-1, 1))
    for i, chapter in enumerate(chapters):
        if i == 0:
            chapter["page_start"] = 0
            continue
        true = chapter["true_start"]
        wanted = true + sign * min(rng.uniform(1.0, MAX_PAGE_OFFSET), offset_limit(chapters, i))
        page = round(wanted)
        if abs(page - true) > MAX_PAGE_OFFSET:  # rounding must not push it past the limit
            page = math.floor(wanted) if page > true else math.ceil(wanted)
        chapter["page_start"] = max(page, chapters[i - 1]["page_start"] + 1)
        sign = -sign
    long_enough = [c for i, c in enumerate(chapters) if i and offset_limit(chapters, i) >= MAX_PAGE_OFFSET]
    if long_enough and max(abs(c["page_start"] - c["true_start"]) for c in chapters[1:]) < 3:
        last = chapters[-1] if chapters[-1] in long_enough else long_enough[-1]
        last["page_start"] = math.floor(last["true_start"] + MAX_PAGE_OFFSET)


def offset_limit(chapters: list[dict], i: int) -> float:
    """How far chapter i's page time may be off: MAX_PAGE_OFFSET, or a third of a short neighbour."""
    own = chapters[i].get("true_end", math.inf) - chapters[i]["true_start"]
    before = chapters[i]["true_start"] - chapters[i - 1]["true_start"]
    return min(float(MAX_PAGE_OFFSET), own / 3, before / 3)


def write_page(truth: Truth, path: Path) -> None:
    """An event page in the house layout of the newer pages (2022/2024), with an empty Transcript."""
    speakers = ", ".join(s for s in truth.voices if s not in ("host", "speaker", "asterisk", "reader"))
    voices = len(set(truth.voices.values()))
    spoken_by = f"{speakers} ({voices} voices)" if speakers else f"{voices} voice(s)"
    lines = [
        f"# {truth.title}",
        "",
        "## Key Links",
        f"- Transcript: https://github.com/data-umbrella/event-transcripts/blob/main/eval/{truth.name}.md",
        "- Meetup Event: https://www.meetup.com/data-umbrella/events/",
        f"- Video: {VIDEO_PLACEHOLDER}",
        "- GitHub repo:",
        "- Transcriber:  ? [needs a transcriber]",
        "",
        "## About the Event",
        f"A test talk for du-transcripts, spoken by {spoken_by}: {truth.description}.",
        "",
    ]
    if truth.page_has_chapters:
        lines += ["```", "## Timestamps "]
        lines += [f"{format_timestamp(c.page_start or 0)} {'-- ' * bool(c.level)}{c.title}" for c in truth.chapters]
        lines += ["```", ""]
    lines += [
        "## About the Speaker",
        f"Made by {truth.made_by} from {', '.join(truth.sources)}.",
        "",
        "#datascience #python",
        "",
        "",
        "## Transcript",
        "",
    ]
    atomic_write_text(path, "\n".join(lines))
