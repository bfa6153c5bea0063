"""Show that a batch overlaps downloads with transcription: it takes about
max(total download, total transcription), not their sum.

Builds N talks of real speech (examples/media/intro-to-terminal.ogg and
jfk.flac, concatenated with pauses in a different order for each talk, encoded
as Opus), serves them from evalkit/mediaserver.py on 127.0.0.1 with a throttle,
and measures, each from an empty cache:

1. transcription: ``python -m pipeline run`` over the talks' pages with the
   audio already fetched into its cache (so it only loads the model,
   transcribes, aligns and writes): the model's share of the batch.
   It is measured first, unthrottled, to choose the throttle.
2. download: every talk fetched one after the other as the runner fetches
   them (``pipeline.download.download`` then ``pipeline.audio.prepare``),
   through the throttle. The throttle (unless --throttle is given) makes this
   about as long as (1), the case where overlap matters most.
3. batch: ``python -m pipeline run --downloads-ahead A`` from an empty cache,
   through the throttle: download, prepare, transcribe, align and write, with
   fetching running ahead of the model; once per value of --downloads-ahead.
   The server throttles each connection, so with A >= 2, when two fetches run
   at once, they get twice the bandwidth: A = 1 (one download at a time, beside
   the model) is the fair test of overlap on a link of fixed speed.

Sequential (no overlap) would take (1) + (2); perfect overlap max((1), (2)).
The batch's overlap efficiency is ((1) + (2) - batch) / min((1), (2)): 1.0 means
the shorter of the two was fully hidden, 0 means none of it was. No batch can
beat max((1), (2)) plus the fetch of the first talk (the model has nothing to
do before it arrives).

Other people's work on the same cores slows some runs and not others, so each
batch is also judged against itself: its trace ($DU_TRANSCRIPTS_TRACE) gives
the seconds it spent fetching (download + prepare, union of the spans), the
seconds the model spent (model load and transcription) and the seconds both ran
at once; the same sum/max comparison holds within that one run, under one load.
--rounds N measures everything N times, interleaved, and keeps each figure's
fastest.

Every wall time is a whole process (interpreter start and model load
included) for (1) and (3), and in-process for (2).

Example: .venv/bin/python scripts/bench_batch.py --talks 4 --minutes 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pipeline import audio as audio_stage
from pipeline import download as download_stage
from pipeline.cache import Cache
from pipeline.config import load_config
from pipeline.hooks import TRACE_ENV

from evalkit.harness import REPO
from evalkit.mediaserver import MediaServer

SOURCES = [REPO / "examples" / "media" / "intro-to-terminal.ogg", REPO.parent / "shared" / "audio" / "jfk.flac"]
RATE = 16000

PAGE = """# Jane Doe:  Batch benchmark talk {index}

## Key Links
- Video: {url}

## About the Event
A talk built by scripts/bench_batch.py.

