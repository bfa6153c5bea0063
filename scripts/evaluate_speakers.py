"""Who is speaking, scored per evaluation talk against its truth, with the cost next to the same run without it.

For each talk folder made by scripts/make_eval_set.py, two fresh processes run on
the same prepared audio: *plain* (load tiny.en, transcribe) and *speakers* (the
same, then diarize, give each word a speaker, label the speakers from the page and
the talk). Reported per talk:

- words right: the share of the draft's words given to the person (voice) speaking
  at their time, speakers mapped to people one to one (evalkit.speakers.word_attribution);
- DER: the diarization error rate of the turns, no collar;
- speakers found / true; names right / wrong / withheld, and the labels given;
- cost: wall seconds and CPU seconds per audio hour and peak memory, plain and with
  speakers; "same words" says whether both runs wrote the same words (the speaker
  stage never changes a word, so WER cannot get worse).

    .venv/bin/python scripts/evaluate_speakers.py eval/talks/host-talk-qa eval/talks/panel-three-voices
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

from evalkit.harness import REPO  # scripts/ is on the path: this script runs from there

sys.path.insert(0, str(REPO))

from pipeline import context, naming, pages, speakers, transcribe  # noqa: E402
from pipeline import glossary as glossary_stage  # noqa: E402
from pipeline.audio import prepare, wav_duration  # noqa: E402
from pipeline.config import load_config  # noqa: E402

from evalkit import speakers as se  # noqa: E402
from evalkit.truth import load_truth  # noqa: E402


def read_talk_page(talk: Path) -> pages.Page:
    """The talk's page as pipeline.pages reads it (the video placeholder filled in)."""
    text = (talk / "page.md").read_text(encoding="utf-8").replace("{VIDEO_URL}", "https://youtu.be/aaaaaaaaaaa")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.md"
        path.write_text(text, encoding="utf-8")
        return pages.read_page(path)


def child(mode: str, talk: Path, wav: Path) -> dict:
    config = load_config()
    started, cpu = time.perf_counter(), time.process_time()
    model = transcribe.load_model(config.model, batch_size=config.transcribe.batch_size)
    # As the runner does: the page's names and terms bias the model, the glossary fixes its spelling.
    page = read_talk_page(talk)
    glossary = glossary_stage.load_glossary(None)
    prompt = context.prompt_for(page, config.transcribe, glossary=glossary)
    result = transcribe.transcribe(
        model, wav, config.transcribe, initial_prompt=prompt.initial_prompt, hotwords=prompt.hotwords
    )
    words = glossary_stage.apply_to_transcription(result, glossary).words
    out: dict = {"words": [[w.start, w.end, w.text] for w in words]}
    if mode == "speakers":
        diarize_started = time.perf_counter()
        turns = speakers.diarize(wav, config.speakers)
        who = speakers.assign_speakers(words, turns)
        truth = load_truth(talk)
        chapters = [(float(c.page_start or c.start), c.title) for c in truth.chapters]
        evidence = naming.collect_evidence(words, who, page_speakers=page.speakers, chapters=chapters)
        labels = naming.decide(evidence, naming.first_appearance(who))
        out |= {
            "turns": [[t.start, t.end, t.speaker] for t in turns],
            "speakers": who,
            "labels": {str(k): v for k, v in labels.items()},
            "evidence": [f"{e.speaker}: {e.name} {e.weight:+.1f} ({e.source})" for e in evidence],
            "diarize_s": time.perf_counter() - diarize_started,
        }
    out |= {
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    return out


def run_child(mode: str, talk: Path, wav: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(talk), str(wav)], capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"{talk.name} ({mode}) failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def score(talk: Path, plain: dict, spoken: dict, hours: float) -> dict:
    truth = load_truth(talk)
    reference = se.truth_turns(truth)
    times = [(s, e) for s, e, _ in spoken["words"]]
    attribution = se.word_attribution(times, spoken["speakers"], reference)
    hyp = [(s, e, str(k)) for s, e, k in spoken["turns"]]
    labels = {int(k): v for k, v in spoken["labels"].items()}
    names = se.name_scores(labels, attribution.mapping, se.truth_names(truth))
    return {
        "talk": talk.name,
        "minutes": hours * 60,
        "words_right": attribution.accuracy,
        "words": attribution.total,
        "der": se.diarization_error(reference, hyp).rate,
        "found": len({k for *_, k in hyp}),
        "true": len({w for *_, w in reference}),
        "names": names,
        "labels": {labels[k]: attribution.mapping.get(k, "-") for k in labels},
        "plain": {k: plain[k] for k in ("wall_s", "cpu_s", "peak_mb")},
        "speakers": {k: spoken[k] for k in ("wall_s", "cpu_s", "peak_mb", "diarize_s")},
        "same_words": [w[2] for w in plain["words"]] == [w[2] for w in spoken["words"]],
        "evidence": spoken["evidence"],
    }


def show(r: dict) -> None:
    n, h = r["names"], r["minutes"] / 60
    p, s = r["plain"], r["speakers"]
    print(
        f"{r['talk']:20} {r['minutes']:5.1f} min  words right {r['words_right']:6.1%} of {r['words']}  "
        f"DER {r['der']:.3f}  speakers {r['found']}/{r['true']}  names right/wrong/withheld "
        f"{n.right}/{n.wrong}/{n.withheld}  labels {r['labels']}\n"
        f"{'':20} plain: {p['wall_s'] / h:6.0f} s/audio h wall, {p['cpu_s'] / h:6.0f} cpu, {p['peak_mb']:5.0f} MB | "
        f"speakers: {s['wall_s'] / h:6.0f} wall ({s['diarize_s'] / h:.0f} diarizing), {s['cpu_s'] / h:6.0f} cpu, "
        f"{s['peak_mb']:5.0f} MB | same words: {r['same_words']}",
        flush=True,
    )
    for line in r["evidence"]:
        print(f"{'':20} evidence {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("talks", nargs="*", type=Path, help="talk folders made by make_eval_set.py")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, talk, wav = args.child
        print(json.dumps(child(mode, Path(talk), Path(wav))))
        return 0
    speakers.check_available(load_config().speakers)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="speaker-eval-") as tmp:
        for talk in args.talks:
            truth = load_truth(talk)
            wav = Path(tmp) / f"{talk.name}.wav"
            prepare(talk / truth.audio, wav)
            hours = wav_duration(wav) / 3600
            result = score(talk, run_child("plain", talk, wav), run_child("speakers", talk, wav), hours)
            show(result)
            results.append(result)
    if args.json:
        payload = [{**r, "names": vars(r["names"])} for r in results]
        args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
