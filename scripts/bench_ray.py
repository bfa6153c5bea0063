"""The Ray executor against a local run on the same talks, in one run, and a projection.

Builds N talks of real speech (scripts/bench_batch.py's talks: the example talk and
jfk.flac mixed, Opus), serves them from scripts/evalkit/mediaserver.py on 127.0.0.1 and runs,
each from an empty cache and each a whole ``python -m pipeline run`` process:

1. local: the default executor (one process, one model, downloads ahead);
2. ray: ``--executor ray --workers W`` (Ray started on this machine by the run, W CPU
   actors of one CPU each, one model each).

For each: wall time, audio seconds per wall second (speed), and for the Ray run the
pool's own figures from its report: its wall time (actors starting and loading their
models included, driver start-up and Ray's start excluded) and each worker's
throughput while busy (audio seconds / seconds spent on its videos).

Then a projection, stated as one: the wall time for 1,000 hours of audio on N
workers, from (a) the per-worker throughput measured here on CPU and (b) an assumed
per-GPU throughput (--gpu-speed, default from faster-whisper's published benchmark,
see GPU_ASSUMPTION), assuming linear scaling and downloads that keep up.

Example: .venv/bin/python scripts/bench_ray.py --talks 4 --minutes 2 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from bench_batch import build_talks, make_pages, run_pipeline
from evalkit.mediaserver import MediaServer

BACKLOG_HOURS = 1000.0
# faster-whisper's published figure (SYSTRAN/faster-whisper issue #1030, the README's table format):
# large-v3-turbo, fp16, beam 5, 13 minutes of audio in 19.155 s on one RTX 2080 Ti: 40.7x real time.
# Not measured here: no GPU has been lent to this project yet (scripts/gpu_check.sh will measure one).
GPU_ASSUMPTION = "large-v3-turbo fp16 beam 5 on one RTX 2080 Ti: 13 min of audio in 19.2 s (faster-whisper #1030)"
GPU_SPEED = 13 * 60 / 19.155


def hours(seconds: float) -> str:
    return f"{seconds / 3600:8.1f} h"


def projection(per_worker: float, counts: list[int]) -> list[str]:
    return [f"    {n:4d} worker(s): {hours(BACKLOG_HOURS * 3600 / (per_worker * n))}" for n in counts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--talks", type=int, default=4, help="talks (pages) in the batch")
    parser.add_argument("--minutes", type=float, default=2.0, help="length of each talk")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors (CPU, one CPU each)")
    parser.add_argument("--gpu-speed", type=float, default=GPU_SPEED, help="assumed audio s per s per GPU")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    figures = measure(args)
    print_figures(figures, args.gpu_speed)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def measure(args: argparse.Namespace) -> dict:
    """The same batch run locally and on a Ray pool: the figures, and whether the pages match."""
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        work = Path(tmp)
        (work / "media").mkdir()
        talks, audio_seconds = build_talks(work / "media", args.talks, args.minutes)
        with MediaServer(work / "media") as server:
            make_pages(work / "site-local", server, talks)
            make_pages(work / "site-ray", server, talks)
            local_wall, _ = run_pipeline(work / "site-local", work / "cache-local", work / "trace-local.jsonl", [])
            ray_wall, ray_report = run_pipeline(
                work / "site-ray",
                work / "cache-ray",
                work / "trace-ray.jsonl",
                ["--executor", "ray", "--workers", str(args.workers)],
            )
            same = all(
                (work / "site-local" / p.name).read_bytes() == p.read_bytes() for p in (work / "site-ray").glob("*.md")
            )
    pool = ray_report["executor"]
    busy = [w for w in pool["per_worker"] if w["busy_seconds"] > 0]
    per_worker = sum(w["audio_seconds"] for w in busy) / sum(w["busy_seconds"] for w in busy)
    return {
        "talks": args.talks,
        "audio_seconds": round(audio_seconds, 1),
        "cpus": len(os.sched_getaffinity(0)),
        "local": {"wall_seconds": round(local_wall, 2), "speed": round(audio_seconds / local_wall, 2)},
        "ray": {
            "wall_seconds": round(ray_wall, 2),
            "speed": round(audio_seconds / ray_wall, 2),
            "pool": pool,
            "per_worker_speed": round(per_worker, 2),
        },
        "pages_identical": same,
        "projection": {"backlog_hours": BACKLOG_HOURS, "gpu_speed_assumed": args.gpu_speed},
    }


def print_figures(figures: dict, gpu_speed: float) -> None:
    audio_seconds, pool = figures["audio_seconds"], figures["ray"]["pool"]
    local_wall, ray_wall = figures["local"]["wall_seconds"], figures["ray"]["wall_seconds"]
    per_worker, same = figures["ray"]["per_worker_speed"], figures["pages_identical"]
    rows = [
        ("local run (1 process, 1 model)", local_wall, audio_seconds / local_wall),
        (f"ray run ({pool['workers']} CPU actors, Ray started by the run)", ray_wall, audio_seconds / ray_wall),
        ("  the pool alone (actors start, load, work)", pool["wall_seconds"], pool["throughput"]),
    ]
    print(f"{figures['talks']} talks, {audio_seconds / 60:.1f} min of audio, {figures['cpus']} CPUs")
    for label, wall, speed in rows:
        print(f"  {label:<50} {wall:7.1f} s {speed:6.1f}x")
    print(f"  {'  per worker, while busy':<50} {'':9} {per_worker:6.1f}x")
    print(f"  pages identical to the local run's: {same}")
    counts = [1, 2, 4, 8, 16, 32]
    print(f"PROJECTION (not a measurement): {BACKLOG_HOURS:,.0f} h of audio, linear scaling, downloads keeping up")
    print(f"  from the per-worker speed measured here on CPU ({per_worker:.1f}x per 1-CPU actor):")
    print("\n".join(projection(per_worker, counts)))
    print(f"  ASSUMED GPU speed {gpu_speed:.1f}x per GPU worker ({GPU_ASSUMPTION}):")
    print("\n".join(projection(gpu_speed, counts)))


if __name__ == "__main__":
    sys.exit(main())
