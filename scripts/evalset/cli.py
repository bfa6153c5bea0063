"""The command line of ``scripts/make_eval_set.py``: which talks, where, and under which conditions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.utils import atomic_write_text

import evalset
from evalkit import REPO
from evalkit.truth import Truth, truth_text

from .conditions import CONDITIONS, degrade
from .dense import plan_dense_talk
from .page import write_page
from .plans import PlannedChapter, plan_asterisk_talk, plan_corpus_talk, speak_all
from .recordings import RECORDINGS, build_recording, missing_recordings
from .render import render_talk
from .talks import EVAL_SET, FIXTURE_SPEC, TalkSpec
from .voices import VOICES, Synthesizer, missing_tools

DEFAULT_OUT = REPO / "eval" / "talks"
DEFAULT_CACHE = REPO / "eval" / "cache" / "utterances"
FIXTURE_DIR = REPO / "tests" / "fixtures" / "talks"


def build(spec: TalkSpec, out_dir: Path, synth: Synthesizer, jobs: int, bitrate: str) -> Truth:
    planned: list[PlannedChapter]
    if spec.sources == ["asterisk"]:
        planned = plan_asterisk_talk(spec, synth.cache_dir)
    elif spec.dense:
        planned = plan_dense_talk(spec, synth, jobs)
    else:
        planned = plan_corpus_talk(spec, synth, jobs)
    speak_all(synth, [u for c in planned for u in c.utterances], jobs)
    truth = render_talk(spec, planned, out_dir, bitrate)
    write_page(truth, out_dir / "page.md")
    atomic_write_text(out_dir / "truth.json", truth_text(truth))
    return truth


def summary(truth: Truth, out_dir: Path) -> str:
    words = sum(len(c.text.split()) for c in truth.chapters)
    return (
        f"{truth.name}: {truth.duration / 60:.1f} min, {len(truth.chapters)} chapters, {words} words, "
        f"{len(set(truth.voices.values()))} voices -> {out_dir}"
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="make_eval_set.py",
        description=(evalset.__doc__ or "").split("\n\n")[0],
        epilog="Talks: "
        + "; ".join(f"{s.name} ({s.description})" for s in EVAL_SET)
        + ". Real recordings (--recordings): "
        + "; ".join(f"{n} ({d})" for n, (_, _, d) in RECORDINGS.items())
        + ". Conditions (--condition): "
        + "; ".join(f"{c.name} ({c.description})" for c in CONDITIONS.values())
        + f". --fixture builds {FIXTURE_SPEC.name} into tests/fixtures/talks/.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder for the talks (default: eval/talks, git-ignored)"
    )
    p.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="per-utterance WAV cache (default: eval/cache/utterances)"
    )
    p.add_argument("--only", nargs="+", metavar="NAME", help="build only these talks (default: all)")
    p.add_argument(
        "--fixture",
        action="store_true",
        help=f"build only the committed test talk into {FIXTURE_DIR.relative_to(REPO)}/{FIXTURE_SPEC.name}",
    )
    p.add_argument("--jobs", type=int, default=2, help="voices speaking at once (default: 2)")
    p.add_argument("--bitrate", default="", help="Opus bitrate (default: 16k for the fixture, 32k for the set)")
    p.add_argument(
        "--recordings", action="store_true", help="also (with --only: only the named) real recordings, each a talk"
    )
    p.add_argument(
        "--condition",
        nargs="+",
        default=[],
        choices=sorted(CONDITIONS),
        metavar="NAME",
        help="also write each talk recorded under these conditions, as NAME-CONDITION "
        f"({', '.join(sorted(CONDITIONS))}); a talk already built is reused, not rebuilt",
    )
    p.add_argument("--list", action="store_true", help="list the talks and exit")
    return p


def chosen(args: argparse.Namespace, p: argparse.ArgumentParser) -> tuple[list[TalkSpec], list[str]]:
    """The talk specs and the real recordings the options ask for."""
    if args.fixture:
        return [FIXTURE_SPEC], []
    specs, recordings = EVAL_SET, list(RECORDINGS) if args.recordings else []
    if args.only:
        unknown = set(args.only) - {s.name for s in EVAL_SET} - set(RECORDINGS)
        if unknown:
            p.error(f"unknown talk(s): {', '.join(sorted(unknown))}")
        specs = [s for s in EVAL_SET if s.name in args.only]
        recordings = [n for n in RECORDINGS if n in args.only]
    return specs, recordings


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    specs, recordings = chosen(args, p)
    out_root = FIXTURE_DIR if args.fixture else args.out
    bitrate = args.bitrate or ("16k" if args.fixture else "32k")
    if args.list:
        for s in specs:
            print(f"{s.name:26} {s.minutes:5.1f} min  {s.description}")
        for name in recordings:
            print(f"{name:26}   real  {RECORDINGS[name][2]}")
        return 0
    # A talk already built is reused when only its conditions are asked for.
    to_build = [s for s in specs if not (args.condition and (out_root / s.name / "truth.json").is_file())]
    missing = missing_tools({VOICES[v].engine for s in to_build for v in s.voices.values()})
    missing += missing_recordings(recordings)
    if missing:
        print("make_eval_set: cannot build the talks, missing:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 2
    synth = Synthesizer(args.cache)
    for spec in to_build:
        print(summary(build(spec, out_root / spec.name, synth, args.jobs, bitrate), out_root / spec.name), flush=True)
    for name in recordings:
        print(summary(build_recording(name, out_root / name), out_root / name), flush=True)
    for name in [s.name for s in specs] + recordings:
        for condition in args.condition:
            out_dir = out_root / f"{name}-{condition}"
            print(summary(degrade(out_root / name, CONDITIONS[condition], out_dir), out_dir), flush=True)
    return 0
