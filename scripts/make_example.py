"""Rebuild the bundled example talk in examples/ (maintainers only; needs Debian's flite).

The example is a short two-voice webinar made from the opening of the
human-edited transcript of Sam Bail's "Intro to Terminal" (2020/09 in
data-umbrella/event-transcripts), spoken by flite's `slt` and `rms` voices.
Running the demo needs none of this: the encoded audio is committed.

    python scripts/make_example.py
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parent.parent / "examples"

# (chapter title, voice, text); chapters start where their first line starts.
SCRIPT = [
    (
        "Introduction",
        "slt",
        "Hey everybody, welcome to Data Umbrella and PyLadies online event. Just to let you know how the event is "
        "going to go, I am going to do an introduction about the meetup group. Sam is going to give a talk, and we "
        "will have questions and answers at the end.",
    ),
    (
        "Intro to Terminal",
        "rms",
        "All right, great, thanks for switching over. Hi everyone, welcome to this webinar. My name is Sam. I do data "
        "things, and I am based in New York City. Today I want to show you how to use the terminal, because it makes "
        "everyday work with files much faster.",
    ),
    (
        "Helpful shortcuts",
        "rms",
        "Some helpful shortcuts. You do not always have to type everything in your terminal by hand. The tab key "
        "completes file names for you, and the arrow keys bring back the commands you typed before.",
    ),
]


def main() -> None:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    with tempfile.TemporaryDirectory() as tmp:
        parts, starts, t = [], [], 0.0
        for i, (_title, voice, text) in enumerate(SCRIPT):
            wav = Path(tmp) / f"{i}.wav"
            subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(wav)], check=True)
            starts.append(t)
            parts.append(wav)
            t += _duration(wav) + 1.5
        # 1.5 s of silence after each part, then mono 16 kHz Opus at 24 kb/s (small enough for git)
        inputs = sum((["-i", str(p)] for p in parts), [])
        chain = "".join(f"[{i}:a]aresample=16000,apad=pad_dur=1.5[a{i}];" for i in range(len(parts)))
        chain += "".join(f"[a{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1[out]"
        out = ROOT / "media" / "intro-to-terminal.ogg"
        subprocess.run(
            [
                ffmpeg,
                "-y",
                "-loglevel",
                "error",
                *inputs,
                "-filter_complex",
                chain,
                "-map",
                "[out]",
                "-ac",
                "1",
                "-c:a",
                "libopus",
                "-b:a",
                "24k",
                str(out),
            ],
            check=True,
        )
    for (title, _, _), start in zip(SCRIPT, starts, strict=True):
        print(f"{int(start // 60):02d}:{int(start % 60):02d} {title}")


def _duration(wav: Path) -> float:
    import wave

    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()


if __name__ == "__main__":
    main()
