"""Bare faster-whisper in its settings beside the pipeline at its defaults, per talk, in one run.

For every talk folder given (made by scripts/make_eval_set.py: page.md, audio.ogg, truth.json;
a recording condition is a talk of its own, ``NAME-zoom``), each configuration runs in a fresh
process (its own peak memory: the kernel's ru_maxrss, see evalkit.run_measured):

- bare ``WhisperModel.transcribe`` (``seq-*``) and ``BatchedInferencePipeline.transcribe``
  (``batch-*``, batch 8 or --batch-size), beam 1 and 5, with Silero VAD (``-vad``) and without (the batched
  pipeline cannot run without VAD or given spans, so it has no such row);
- ``pipeline``: ``python -m pipeline run`` on the talk's page at the configuration's defaults, its
  audio served over loopback, from an empty cache (download, prepare, transcribe, align and write
  all included), and ``pipeline-*`` variants that change one setting through a --config overlay.

Bare runs use the pipeline's model, device, compute type, threads and language, word timestamps
on, and read the same audio file. Every wall time is the whole process (interpreter start and
model load included). Per talk: each configuration's WER, words invented over music, noise or
silence, wall time and peak memory; for the pipeline also the share of words in their true
chapter, chapters claiming no speech over words, and its flags' precision, recall and coverage
(evalkit.flagscore, over the model's own words). The pipeline is compared to the bare setting
with the lowest WER: the WER difference in points and the ratio of wall times.

Default talk: eval/talks/contributing-8min, else the committed tests/fixtures/talks/five-chapters.
On a GPU machine: ``--device cuda --model <larger model name or folder>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import evalkit
from evalkit.flagscore import TimedWord, flagged_words, score_flags

REPO = evalkit.REPO
HELD_OUT = evalkit.EVAL_TALKS / "contributing-8min"
FALLBACK = evalkit.FIXTURE_TALKS / "five-chapters"
# name: (batch size, beam size, VAD)
BARE = {
    "seq-b1-vad": (1, 1, True),
    "seq-b5-vad": (1, 5, True),
    "seq-b1": (1, 1, False),
    "seq-b5": (1, 5, False),
    "batch-b1": (8, 1, True),
    "batch-b5": (8, 5, True),
}
# name: the [transcribe] settings its --config overlay changes
PIPELINE = {
    "pipeline": {},
    "pipeline-b5": {"beam_size": 5},
    "pipeline-seq": {"batch_size": 1},
    "pipeline-seq-b5": {"batch_size": 1, "beam_size": 5},
    "pipeline-no-context": {"use_page_context": False},
    "pipeline-no-repair": {"repair_gaps": 0.0},
    "pipeline-b5-no-context": {"beam_size": 5, "use_page_context": False},
    "pipeline-b5-repair-1s": {"beam_size": 5, "repair_gaps": 1.0},
}
DEFAULT_CONFIGS = [*BARE, "pipeline"]


@dataclass
class Measurement:
    talk: str
    config: str
    wall: float
    peak_rss_mb: float
    wer: float | None
    invented: int | None = None  # words over music, noise or silence
    in_chapter: float | None = None  # the pipeline's words in their true chapter
    false_no_speech: int | None = None
    flags: dict = field(default_factory=dict)  # evalkit.flagscore's FlagScore.to_json()
    terms: dict = field(default_factory=dict)  # the page's names and terms spelled right: right, occurrences
    error: str | None = None


def bare_settings(base: evalkit.BareSettings, config: str) -> evalkit.BareSettings:
    batch, beam, vad = BARE[config]
    batch = base.batch_size if batch > 1 and base.batch_size > 1 else batch  # --batch-size N: batch-* at N
    return evalkit.BareSettings(**{**asdict(base), "batch_size": batch, "beam_size": beam, "vad_filter": vad})


def worker(talk: Path, settings: evalkit.BareSettings) -> None:
    """Run one bare configuration in this (fresh) process and print its text as JSON."""
    start = time.perf_counter()
    model = evalkit.load_bare_model(settings)
    text = evalkit.bare_transcribe(model, talk / "audio.ogg", settings)
    print(json.dumps({"seconds": time.perf_counter() - start, "text": text}))


def run_bare(talk: Path, config: str, base: evalkit.BareSettings, truth: evalkit.Truth) -> Measurement:
    settings = bare_settings(base, config)
    cmd = [sys.executable, __file__, "--worker", json.dumps(asdict(settings)), str(talk)]
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        run = evalkit.run_measured(cmd, cwd=REPO, stdout=out_file, stderr=err_file)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    if run.returncode:
        error = (err.strip().splitlines() or ["?"])[-1]
        return Measurement(truth.name, config, run.wall, run.peak_rss_mb, None, error=error)
    text = json.loads(out.strip().splitlines()[-1])["text"]
    wer = evalkit.word_error_rate(truth.reference_text, text).wer
    invented = evalkit.invented_in_non_speech(truth, text)
    return Measurement(truth.name, config, run.wall, run.peak_rss_mb, wer, invented)


def overlay(path: Path, base_config: str | None, settings: dict) -> list[str]:
    """--config arguments for the pipeline: the base overlay, or a copy of it with ``settings`` added."""
    if not settings:
        return ["--config", base_config] if base_config else []
    text = Path(base_config).read_text(encoding="utf-8") if base_config else ""
    lines = [
        f"{k} = {json.dumps(v)}" if not isinstance(v, bool) else f"{k} = {str(v).lower()}" for k, v in settings.items()
    ]
    if "[transcribe]" in text:
        text = text.replace("[transcribe]", "[transcribe]\n" + "\n".join(lines), 1)
    else:
        text += "\n[transcribe]\n" + "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return ["--config", str(path)]


def flag_score(work_dir: Path, truth: evalkit.Truth, config) -> dict:
    """The pipeline's flags scored over its cached words (config: the run's, for its [flags])."""
    from pipeline.flags import flag_segments

    transcription = evalkit.cached_transcription(work_dir)
    spans = [(f.start, f.end) for f in flag_segments(transcription.segments, config.flags)]
    words = [TimedWord(w.text, w.start, w.end) for s in transcription.segments for w in s.words]
    return score_flags(truth.reference_text, flagged_words(words, spans)).to_json()


def talk_terms(talk: Path, truth: evalkit.Truth, config) -> list[str]:
    """The names and terms whose spelling is scored: the page's speakers, the glossary's terms in the talk."""
    from pipeline.glossary import load_glossary

    glossary = load_glossary(config.run.glossary or None).canonical_forms
    return evalkit.talk_terms(truth, evalkit.page_speakers(talk), glossary)


def run_pipeline(talk: Path, name: str, args, truth: evalkit.Truth, work_root: Path) -> Measurement:
    from pipeline.config import load_config

    work_dir = work_root / truth.name / name
    extra = overlay(work_root / f"{truth.name}-{name}.toml", args.config, PIPELINE[name])
    pipeline_args = [*extra, *args.model_args]
    run = evalkit.run_pipeline(talk, work_dir, pipeline_args)
    page = run.page_report
    error = page.get("error") or page.get("reason")
    if not error and (run.returncode or not run.draft):
        error = (run.stderr_tail.strip().splitlines() or ["no draft"])[-1]
    if error or not run.draft:
        return Measurement(truth.name, name, run.wall, run.peak_rss_mb, None, error=error)
    config = load_config(extra[1] if extra else None)
    score = evalkit.score_draft(truth, run.draft, terms=talk_terms(talk, truth, config))
    return Measurement(
        truth.name,
        name,
        run.wall,
        run.peak_rss_mb,
        score.wer.wer,
        score.invented_in_non_speech,
        None if score.chapters is None else score.chapters.share,
        score.false_no_speech,
        flag_score(work_dir, truth, config),
        {} if score.terms is None else {"right": score.terms.right, "occurrences": score.terms.occurrences},
    )


def compare(measurements: list[Measurement]) -> dict:
    """The pipeline against the bare setting with the lowest WER (ties: the faster)."""
    bare = [m for m in measurements if m.config in BARE and m.wer is not None]
    pipeline = next((m for m in measurements if m.config == "pipeline" and m.wer is not None), None)
    if not bare or not pipeline:
        return {}
    best = min(bare, key=lambda m: (round(m.wer, 4), m.wall))
    return {
        "best_bare": best.config,
        "wer_points_over_best": round(100 * (pipeline.wer - best.wer), 2),  # type: ignore[operator]
        "wall_ratio_to_best": round(pipeline.wall / best.wall, 3),
    }


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def print_talk(talk: str, seconds: float, measurements: list[Measurement], summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{talk}: {seconds / 60:.1f} min")
    columns = ("configuration", "WER", "invented", "wall s", "speed", "peak MB", "in chapter", "no-speech")
    for col in (*columns, "flags P/R/cov", "note"):
        table.add_column(col, justify="left" if col in ("configuration", "note") else "right")
    for m in measurements:
        f = m.flags
        table.add_row(
            m.config,
            pct(m.wer),
            "-" if m.invented is None else str(m.invented),
            f"{m.wall:.1f}",
            f"{seconds / m.wall:.1f}x",
            f"{m.peak_rss_mb:.0f}",
            pct(m.in_chapter),
            "-" if m.false_no_speech is None else str(m.false_no_speech),
            f"{pct(f['precision'])}/{pct(f['recall'])}/{pct(f['coverage'])}" if f else "-",
            m.error or "",
        )
    Console(width=160).print(table)
    if summary:
        print(
            f"{talk}: pipeline - best bare ({summary['best_bare']}) = "
            f"{summary['wer_points_over_best']:+.2f} WER points; wall ratio {summary['wall_ratio_to_best']}"
        )


def markdown(results: list[dict]) -> str:
    """The results as Markdown: a row per configuration, a column per talk (WER, wall s, peak MB), then totals."""
    configs = list(dict.fromkeys(m["config"] for r in results for m in r["measurements"]))
    lines = [
        "| configuration | " + " | ".join(r["talk"] for r in results) + " |",
        "| --- |" + " ---: |" * len(results),
    ]
    for config in configs:
        cells = []
        for r in results:
            m = next((m for m in r["measurements"] if m["config"] == config), None)
            terms = f", terms {m['terms']['right']}/{m['terms']['occurrences']}" if m and m.get("terms") else ""
            cells.append("" if m is None else f"{pct(m['wer'])}, {m['wall']:.1f} s, {m['peak_rss_mb']:.0f} MB{terms}")
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    gaps = [r["summary"] for r in results]
    lines.append(
        "| **pipeline against the best bare** | "
        + " | ".join(
            f"{s['wer_points_over_best']:+.2f} pt, x{s['wall_ratio_to_best']} ({s['best_bare']})" if s else ""
            for s in gaps
        )
        + " |"
    )
    return "\n".join(lines) + "\n\n" + markdown_totals(results)


def reference_words(result: dict) -> int:
    if "reference_words" in result:
        return result["reference_words"]
    truth = evalkit.load_truth(evalkit.EVAL_TALKS / result["talk"])  # results saved before the count was
    return len(evalkit.normalized_words(truth.reference_text))


def markdown_totals(results: list[dict]) -> str:
    """Per configuration over the talks that ran it: WER weighted by reference words, wall time summed."""
    words: dict[str, int] = {}
    errors: dict[str, float] = {}
    wall: dict[str, float] = {}
    for r in results:
        n = reference_words(r)
        for m in r["measurements"]:
            if m["wer"] is None:
                continue
            words[m["config"]] = words.get(m["config"], 0) + n
            errors[m["config"]] = errors.get(m["config"], 0.0) + m["wer"] * n
            wall[m["config"]] = wall.get(m["config"], 0.0) + m["wall"]
    lines = ["| configuration | WER, all talks | reference words | wall s, summed |", "| --- | ---: | ---: | ---: |"]
    for config in words:
        lines.append(f"| {config} | {pct(errors[config] / words[config])} | {words[config]} | {wall[config]:.1f} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog=(__doc__ or "").split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("talks", nargs="*", type=Path, help="talk folders (default: the held-out 8-minute talk)")
    parser.add_argument("--config", help="a TOML overlay of configs/default.toml, for every configuration")
    parser.add_argument("--model", help="model name or CTranslate2 folder (default: the config's, tiny.en)")
    parser.add_argument("--device", help="auto, cpu or cuda (default: the config's)")
    parser.add_argument("--compute-type", help="e.g. int8, float16 (default: the config's, auto)")
    parser.add_argument("--cpu-threads", type=int, help="CPU threads, 0 = one per core (default: the config's)")
    parser.add_argument("--batch-size", type=int, help="batch size of batch-* and the pipeline (default: the config's)")
    choices = [*BARE, *PIPELINE]
    parser.add_argument(
        "--configs",
        nargs="+",
        choices=choices,
        default=DEFAULT_CONFIGS,
        metavar="NAME",
        help=f"configurations to run, in this order (default: {' '.join(DEFAULT_CONFIGS)}; all: {' '.join(choices)})",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=REPO / "eval" / "bench-work", help="the pipeline runs' folders"
    )
    parser.add_argument("--out", type=Path, default=REPO / "eval" / "bench.json", help="JSON results")
    parser.add_argument("--show", type=Path, metavar="JSON", help="print a saved --out file as Markdown and exit")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def bench_talk(talk: Path, args: argparse.Namespace, base: evalkit.BareSettings) -> dict:
    """Every configuration on one talk, its table printed; the talk's results as JSON data."""
    truth = evalkit.load_truth(talk)
    measurements = []
    for name in args.configs:
        print(f"{truth.name}: {name} ...", file=sys.stderr, flush=True)
        if name in BARE:
            measurements.append(run_bare(talk, name, base, truth))
        else:
            measurements.append(run_pipeline(talk, name, args, truth, args.work_dir))
    summary = compare(measurements)
    print_talk(truth.name, truth.duration, measurements, summary)
    return {
        "talk": truth.name,
        "audio_seconds": truth.duration,
        "reference_words": len(evalkit.normalized_words(truth.reference_text)),
        "summary": summary,
        "measurements": [asdict(m) for m in measurements],
    }


