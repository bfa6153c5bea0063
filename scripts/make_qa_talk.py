"""Rebuild the test talk tests/fixtures/talks/qa-webinar (maintainers only; needs Debian's flite).

A two-minute webinar in the shape of the real ones: the host opens and hands over, the
speaker shares the screen and gives a short talk in two sections, the host reads two
questions of the Q&A aloud, the speaker answers, the host closes. Two flite voices (host
``slt``, speaker ``rms``). The page is a placeholder page in the style of seed 000
(``00:00 Help us add timestamps``, a second ``## Timestamps`` saying ``[get from video]``);
``truth.json`` (``evalkit.truth``) holds the chapters a volunteer would write, with
their exact times, for the tests and ``scripts/evaluate_chapters.py``.

    python scripts/make_qa_talk.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import imageio_ffmpeg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evalkit.truth import TrueChapter, Truth, Utterance, truth_text  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "talks" / "qa-webinar"
VOICES = {"Reshama": "slt", "Joe": "rms"}
GAP_SAME, GAP_OTHER = 0.35, 0.7

# (chapter title, [(speaker, text), ...]); a chapter starts where its first line starts.
SCRIPT = [
    (
        "Data Umbrella Introduction",
        [
            ("Reshama", "Hello everyone, and welcome to Data Umbrella. My name is Reshama and I will be your host."),
            ("Reshama", "Our speaker today is Joe, who works on machine learning security. Joe, over to you."),
        ],
    ),
    (
        "Machine Learning Security",
        [
            ("Joe", "Thank you, Reshama. Let me share my screen. Can you see my slides? Great."),
            (
                "Joe",
                "Today I want to talk about machine learning security. Machine learning models are software, so the "
                "old security rules still apply to every model you train and deploy.",
            ),
        ],
    ),
    (
        "Adversarial Examples",
        [
            (
                "Joe",
                "Now let's talk about adversarial examples. An adversarial example is an input that an attacker "
                "changed a little, so that the classifier makes a mistake. Attackers can also poison the training "
                "data of a classifier.",
            ),
            ("Joe", "That is all I have for today. Thank you."),
        ],
    ),
    (
        "Q&A - How does one get into AI security?",
        [
            ("Reshama", "Thank you, Joe. Let's move on to the Q and A."),
            ("Reshama", "The first question is from Maria. How does one get into A.I. security?"),
            (
                "Joe",
                "Great question. Start with the security basics, then learn how models are trained and deployed. "
                "Capture the flag competitions are a good way to practice.",
            ),
        ],
    ),
    (
        "Q&A - What is the overlap between ML security and AI ethics?",
        [
            ("Reshama", "Next question. What is the overlap between machine learning security and A.I. ethics?"),
            (
                "Joe",
                "There is some overlap. Both care about how a model can hurt people, but security thinks about "
                "attackers who cause harm on purpose.",
            ),
        ],
    ),
    (
        "Closing",
        [("Reshama", "Thank you all for coming, and see you at the next event.")],
    ),
]

PAGE = """# Joe Example:  What is Machine Learning Security Anyway?

## Key Links
- Transcript: https://github.com/data-umbrella/event-transcripts/blob/main/2024/99-joe-example.md
- Meetup Event: https://www.meetup.com/data-umbrella/events/
- Video: {VIDEO_URL}
- Transcriber:  ? [needs a transcriber]

## About the Event
A test talk for du-transcripts: a two-minute webinar with a Q&A, spoken by two flite voices.

```
## Timestamps
00:00 Help us add timestamps
```
https://github.com/data-umbrella/event-transcripts/issues/92

## About the Speaker
Made by scripts/make_qa_talk.py.

#machinelearning #security

## Video

## Timestamps
[get from video]

## Transcript
"""


def _duration(wav: Path) -> float:
    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()


def main() -> None:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    OUT.mkdir(parents=True, exist_ok=True)
    chapters, utterances, chain, inputs = [], [], "", []
    t, previous = 0.5, None
    with tempfile.TemporaryDirectory() as tmp:
        for k, (title, lines) in enumerate(SCRIPT):
            start = None
            for speaker, text in lines:
                if previous is not None:
                    t += GAP_SAME if speaker == previous else GAP_OTHER
                i = len(inputs) // 2
                wav = Path(tmp) / f"{i}.wav"
                subprocess.run(["flite", "-voice", VOICES[speaker], "-t", text, "-o", str(wav)], check=True)
                length = _duration(wav)
                start = t if start is None else start
                delay = int(t * 1000)
                chain += f"[{i}:a]aresample=16000,adelay={delay}[a{i}];"
                inputs += ["-i", str(wav)]
                voice = f"flite-{VOICES[speaker]}"
                utterances.append(Utterance(k, speaker, voice, round(t, 3), round(t + length, 3), text))
                t += length
                previous = speaker
            chapters.append(TrueChapter(title, round(start or 0.0, 3), 0.0, None, " ".join(x[1] for x in lines)))
        n = len(inputs) // 2
        chain += "".join(f"[a{i}]" for i in range(n)) + f"amix=inputs={n}:normalize=0,apad=pad_dur=1[out]"
        subprocess.run(
            [ffmpeg, "-y", "-loglevel", "error", *inputs, "-filter_complex", chain, "-map", "[out]", "-ac", "1"]
            + ["-c:a", "libopus", "-b:a", "24k", str(OUT / "audio.ogg")],
            check=True,
        )
    duration = t + 1.0
    for k, chapter in enumerate(chapters):
        chapter.end = chapters[k + 1].start if k + 1 < len(chapters) else round(duration, 3)
    truth = Truth(
        name="qa-webinar",
        duration=round(duration, 3),
        page_has_chapters=False,
        chapters=chapters,
        utterances=utterances,
        non_speech=[],
        title="Joe Example:  What is Machine Learning Security Anyway?",
        description="host, talk in two sections, a Q&A of two questions read aloud, closing; placeholder page",
        voices={s: f"flite-{v}" for s, v in VOICES.items()},
        made_by="scripts/make_qa_talk.py",
    )
    (OUT / "truth.json").write_text(truth_text(truth), encoding="utf-8")
    (OUT / "page.md").write_text(PAGE, encoding="utf-8")
    for chapter in chapters:
        print(f"{chapter.start:7.2f} {chapter.title}")


if __name__ == "__main__":
    main()
