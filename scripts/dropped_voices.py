"""Per voice, the share of its words each pipeline run left out (evalkit.dropped), clean beside degraded.

Reads the drafts that scripts/bench.py's pipeline runs wrote (``eval/bench-work/TALK/CONFIG/99-*.md``)
and the talks' truth (``eval/talks/TALK``): the check that noise, VAD and gap repair do not drop a
quiet speaker (the ``zoom`` condition puts every voice but the first 9 dB under it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import evalkit
from evalkit.dropped import dropped_by_speaker

REPO = evalkit.REPO


def draft_text(work_dir: Path) -> str | None:
    from pipeline.pages import read_transcript

    pages = sorted(work_dir.glob("99-*.md"))
    body = read_transcript(pages[0]) if pages else None
    return " ".join(c.text for c in evalkit.parse_draft(body)) if body else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=REPO / "eval" / "bench-work", help="bench.py's --work-dir")
    parser.add_argument("--talks", type=Path, default=REPO / "eval" / "talks", help="the talks' folders")
    args = parser.parse_args(argv)
    rows = 0
    for run in sorted(args.work_dir.glob("*/*/")):
        talk, config = run.parent.name, run.name
        text = draft_text(run)
        if text is None or not (args.talks / talk / "truth.json").is_file():
            continue
        voices = dropped_by_speaker(evalkit.load_truth(args.talks / talk), text)
        if len(voices) < 2:
            continue
        cells = "  ".join(f"{v.speaker} {100 * v.share:4.1f}% of {v.words}" for v in voices)
        print(f"{talk:28} {config:20} dropped: {cells}")
        rows += 1
    if not rows:
        print(f"dropped_voices: no multi-voice pipeline runs in {args.work_dir}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