def write_results(path: Path, base: evalkit.BareSettings, results: list[dict]) -> None:
    from pipeline.utils import atomic_write_text

    data = {"settings": asdict(base), "cpus": os.cpu_count(), "argv": sys.argv[1:], "talks": results}
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args.talks[0], evalkit.BareSettings(**json.loads(args.worker)))
        return 0
    if args.show:
        print(markdown(json.loads(args.show.read_text(encoding="utf-8"))["talks"]))
        return 0
    from pipeline.config import load_config

    config = load_config(args.config).replace(
        "model", name=args.model, device=args.device, compute_type=args.compute_type, cpu_threads=args.cpu_threads
    )
    base = evalkit.BareSettings.from_config(config.replace("transcribe", batch_size=args.batch_size))
    given = (
        ("--model", args.model),
        ("--device", args.device),
        ("--compute-type", args.compute_type),
        ("--cpu-threads", args.cpu_threads),
        ("--batch-size", args.batch_size),
    )
    args.model_args = [f for flag, v in given if v is not None for f in (flag, str(v))]
    talks = args.talks or [HELD_OUT if (HELD_OUT / "truth.json").is_file() else FALLBACK]
    bad = [str(t) for t in talks if not (t / "audio.ogg").is_file() or not (t / "truth.json").is_file()]
    if bad:
        print(f"bench: not a talk folder made by scripts/make_eval_set.py: {', '.join(bad)}", file=sys.stderr)
        return 2
    results = []
    for talk in talks:
        results.append(bench_talk(talk, args, base))
        write_results(args.out, base, results)  # after every talk: a long run keeps what it measured
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(m["error"] is None for r in results for m in r["measurements"]) else 1


if __name__ == "__main__":
    sys.exit(main())
