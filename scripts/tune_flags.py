"""Tune the [?] flags on transcriptions already made: precision, recall and coverage per rule set.

Reads the pipeline runs that scripts/bench.py left (``eval/bench-work/TALK/pipeline/``: the page and
its cache, whose transcription holds the model's own words and segment scores), flags each with
the [flags] settings of the configuration and of every candidate in a small grid, and scores them
against the talk's truth (evalkit.flagscore): the share of flagged words that are wrong (precision),
of the errors found in or beside a flag (recall) and of the words flagged (coverage). No model
runs: the flags are a function of the cached segments.

A volunteer who checks only the flagged passages should find at least a third of the errors while
checking under a tenth of the words: among the candidates that do so on the talks together, the
one with the highest recall is printed as the choice (else the best recall under the coverage cap).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from pathlib import Path

import evalkit
from evalkit.flagscore import FlagScore, TimedWord, flagged_words, score_flags

REPO = evalkit.REPO
TALKS = REPO / "eval" / "talks"
WORK = REPO / "eval" / "bench-work"
MIN_RECALL = 1 / 3
MAX_COVERAGE = 0.10
GRID = {
    "logprob_threshold": [-1.0, -0.8, -0.6, -0.5],
    "word_probability_threshold": [0.4, 0.5, 0.6, 0.7, 0.8],
    "low_word_run": [2, 3, 4],
}


def talk_words(work_dir: Path) -> tuple[list, list[TimedWord]]:
    transcription = evalkit.cached_transcription(work_dir)
    words = [TimedWord(w.text, w.start, w.end) for s in transcription.segments for w in s.words]
    return transcription.segments, words


def score(runs: list[tuple[str, list, list[TimedWord]]], truths: dict, options) -> dict[str, FlagScore]:
    from pipeline.flags import flag_segments

    out = {}
    for name, segments, words in runs:
        spans = [(f.start, f.end) for f in flag_segments(segments, options)]
        out[name] = score_flags(truths[name].reference_text, flagged_words(words, spans))
    return out


def total(scores: dict[str, FlagScore]) -> FlagScore:
    return sum(scores.values(), FlagScore(0, 0, 0, 0, 0))


def line(label: str, s: FlagScore) -> str:
    def pct(x):
        return "    -" if x is None else f"{100 * x:5.1f}"

    return (
        f"{label:34} P {pct(s.precision)}%  R {pct(s.recall)}%  cov {pct(s.coverage)}%  ({s.found}/{s.errors} errors)"
    )


def meets(s: FlagScore) -> bool:
    """The target: at least a third of the errors found, under a tenth of the words checked."""
    return (s.recall or 0) >= MIN_RECALL and (s.coverage or 0) < MAX_COVERAGE


def choose(candidates: list[tuple[dict, dict[str, FlagScore]]]) -> tuple[dict, dict[str, FlagScore]]:
    """The most talks meeting the target; then, under a tenth of all words flagged, the highest recall."""

    def key(c: tuple[dict, dict[str, FlagScore]]) -> tuple:
        t = total(c[1])
        return (sum(map(meets, c[1].values())), (t.coverage or 0) < MAX_COVERAGE, t.recall or 0, t.precision or 0)

    return max(candidates, key=key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0], epilog=(__doc__ or "").split("\n\n", 1)[1]
    )
    parser.add_argument("--work-dir", type=Path, default=WORK, help="bench.py's --work-dir (default: eval/bench-work)")
    parser.add_argument(
        "--talks", type=Path, default=TALKS, help="where the talks' truth.json are (default: eval/talks)"
    )
    parser.add_argument("--run", default="pipeline", help="which configuration's runs (default: pipeline)")
    parser.add_argument("--config", help="a TOML overlay whose [flags] are the 'before'")
    args = parser.parse_args(argv)
    from pipeline.config import load_config

    base = load_config(args.config).flags
    runs, truths = [], {}
    for work_dir in sorted(args.work_dir.glob(f"*/{args.run}")):
        name = work_dir.parent.name
        if not (args.talks / name / "truth.json").is_file():
            continue
        try:
            segments, words = talk_words(work_dir)
        except ValueError as e:  # a run that failed or is still going
            print(f"skipped: {e}", file=sys.stderr)
            continue
        truths[name] = evalkit.load_truth(args.talks / name)
        runs.append((name, segments, words))
    if not runs:
        print(f"tune_flags: no runs in {args.work_dir}/*/{args.run} (run scripts/bench.py first)", file=sys.stderr)
        return 2
    before = score(runs, truths, base)
    candidates = []
    for values in itertools.product(*GRID.values()):
        change = dict(zip(GRID, values, strict=True))
        candidates.append((change, score(runs, truths, dataclasses.replace(base, **change))))
    change, after = choose(candidates)
    print(f"before: the configuration's [flags]; after: {change}")
    for name in before:
        print(line(f"{name} before", before[name]))
        print(line(f"{name} after", after[name]))
    print(line("ALL before", total(before)))
    print(line("ALL after", total(after)))
    print(
        f"talks meeting the target (recall >= 1/3, coverage < 10%): before {sum(map(meets, before.values()))}, "
        f"after {sum(map(meets, after.values()))} of {len(after)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
