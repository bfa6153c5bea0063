"""Time the pipeline against bare faster-whisper on the same audio, in one run.

Configurations, each in a fresh process (so each has its own peak memory: the
kernel's ru_maxrss of that process, see evalkit.run_measured):

- ``bare-sequential``: ``WhisperModel.transcribe``
- ``bare-batched``: ``BatchedInferencePipeline.transcribe`` (batch size from the config or --batch-size)
- ``pipeline``: ``python -m pipeline run`` on the talk's page, its audio served
  over loopback (evalkit/mediaserver.py), from an empty cache: download, prepare,
  transcribe, align and write all included

Bare runs use the pipeline's model, device, compute type, threads, language and
beam size, with word timestamps and VAD on, and read the same audio file. Every
wall time is the whole process (interpreter start and model load included);
the pipeline's stages come from its --report. Real-time factor (RTF) is wall
time / audio length; speed is its inverse (30x = 30 times real time).

The pipeline's total is given as a ratio to the fastest bare configuration
whose WER is within --wer-tolerance of the pipeline's ("equal WER"), and to
bare-batched. Memory is the peak resident set of each process; the stages share
the pipeline's process, so they share its one peak.

Default talk: eval/talks/contributing-8min (held out, 8 minutes; build it with
scripts/make_eval_set.py), else the committed tests/fixtures/talks/five-chapters.
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

REPO = evalkit.REPO

HELD_OUT = evalkit.EVAL_TALKS / "contributing-8min"
FALLBACK = evalkit.FIXTURE_TALKS / "five-chapters"
STAGES = ("download", "prepare", "transcribe", "align", "write")
CONFIGS = ("bare-sequential", "bare-batched", "pipeline")


@dataclass
class Measurement:
    config: str
    wall: float
    peak_rss_mb: float
    wer: float | None
    stages: dict[str, float] = field(default_factory=dict)  # the pipeline's, from its report
    inner: dict[str, float] = field(default_factory=dict)  # a bare run's model load and transcription
    error: str | None = None


def worker(config: str, audio: Path, settings: evalkit.BareSettings) -> None:
    """Run one bare configuration in this (fresh) process and print its result as JSON."""
    start = time.perf_counter()
    model = evalkit.load_bare_model(settings)
    loaded = time.perf_counter()
    text = evalkit.bare_transcribe(model, audio, settings)
    done = time.perf_counter()
    print(json.dumps({"load": loaded - start, "transcribe": done - loaded, "text": text}))


def run_bare(config: str, talk: Path, settings: evalkit.BareSettings, truth: evalkit.Truth | None) -> Measurement:
    batch = settings.batch_size if config == "bare-batched" else 1
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        config,
        "--talk",
        str(talk),
        "--model",
        settings.model,
        "--device",
        settings.device,
        "--compute-type",
        settings.compute_type,
        "--cpu-threads",
        str(settings.cpu_threads),
        "--beam-size",
        str(settings.beam_size),
        "--batch-size",
        str(batch),
        "--language",
        settings.language,
    ]
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        run = evalkit.run_measured(cmd, cwd=REPO, stdout=out_file, stderr=err_file)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    if run.returncode:
        return Measurement(config, run.wall, run.peak_rss_mb, None, error=(err.strip().splitlines() or ["?"])[-1])
    result = json.loads(out.strip().splitlines()[-1])
    wer = evalkit.word_error_rate(truth.reference_text, result["text"]).wer if truth else None
    return Measurement(
        config,
        run.wall,
        run.peak_rss_mb,
        wer,
        inner={"load": round(result["load"], 2), "transcribe": round(result["transcribe"], 2)},
    )


def run_pipeline(talk: Path, args, truth: evalkit.Truth | None) -> Measurement:
    pipeline_args = [
        "--model",
        args.model,
        "--device",
        args.device,
        "--beam-size",
        str(args.beam_size),
        "--batch-size",
        str(args.batch_size),
    ]
    if args.config:
        pipeline_args += ["--config", args.config]
    if args.compute_type:
        pipeline_args += ["--compute-type", args.compute_type]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        run = evalkit.run_pipeline(talk, Path(tmp) / "work", pipeline_args)
    page = run.page_report
    error = (
        page.get("error")
        or page.get("reason")
        or (None if run.returncode == 0 and run.draft else (run.stderr_tail.strip().splitlines() or ["no draft"])[-1])
    )
    wer = None
    if truth and run.draft:
        wer = evalkit.score_draft(truth, run.draft).wer.wer
    return Measurement("pipeline", run.wall, run.peak_rss_mb, wer, stages=page.get("timings", {}), error=error)


def compare(measurements: list[Measurement], tolerance: float) -> dict:
    pipeline = next((m for m in measurements if m.config == "pipeline" and not m.error), None)
    bare = [m for m in measurements if m.config.startswith("bare") and not m.error]
    if not pipeline or not bare:
        return {}
    if pipeline.wer is not None:
        equal = [m for m in bare if m.wer is not None and abs(m.wer - pipeline.wer) <= tolerance]
    else:
        equal = bare
    reference = min(equal or bare, key=lambda m: m.wall)
    batched = next((m for m in bare if m.config == "bare-batched"), None)
    return {
        "fastest_bare_with_equal_wer": reference.config if equal else None,
        "ratio_to_fastest_equal": round(pipeline.wall / reference.wall, 3) if equal else None,
        "ratio_to_bare_batched": round(pipeline.wall / batched.wall, 3) if batched else None,
        "wer_loss_vs_best_bare": None
        if pipeline.wer is None
        else round(pipeline.wer - min(m.wer for m in bare if m.wer is not None), 4),
    }


def print_table(measurements: list[Measurement], audio_seconds: float, summary: dict, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("configuration", "wall s", "RTF", "speed", "peak MB", "WER", "note"):
        table.add_column(col, justify="left" if col in ("configuration", "note") else "right")

    def row(name, wall, peak, wer, note="", style=None):
        table.add_row(
            name,
            f"{wall:.2f}",
            f"{wall / audio_seconds:.4f}",
            f"{audio_seconds / wall:.1f}x" if wall else "-",
            "" if peak is None else f"{peak:.0f}",
            "" if wer is None else f"{100 * wer:.2f}%",
            note,
            style=style,
        )

    for m in measurements:
        note = m.error or ", ".join(f"{k} {v:.1f}s" for k, v in m.inner.items())
        row(m.config, m.wall, m.peak_rss_mb, m.wer, note, style="bold")
        if m.config == "pipeline" and m.stages:
            for stage in STAGES:
                if stage in m.stages:
                    row(f"  {stage}", m.stages[stage], None, None)
            rest = m.wall - sum(m.stages.values())
            row("  start-up, model load, other", rest, None, None)
    Console(width=120).print(table)
    if summary:
        fastest, ratio = summary["fastest_bare_with_equal_wer"], summary["ratio_to_fastest_equal"]
        print(f"pipeline / fastest bare with equal WER ({fastest}): {ratio}")
        batched, loss = summary["ratio_to_bare_batched"], summary["wer_loss_vs_best_bare"]
        print(f"pipeline / bare-batched: {batched}; WER loss vs best bare: {loss}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--talk", type=Path, help="talk folder (page.md, audio.ogg, truth.json); default: the held-out 8-minute talk"
    )
    parser.add_argument(
        "--config",
        help="a TOML overlay of configs/default.toml; its model and decoding settings are used for every configuration",
    )
    parser.add_argument("--model", help="model name or CTranslate2 folder (default: the config's, tiny.en)")
    parser.add_argument("--device", help="auto, cpu or cuda (default: the config's)")
    parser.add_argument("--compute-type", help="e.g. int8, float16 (default: the config's, auto)")
    parser.add_argument("--cpu-threads", type=int, help="CPU threads, 0 = one per core (default: the config's)")
    parser.add_argument("--beam-size", type=int, help="beam size (default: the config's)")
    parser.add_argument(
        "--batch-size", type=int, help="batch size of bare-batched and the pipeline (default: the config's)"
    )
    parser.add_argument("--language", help=argparse.SUPPRESS)
    parser.add_argument(
        "--configs",
        nargs="+",
        choices=CONFIGS,
        default=list(CONFIGS),
        help="which configurations to run (default: all)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each configuration N times and keep the fastest (default: 1)"
    )
    parser.add_argument(
        "--wer-tolerance",
        type=float,
        default=0.01,
        help="WER difference that still counts as equal (default: 0.01 = 1 point)",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "eval" / "bench.json", help="JSON results (default: eval/bench.json)"
    )
    parser.add_argument("--worker", choices=CONFIGS[:2], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from pipeline.config import load_config

    config = load_config(args.config)
    config = config.replace(
        "model", name=args.model, device=args.device, compute_type=args.compute_type, cpu_threads=args.cpu_threads
    )
    config = config.replace("transcribe", batch_size=args.batch_size, beam_size=args.beam_size, language=args.language)
    settings = evalkit.BareSettings.from_config(config)
    talk = args.talk or (HELD_OUT if (HELD_OUT / "truth.json").is_file() else FALLBACK)
    if args.worker:
        worker(args.worker, talk / "audio.ogg", settings)
        return 0
    if not (talk / "audio.ogg").is_file() or not (talk / "truth.json").is_file():
        parser.error(f"{talk}: not a talk folder made by scripts/make_eval_set.py (page.md, audio.ogg, truth.json)")
    if args.talk is None and talk == FALLBACK:
        print(f"note: {HELD_OUT.relative_to(REPO)} is not built; timing the committed test talk", file=sys.stderr)
    truth = evalkit.load_truth(talk)
    audio_seconds = truth.duration
    args.model, args.device, args.beam_size, args.batch_size = (
        settings.model,
        settings.device,
        settings.beam_size,
        settings.batch_size,
    )

    measurements: list[Measurement] = []
    for name in args.configs:
        runs = []
        for _ in range(max(1, args.repeat)):
            print(f"{name} ...", file=sys.stderr, flush=True)
            runs.append(
                run_pipeline(talk, args, truth) if name == "pipeline" else run_bare(name, talk, settings, truth)
            )
        measurements.append(min(runs, key=lambda m: (m.error is not None, m.wall)))
    summary = compare(measurements, args.wer_tolerance)
    title = (
        f"{talk.name}: {audio_seconds / 60:.1f} min, model {settings.model}, device {settings.device}, "
        f"beam {settings.beam_size}, batch {settings.batch_size}, {os.cpu_count()} CPUs"
    )
    print_table(measurements, audio_seconds, summary, title)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from pipeline.utils import atomic_write_text

    atomic_write_text(
        args.out,
        json.dumps(
            {
                "talk": str(talk),
                "audio_seconds": audio_seconds,
                "settings": asdict(settings),
                "cpus": os.cpu_count(),
                "measurements": [asdict(m) for m in measurements],
                "summary": summary,
            },
            indent=2,
        )
        + "\n",
    )
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(m.error is None for m in measurements) else 1


if __name__ == "__main__":
    sys.exit(main())