## Transcript
"""


@dataclass
class Batch:
    downloads_ahead: int
    seconds: float  # wall time of the whole run
    pages_done: int
    overlap_efficiency: float  # ((1) + (2) - batch) / min((1), (2))
    # From the batch's own trace, under the one load it ran under:
    fetch_seconds: float  # union of its download and prepare spans
    model_seconds: float  # union of its transcription spans (the model load inside the first)
    concurrent_seconds: float  # fetching and transcribing at once


@dataclass
class Figures:
    talks: int
    audio_seconds: float
    media_bytes: int
    throttle_bytes_per_s: int  # per connection
    download_seconds: float  # (2): fetch (download + prepare) of every talk, one after the other
    transcription_seconds: float  # (1): the batch with every talk already fetched
    sequential_seconds: float  # (1) + (2)
    ideal_seconds: float  # max((1), (2))
    batches: list[Batch]


def decode(path: Path) -> np.ndarray:
    out = subprocess.run(
        [
            audio_stage.ffmpeg_path(),
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-ac",
            "1",
            "-ar",
            str(RATE),
            "-f",
            "s16le",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(out, dtype="<i2")


def build_talks(folder: Path, count: int, minutes: float) -> tuple[list[Path], float]:
    """``count`` talks of real speech, each about ``minutes`` long, each its own mix; and their seconds."""
    clips = [decode(p) for p in SOURCES]
    talks, parts_of_all = [], []
    for index in range(count):
        parts, length, turn = [], 0, index
        while length < minutes * 60 * RATE:
            clip = clips[turn % len(clips)]
            pause = np.zeros(int(RATE * (0.8 + 0.3 * ((turn + index) % 4))), dtype="<i2")
            parts += [clip, pause]
            length += len(clip) + len(pause)
            turn += 1
        parts_of_all += parts
        path = folder / f"talk-{index + 1}.ogg"
        subprocess.run(
            [
                audio_stage.ffmpeg_path(),
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-f",
                "s16le",
                "-ar",
                str(RATE),
                "-ac",
                "1",
                "-i",
                "-",
                "-c:a",
                "libopus",
                "-b:a",
                "48k",
                str(path),
            ],
            input=np.concatenate(parts).tobytes(),
            check=True,
        )
        talks.append(path)
    return talks, sum(len(p) for p in parts_of_all) / RATE


def make_pages(site: Path, server: MediaServer, talks: list[Path]) -> None:
    site.mkdir(parents=True, exist_ok=True)
    for index, talk in enumerate(talks, start=1):
        (site / f"{index:02d}-{talk.stem}.md").write_text(PAGE.format(index=index, url=server.url(talk.name)))


def fetch_all(server: MediaServer, talks: list[Path], cache: Path) -> float:
    """Fetch every talk as the runner does, one after the other; seconds taken."""
    options = load_config().download
    start = time.perf_counter()
    for talk in talks:
        media = download_stage.download(server.url(talk.name), Cache.at(cache), options)
        audio_stage.prepare(media.path, cache / "audio" / f"{media.key}.wav")
    return time.perf_counter() - start


def run_pipeline(site: Path, cache: Path, trace: Path, extra: list[str]) -> tuple[float, dict]:
    report = cache.parent / f"report-{time.monotonic_ns()}.json"
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "run",
        "--quiet",
        str(site),
        "--cache-dir",
        str(cache),
        "--report",
        str(report),
        *extra,
    ]
    start = time.perf_counter()
    result = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, TRACE_ENV: str(trace), "HF_HUB_OFFLINE": "1"},
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"pipeline run failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return wall, json.loads(report.read_text())


def trace_spans(trace: Path) -> dict[str, list[tuple[float, float]]]:
    """stage -> [(start, end)] of every span the run's trace closes."""
    spans: dict[str, list[tuple[float, float]]] = {}
    open_at: dict[tuple[str, str | None, str | None], float] = {}
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        ident = (event["stage"], event["key"], event["page"])
        if event["event"] == "start":
            open_at[ident] = event["t"]
        elif ident in open_at:
            spans.setdefault(event["stage"], []).append((open_at.pop(ident), event["t"]))
    return spans


def union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def length(spans: list[tuple[float, float]]) -> float:
    return sum(end - start for start, end in spans)


def overlap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(a1, b1) - max(a0, b0)) for a0, a1 in a for b0, b1 in b)


def measure_batch(
    server: MediaServer, talks: list[Path], work: Path, ahead: int, args, sequential: float, shorter: float
) -> Batch:
    site, trace = work / "site", work / "trace.jsonl"
    make_pages(site, server, talks)
    seconds, report = run_pipeline(site, work / "cache", trace, ["--downloads-ahead", str(ahead), *args.pipeline_args])
    spans = trace_spans(trace)
    fetching = union(spans.get("download", []) + spans.get("prepare", []))
    modelling = union(spans.get("transcribe", []))
    return Batch(
        downloads_ahead=ahead,
        seconds=round(seconds, 2),
        pages_done=report["totals"]["done"],
        overlap_efficiency=round((sequential - seconds) / shorter, 3),
        fetch_seconds=round(length(fetching), 2),
        model_seconds=round(length(modelling), 2),
        concurrent_seconds=round(overlap(fetching, modelling), 2),
    )


