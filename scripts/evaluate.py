"""Run the pipeline on the evaluation set and score its drafts against the truth.

For each talk (a folder with page.md, audio.ogg and truth.json, made by
scripts/make_eval_set.py) the page is copied to a work folder, its audio is
served over loopback (scripts/evalkit/mediaserver.py), and ``python -m pipeline run``
writes the draft from an empty cache. Then, per talk and in total:

- WER of the draft, and of bare faster-whisper (same model, language, beam
  size and batch size; word timestamps and VAD on) on the same audio file
- share of the draft's words in their true chapter, chapter boundary error (s)
- paragraph length distribution (words)
- words invented over music, noise or silence (draft and bare)
- names and project terms spelled exactly right (glossary terms, speakers);
  with --without-glossary also for the same run's words before the glossary's
  spelling fixes (the cached model words, aligned and rendered again)

How each figure is computed is written at the top of scripts/evalkit/metrics.py
(Whisper's English normaliser, edit-distance alignment to the reference).
Prints a table and writes JSON (--out).

Without a built set (eval/talks), only the committed test talk
tests/fixtures/talks/five-chapters is scored; build the set with
``.venv/bin/python scripts/make_eval_set.py`` (see its --help for what it needs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import evalkit

REPO = evalkit.REPO


def pipeline_args(args) -> list[str]:
    out = []
    for flag, value in (
        ("--config", args.config),
        ("--model", args.model),
        ("--device", args.device),
        ("--batch-size", args.batch_size),
        ("--beam-size", args.beam_size),
        ("--glossary", args.glossary),
    ):
        if value is not None:
            out += [flag, str(value)]
    if args.no_context:
        out.append("--no-context")
    return out


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def evaluate_talk(talk: Path, args, bare_model, bare_settings, config, glossary_terms) -> dict:
    truth = evalkit.load_truth(talk)
    terms = evalkit.talk_terms(truth, evalkit.page_speakers(talk), glossary_terms)
    result: dict = {"talk": truth.name, "audio_seconds": round(truth.duration, 1)}
    if not args.no_pipeline:
        work_dir = args.work_dir / truth.name
        run = evalkit.run_pipeline(talk, work_dir, pipeline_args(args))
        page = run.page_report
        result["pipeline"] = {
            "status": page.get("status", "failed" if run.returncode else "?"),
            "error": page.get("error")
            or page.get("reason")
            or (last_line(run.stderr_tail) if run.returncode else None),
            "warnings": page.get("warnings", []),
            "wall_seconds": round(run.wall, 2),
            "speed_x": round(truth.duration / run.wall, 1),
            "peak_rss_mb": round(run.peak_rss_mb),
            "timings": page.get("timings", {}),
        }
        if run.draft:
            result["draft"] = evalkit.score_draft(truth, run.draft, terms=terms).to_json()
            if args.without_glossary:
                before = evalkit.draft_without_glossary(work_dir, config)
                result["draft_without_glossary"] = evalkit.score_draft(truth, before, terms=terms).to_json()
    if bare_model is not None:
        start = time.perf_counter()
        text = evalkit.bare_transcribe(bare_model, truth.audio_path, bare_settings)
        wall = time.perf_counter() - start
        wer = evalkit.word_error_rate(truth.reference_text, text)
        bare_terms = evalkit.score_terms(truth.reference_text, text, terms)
        result["bare"] = {
            "terms": bare_terms.to_json(),
            "wer": round(wer.wer, 4),
            "reference_words": wer.reference_words,
            "substitutions": wer.substitutions,
            "deletions": wer.deletions,
            "insertions": wer.insertions,
            "invented_in_non_speech": evalkit.invented_in_non_speech(truth, text),
            "transcribe_seconds": round(wall, 2),
        }
    return result


@dataclass
class WerTotal:
    wer: float
    reference_words: int
    talks: int


@dataclass
class TermsTotal:
    right: int
    occurrences: int
    share: float | None


@dataclass
class BoundaryTotal:
    """Chapter boundary errors in seconds, over every boundary the drafts placed."""

    mean: float
    median: float
    max: float
    over_4s: int
    boundaries: int
    missing: int  # true chapters with no draft heading


@dataclass
class Totals:
    talks: int
    audio_minutes: float
    draft_wer: WerTotal | None
    bare_wer: WerTotal | None
    draft_terms: TermsTotal | None
    bare_terms: TermsTotal | None
    invented_draft: int  # words over music, noise or silence
    invented_bare: int
    draft_without_glossary_wer: WerTotal | None = None
    draft_without_glossary_terms: TermsTotal | None = None
    words_in_true_chapter: float | None = None  # weighted by the talks' reference words
    false_no_speech_chapters: int | None = None
    boundary_error: BoundaryTotal | None = None
    paragraphs: dict | None = None  # evalkit.ParagraphStats.to_json()
    pipeline_wall_seconds: float | None = None
    failed: list[str] = field(default_factory=list)


def wer_total(results: list[dict], key: str) -> WerTotal | None:
    parts = [r[key] for r in results if key in r]
    if not parts:
        return None
    total = evalkit.total_wer(
        [
            evalkit.WerResult(p["wer"], p["reference_words"], p["substitutions"], p["deletions"], p["insertions"])
            for p in parts
        ]
    )
    return WerTotal(round(total.wer, 4), total.reference_words, len(parts))


def terms_total(results: list[dict], key: str) -> TermsTotal | None:
    parts = [r[key]["terms"] for r in results if r.get(key, {}).get("terms")]
    if not parts:
        return None
    right, occurrences = sum(p["right"] for p in parts), sum(p["occurrences"] for p in parts)
    return TermsTotal(right, occurrences, round(right / occurrences, 4) if occurrences else None)


def boundary_total(chaptered: list[dict]) -> BoundaryTotal | None:
    errors = [e for d in chaptered for e in d["boundary_errors"] if e is not None]
    if not errors:
        return None
    return BoundaryTotal(
        mean=round(statistics.fmean(errors), 2),
        median=round(statistics.median(errors), 2),
        max=round(max(errors), 2),
        over_4s=sum(e > 4 for e in errors),
        boundaries=len(errors),
        missing=sum(e is None for d in chaptered for e in d["boundary_errors"]),
    )


def totals(results: list[dict]) -> Totals:
    drafts = [r["draft"] for r in results if "draft" in r]
    out = Totals(
        talks=len(results),
        audio_minutes=round(sum(r["audio_seconds"] for r in results) / 60, 1),
        draft_wer=wer_total(results, "draft"),
        bare_wer=wer_total(results, "bare"),
        draft_terms=terms_total(results, "draft"),
        bare_terms=terms_total(results, "bare"),
        invented_draft=sum(d["invented_in_non_speech"] for d in drafts),
        invented_bare=sum(r["bare"]["invented_in_non_speech"] for r in results if "bare" in r),
        draft_without_glossary_wer=wer_total(results, "draft_without_glossary"),
        draft_without_glossary_terms=terms_total(results, "draft_without_glossary"),
    )
    chaptered = [d for d in drafts if d["words_in_true_chapter"] is not None]
    if chaptered:
        words = sum(d["reference_words"] for d in chaptered)
        share = sum(d["words_in_true_chapter"] * d["reference_words"] for d in chaptered) / words
        out.words_in_true_chapter = round(share, 4)
        out.false_no_speech_chapters = sum(d.get("false_no_speech_chapters") or 0 for d in chaptered)
        out.boundary_error = boundary_total(chaptered)
    lengths = [n for d in drafts for n in d.get("paragraph_lengths", [])]
    if lengths:
        out.paragraphs = evalkit.paragraph_stats(lengths).to_json()
    runs = [r["pipeline"] for r in results if "pipeline" in r]
    if runs:
        out.pipeline_wall_seconds = round(sum(p["wall_seconds"] for p in runs), 1)
        out.failed = [r["talk"] for r in results if r.get("pipeline", {}).get("status") != "done"]
    return out


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def terms_cell(t: dict | TermsTotal | None) -> str:
    if not t:
        return "-"
    return f"{t.right}/{t.occurrences}" if isinstance(t, TermsTotal) else f"{t['right']}/{t['occurrences']}"


def paragraphs_cell(para: dict | None) -> str:
    if not para or not para["count"]:
        return "-"
    return f"{para['p10']:.0f}/{para['median']:.0f}/{para['p90']:.0f}/{para['max']}"


COLUMNS = (
    "talk",
    "min",
    "WER draft",
    "WER bare",
    "terms draft/bare",
    "in chapter",
    "false no-speech chapters",
    "boundary s (mean/max)",
    "paragraphs (p10/med/p90/max)",
    "invented draft/bare",
    "speed",
    "status",
)


def talk_row(r: dict) -> list[str]:
    d, b, p = r.get("draft", {}), r.get("bare", {}), r.get("pipeline", {})
    errors = [e for e in (d.get("boundary_errors") or []) if e is not None]
    return [
        r["talk"],
        f"{r['audio_seconds'] / 60:.1f}",
        pct(d.get("wer")),
        pct(b.get("wer")),
        f"{terms_cell(d.get('terms'))} / {terms_cell(b.get('terms'))}",
        pct(d.get("words_in_true_chapter")),
        "-" if d.get("false_no_speech_chapters") is None else str(d["false_no_speech_chapters"]),
        f"{statistics.fmean(errors):.1f}/{max(errors):.1f}" if errors else "-",
        paragraphs_cell(d.get("paragraphs")),
        f"{d.get('invented_in_non_speech', '-')}/{b.get('invented_in_non_speech', '-')}",
        f"{p['speed_x']}x" if p else "-",
        (p.get("status", "-") + (f": {p['error']}" if p.get("error") else "")) if p else "-",
    ]


def total_row(total: Totals) -> list[str]:
    be = total.boundary_error
    return [
        "TOTAL",
        f"{total.audio_minutes:.1f}",
        pct(total.draft_wer.wer if total.draft_wer else None),
        pct(total.bare_wer.wer if total.bare_wer else None),
        f"{terms_cell(total.draft_terms)} / {terms_cell(total.bare_terms)}",
        pct(total.words_in_true_chapter),
        "-" if total.false_no_speech_chapters is None else str(total.false_no_speech_chapters),
        f"{be.mean:.1f}/{be.max:.1f}" if be else "-",
        paragraphs_cell(total.paragraphs),
        f"{total.invented_draft}/{total.invented_bare}",
        "",
        "",
    ]


def print_table(results: list[dict], total: Totals) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="du-transcripts evaluation")
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in ("talk", "status") else "right")
    for r in results:
        table.add_row(*talk_row(r))
    table.add_row(*total_row(total), style="bold")
    Console(width=220).print(table)
    for name, terms, wer in (
        ("draft", total.draft_terms, total.draft_wer),
        ("draft without glossary", total.draft_without_glossary_terms, total.draft_without_glossary_wer),
        ("bare", total.bare_terms, total.bare_wer),
    ):
        if terms:
            right = f"{terms.right}/{terms.occurrences} = {pct(terms.share)}"
            print(f"names and terms spelled right, {name}: {right}; WER {pct(wer.wer if wer else None)}")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "talks",
        nargs="*",
        type=Path,
        help="talk folders (page.md, audio.ogg, truth.json); "
        "default: every talk in eval/talks and tests/fixtures/talks",
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only the talks with these names")
    parser.add_argument(
        "--config", help="a TOML overlay for the pipeline (passed as run --config); bare uses its settings too"
    )
    parser.add_argument("--model", help="model name or CTranslate2 folder (default: configs/default.toml's)")
    parser.add_argument("--device", help="auto, cpu or cuda (default: the config's)")
    parser.add_argument("--batch-size", type=int, help="batched inference size, 1 = sequential (default: the config's)")
    parser.add_argument("--beam-size", type=int, help="beam size (default: the config's)")
    parser.add_argument("--no-context", action="store_true", help="run the pipeline with --no-context (no page prompt)")
    parser.add_argument("--glossary", help="an extra glossary TOML for the pipeline (passed as run --glossary)")
    parser.add_argument(
        "--without-glossary",
        action="store_true",
        help="also score each run's draft rendered again from its cached model words, without the glossary's fixes",
    )
    parser.add_argument("--no-pipeline", action="store_true", help="score bare faster-whisper only")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare faster-whisper baseline")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=REPO / "eval" / "work",
        help="pages, caches and reports of the runs (default: eval/work)",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "eval" / "results.json", help="JSON results (default: eval/results.json)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)

    talks = args.talks or evalkit.default_talks()
    if not args.talks and not any(evalkit.EVAL_TALKS.glob("*/truth.json")):
        print(
            "note: eval/talks is not built (scripts/make_eval_set.py); scoring the committed test talk only",
            file=sys.stderr,
        )
    if args.only:
        talks = [t for t in talks if t.name in set(args.only)]
    bad = [t for t in talks if not (t / "truth.json").is_file()]
    if bad or not talks:
        parser.error(f"not a talk folder (no truth.json): {', '.join(map(str, bad))}" if bad else "no talks to score")

    from pipeline.config import load_config

    config = load_config(args.config)
    config = config.replace("model", name=args.model, device=args.device)
    config = config.replace("transcribe", batch_size=args.batch_size, beam_size=args.beam_size)
    bare_settings = evalkit.BareSettings.from_config(config)
    bare_model = None if args.no_bare else evalkit.load_bare_model(bare_settings)
    from pipeline.glossary import load_glossary

    glossary_terms = load_glossary(args.glossary or config.run.glossary or None).canonical_forms

    results = []
    for talk in talks:
        print(f"{talk.name} ...", file=sys.stderr, flush=True)
        results.append(evaluate_talk(talk, args, bare_model, bare_settings, config, glossary_terms))
    total = totals(results)
    print_table(results, total)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "settings": {
            "pipeline_args": pipeline_args(args),
            "bare": vars(bare_settings),
            "normalizer": evalkit.NORMALIZER,
        },
        "talks": results,
        "totals": asdict(total),
    }
    from pipeline.utils import atomic_write_text

    atomic_write_text(args.out, json.dumps(data, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main())
