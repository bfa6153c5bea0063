"""Score proposed chapters (pipeline/propose.py) against the human chapters of the evaluation talks.

For each talk of ``eval/talks`` (scripts/make_eval_set.py: the corpus's human transcripts
spoken, their chapter times known exactly) the pipeline runs once (``run --no-context``, so
the page's chapter titles do not bias the words) on a copy of its page with the audio as a
local file; the cached transcription is then reused by every method, so a rerun or a tuning
change costs seconds. Per talk and on average: boundary precision, recall and F1 within 15 s
and 30 s (``evalkit.boundaries``; the talk's start is no boundary) of

- ``proposed``: ``propose.choose_boundaries`` with every feature (the shipped method);
- ``turns``: the same with each word given its speaker from the truth (what a perfect
  diarizer, ``--speakers``, would add);
- ``topic``, ``cues``, ``pauses``: the same choice from one feature alone (``pauses`` is the
  "pauses alone" baseline);
- ``sections``: today's ~10-minute sections (``align.align`` with no chapters);
- ``even``: evenly spaced boundaries, as many as the human chapters (an oracle count).

Also: questions of a Q&A found (a proposed boundary within 15 s), proposed titles beside the
human ones for ``--titles N`` talks, and headings without a word (must be 0).

``--tune`` searches the weights and thresholds instead (``TUNE_GRID``) on the same cached words:
the best mean F1@15 on all the talks, and, tuned on every other talk and scored on the rest (and
the other way round), the held-out F1@15 that says how much of it is fitted to these talks.

    .venv/bin/python scripts/evaluate_chapters.py [--only NAME ...] [--work DIR] [--titles 3] [--out FILE]
    .venv/bin/python scripts/evaluate_chapters.py --tune [--talks DIR ...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import evalkit
from evalkit.boundaries import found_within, matched, score_boundaries
from evalkit.truth import Truth, load_truth

REPO = evalkit.REPO
METHODS = ("proposed", "turns", "topic", "cues", "pauses", "sections", "even")
# --tune: threshold_sd, pause weight, topic weight, window_words (min_seconds stays 30)
TUNE_GRID = {"threshold_sd": (0.5, 1.0, 1.5), "pauses": (0.5, 1.0, 1.5), "topic": (0.5, 1.0), "window": (40, 60, 100)}
TOLERANCES = (15.0, 30.0)
_QA_TITLE = re.compile(r"\bq ?& ?a\b|\bquestions?\b", re.IGNORECASE)


def transcription_for(truth: Truth, work: Path, model: str):
    """The talk's transcription, from the pipeline's cache (running the pipeline once if needed)."""
    from pipeline.schema import Transcription

    folder = work / truth.name
    cache = folder / "cache"
    cached = sorted((cache / "transcripts").glob("*/*.json"), key=lambda p: p.stat().st_mtime)
    if not cached:
        media = folder / "media"
        media.mkdir(parents=True, exist_ok=True)
        assert truth.audio_path is not None
        shutil.copy(truth.audio_path, media / truth.audio)
        page = folder / "page.md"
        text = (truth.folder / "page.md").read_text(encoding="utf-8")  # type: ignore[operator]
        page.write_text(text.replace(evalkit.VIDEO_PLACEHOLDER, f"media/{truth.audio}"), encoding="utf-8")
        command = [sys.executable, "-m", "pipeline", "run", str(page), "--cache-dir", str(cache)]
        command += ["--model", model, "--no-context", "--force", "--quiet"]
        subprocess.run(command, check=True)
        cached = sorted((cache / "transcripts").glob("*/*.json"), key=lambda p: p.stat().st_mtime)
    return Transcription.from_json(json.loads(cached[-1].read_text(encoding="utf-8")))


def method_starts(method: str, transcription, truth: Truth, config) -> list[float]:
    from pipeline import align, propose

    if method == "sections":
        return [c.audio_start for c in align.align(transcription, [], config.align).chapters]
    if method == "even":
        n = len(truth.chapters)
        return [truth.duration * k / n for k in range(n)]
    words = true_speakers(transcription.words, truth) if method == "turns" else transcription.words
    items = propose.sentences(words)
    duration = max(transcription.audio_duration, truth.duration)
    use = propose.FEATURES if method in ("proposed", "turns") else (method, "speakers")
    return [items[i].start for i in propose.choose_boundaries(items, duration, config.chapters, use=use)]


def true_speakers(words: list, truth: Truth) -> list:
    """The words, each with the speaker of the utterance its middle falls in (0, 1, ... by first turn)."""
    import bisect
    import dataclasses

    order: dict[str, int] = {}
    starts = [u.start for u in truth.utterances]
    out = []
    for word in words:
        k = bisect.bisect_right(starts, (word.start + word.end) / 2) - 1
        speaker = truth.utterances[max(k, 0)].speaker
        out.append(dataclasses.replace(word, speaker=order.setdefault(speaker, len(order))))
    return out


def qa_questions(truth: Truth) -> list[float]:
    """Where each question of the talk's Q&A starts: chapters titled "Q&A - ...", else the
    turns of a Q&A chapter that end in a question."""
    titled = [c.start for c in truth.chapters if c.title.lower().startswith("q&a -")]
    if titled:
        return titled
    found = []
    for k, chapter in enumerate(truth.chapters):
        if not _QA_TITLE.search(chapter.title):
            continue
        turns = [u for u in truth.utterances if u.chapter == k]
        for prev, u in zip([None, *turns], turns, strict=False):
            opens_turn = prev is None or prev.speaker != u.speaker
            if opens_turn and u.text.rstrip().endswith("?"):
                found.append(u.start)
    return found


def score_talk(truth: Truth, transcription, config) -> dict:
    from pipeline import propose

    human = [c.start for c in truth.chapters]
    row: dict = {"talk": truth.name, "minutes": round(truth.duration / 60, 1), "human": len(human) - 1}
    for method in METHODS:
        starts = method_starts(method, transcription, truth, config)
        scores = {f"f1@{t:g}": score_boundaries(starts, human, t) for t in TOLERANCES}
        row[method] = {key: round(s.f1, 3) for key, s in scores.items()}
        row[method].update({"p@15": round(scores["f1@15"].precision, 3), "r@15": round(scores["f1@15"].recall, 3)})
        row[method]["count"] = scores["f1@15"].proposed
    chapters = propose.propose_chapters(transcription, config.chapters)
    questions = qa_questions(truth)
    row["qa"] = {"questions": len(questions), "found": found_within(questions, [c.start for c in chapters], 15.0)}
    row["untitled"] = sum(not re.search(r"[A-Za-z]{2}", c.title) for c in chapters)
    row["title_words"] = shared_title_words(chapters, truth, transcription)
    row["titles"] = {
        "proposed": [(round(c.start, 1), c.title) for c in chapters],
        "human": [(round(c.start, 1), c.title) for c in truth.chapters],
    }
    return row


def tuned_f1(talks: list[tuple[Truth, object]], config, setting: tuple) -> float:
    """Mean F1@15 of the proposed boundaries under one grid ``setting``."""
    from pipeline import propose

    sd, pauses, topic, window = setting
    options = config.replace("chapters", threshold_sd=sd, window_words=window).chapters
    weights = {**propose.WEIGHTS, "pauses": pauses, "topic": topic}
    f1 = []
    for truth, transcription in talks:
        items = propose.sentences(transcription.words)  # type: ignore[attr-defined]
        chosen = propose.choose_boundaries(items, truth.duration, options, weights=weights)
        f1.append(score_boundaries([items[i].start for i in chosen], [c.start for c in truth.chapters], 15.0).f1)
    return statistics.fmean(f1)


def tune(talks: list[tuple[Truth, object]], config) -> None:
    grid = list(itertools.product(*TUNE_GRID.values()))
    names = " / ".join(TUNE_GRID)
    best = max(grid, key=lambda g: tuned_f1(talks, config, g))
    print(f"all {len(talks)} talks: best ({names}) = {best}: F1@15 {tuned_f1(talks, config, best):.3f}")
    halves = [talks[0::2], talks[1::2]]
    for k in (0, 1):
        chosen = max(grid, key=lambda g: tuned_f1(halves[k], config, g))
        fitted, held = tuned_f1(halves[k], config, chosen), tuned_f1(halves[1 - k], config, chosen)
        print(f"tuned on {', '.join(t.name for t, _ in halves[k])}: {chosen}, F1@15 {fitted:.3f}")
        print(f"  held out ({', '.join(t.name for t, _ in halves[1 - k])}): F1@15 {held:.3f}")


def shared_title_words(chapters, truth: Truth, transcription) -> dict:
    """Of the proposed chapters within 15 s of a human one (the talk's start included), how many
    share a content word (stemmed) with its human title: a rough check that the title names the part;
    beside it, the same for a baseline title, the chapter's first three content words."""
    from pipeline.propose_titles import content_tokens

    pairs = matched([c.start for c in chapters], [c.start for c in truth.chapters], 15.0)
    titles = {c.start: c.title for c in chapters}
    human = {c.start: set(content_tokens(c.title)) for c in truth.chapters}
    starts = [c.start for c in chapters] + [math.inf]
    words = transcription.words
    first = {
        a: content_tokens(" ".join(w.text for w in words if a <= w.start < b))[:3]
        for a, b in zip(starts, starts[1:], strict=False)
    }
    return {
        "matched": len(pairs),
        "shared": sum(bool(set(content_tokens(titles[p])) & human[t]) for p, t in pairs),
        "first_words": sum(bool(set(first[p]) & human[t]) for p, t in pairs),
    }


def print_table(rows: list[dict]) -> None:
    head = "| talk | min | human | " + " | ".join(f"{m} F1@15/30 (n)" for m in METHODS) + " | Q&A found |"
    print(head)
    print("| --- " * (3 + len(METHODS) + 1) + "|")
    for row in rows:
        cells = [f"{row[m]['f1@15']:.2f} / {row[m]['f1@30']:.2f} ({row[m]['count']})" for m in METHODS]
        qa = f"{row['qa']['found']}/{row['qa']['questions']}" if row["qa"]["questions"] else "-"
        print(f"| {row['talk']} | {row['minutes']} | {row['human']} | " + " | ".join(cells) + f" | {qa} |")
    means = [
        f"{statistics.fmean(r[m]['f1@15'] for r in rows):.2f} / {statistics.fmean(r[m]['f1@30'] for r in rows):.2f}"
        for m in METHODS
    ]
    print("| **mean** | | | " + " | ".join(means) + " | |")
    shared = sum(r["title_words"]["shared"] for r in rows)
    pairs = sum(r["title_words"]["matched"] for r in rows)
    first = sum(r["title_words"]["first_words"] for r in rows)
    print(f"titles sharing a content word with the human title they match: {shared}/{pairs}", end="")
    print(f" (a chapter's first three content words: {first}/{pairs})")
    print(f"headings without a word: {sum(r['untitled'] for r in rows)}")


def print_titles(rows: list[dict], count: int) -> None:
    for row in rows[:count]:
        print(f"\n{row['talk']}:")
        human, proposed = row["titles"]["human"], row["titles"]["proposed"]
        for i in range(max(len(human), len(proposed))):
            left = f"{human[i][0]:7.1f} {human[i][1]}" if i < len(human) else ""
            right = f"{proposed[i][0]:7.1f} {proposed[i][1]}" if i < len(proposed) else ""
            print(f"  {left[:60]:60s} | {right}")


def main(argv: list[str] | None = None) -> int:
    from pipeline.config import load_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--talks", type=Path, nargs="+", default=[evalkit.EVAL_TALKS])
    parser.add_argument("--only", nargs="*", help="talk names (default: every talk built)")
    parser.add_argument("--work", type=Path, default=REPO / "eval" / "chapters", help="pages and caches per talk")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--config", help="a TOML overlay, e.g. to try other [chapters] settings")
    parser.add_argument("--titles", type=int, default=3, help="show proposed beside human titles for N talks")
    parser.add_argument("--out", type=Path, help="write the rows as JSON")
    parser.add_argument("--tune", action="store_true", help="search the weights instead (see TUNE_GRID)")
    args = parser.parse_args(argv)

    config = load_config(args.config)
    folders = sorted(p.parent for talks in args.talks for p in talks.glob("*/truth.json"))
    if args.only:
        folders = [f for f in folders if f.name in args.only]
    if not folders:
        print(f"no talks under {args.talks}: build them with scripts/make_eval_set.py", file=sys.stderr)
        return 2
    talks = [(truth, transcription_for(truth, args.work, args.model)) for truth in map(load_truth, folders)]
    if args.tune:
        tune(talks, config)
        return 0
    rows = [score_talk(truth, transcription, config) for truth, transcription in talks]
    print_table(rows)
    print_titles(rows, args.titles)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