def measure(args, work: Path) -> Figures:
    talks, audio_seconds = build_talks(work, args.talks, args.minutes)
    media_bytes = sum(p.stat().st_size for p in talks)
    throttle = args.throttle
    transcription = download = float("inf")
    batches: dict[int, Batch] = {}
    with MediaServer(work) as server:
        for round_ in range(1, max(1, args.rounds) + 1):
            here = work / f"round-{round_}"
            make_pages(here / "site", server, talks)
            server.throttle_bytes_per_s = None
            fetch_all(server, talks, here / "cache")  # unthrottled: only to warm the cache of (1)
            transcription = min(
                transcription, run_pipeline(here / "site", here / "cache", here / "trace.jsonl", args.pipeline_args)[0]
            )
            throttle = throttle or max(1, int(media_bytes / transcription))  # chosen once, in round 1
            server.throttle_bytes_per_s = throttle
            download = min(download, fetch_all(server, talks, here / "cache-download"))
            for ahead in args.downloads_ahead:
                batch = measure_batch(
                    server,
                    talks,
                    here / f"batch-{ahead}",
                    ahead,
                    args,
                    transcription + download,
                    min(transcription, download),
                )
                print(f"round {round_}: {json.dumps(asdict(batch))}", file=sys.stderr)
                if ahead not in batches or batch.seconds < batches[ahead].seconds:
                    batches[ahead] = batch
    sequential = transcription + download
    for batch in batches.values():  # against the fastest (1) and (2) of all rounds
        batch.overlap_efficiency = round((sequential - batch.seconds) / min(transcription, download), 3)
    return Figures(
        talks=len(talks),
        audio_seconds=round(audio_seconds, 1),
        media_bytes=media_bytes,
        throttle_bytes_per_s=throttle,
        download_seconds=round(download, 2),
        transcription_seconds=round(transcription, 2),
        sequential_seconds=round(sequential, 2),
        ideal_seconds=round(max(transcription, download), 2),
        batches=list(batches.values()),
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--talks", type=int, default=4, help="number of talks (default: 4)")
    parser.add_argument("--minutes", type=float, default=2.0, help="length of each talk in minutes (default: 2)")
    parser.add_argument(
        "--downloads-ahead",
        type=int,
        nargs="+",
        default=[1, 2],
        help="one batch per value of its --downloads-ahead (default: 1 2)",
    )
    parser.add_argument(
        "--throttle",
        type=int,
        help="server bytes per second per connection (default: chosen so "
        "that downloading takes about as long as transcribing)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="measure everything N times, keep each figure's fastest")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary folder)")
    parser.add_argument(
        "pipeline_args", nargs="*", help="after --: more options for pipeline run (e.g. -- --model base)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        f = measure(args, args.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
            f = measure(args, Path(tmp))
    print_figures(f)
    data = json.dumps(asdict(f), indent=2)
    print(data)
    if args.json:
        args.json.write_text(data + "\n")
    return 0 if all(b.pages_done == f.talks for b in f.batches) else 1


def print_figures(f: Figures) -> None:
    print(
        f"{f.talks} talks, {f.audio_seconds / 60:.1f} min of audio, {f.media_bytes / 1e6:.2f} MB, "
        f"served at {f.throttle_bytes_per_s / 1e3:.0f} kB/s per connection"
    )
    rows = [
        ("download, all talks one after the other", f.download_seconds),
        ("transcription, all talks (audio already fetched)", f.transcription_seconds),
        ("sum: sequential, no overlap", f.sequential_seconds),
        ("max: perfect overlap", f.ideal_seconds),
    ] + [(f"batch, --downloads-ahead {b.downloads_ahead}", b.seconds) for b in f.batches]
    for name, seconds in rows:
        print(f"  {name:<50} {seconds:7.1f} s")
    for b in f.batches:
        print(
            f"  --downloads-ahead {b.downloads_ahead}: batch / max {b.seconds / f.ideal_seconds:.2f}, "
            f"batch / sum {b.seconds / f.sequential_seconds:.2f}, overlap efficiency {b.overlap_efficiency:.2f}"
        )
        print(
            f"      within the batch: fetching {b.fetch_seconds:.1f} s, model {b.model_seconds:.1f} s "
            f"(sum {b.fetch_seconds + b.model_seconds:.1f}, max {max(b.fetch_seconds, b.model_seconds):.1f}), "
            f"both at once {b.concurrent_seconds:.1f} s, wall {b.seconds:.1f} s"
        )


if __name__ == "__main__":
    sys.exit(main())
