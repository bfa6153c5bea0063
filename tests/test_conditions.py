"""The recording conditions of the evaluation-set builder (scripts/evalset/conditions.py) on the committed
test talk: reproducible, levels as asked, and the truth moved exactly as the audio is."""

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pipeline.audio import SAMPLE_RATE, ffmpeg_path

from evalkit.truth import load_truth, truth_text
from evalset.conditions import CONDITIONS, Condition, degrade
from evalset.recordings import build_recording

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "talks" / "five-chapters"
CUT = 100.0  # seconds of the fixture talk used: three chapters, three voices


def pcm(path: Path) -> np.ndarray:
    cmd = [ffmpeg_path(), "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-"]
    return np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, "<i2") / 32768


def dbfs(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12))


def spans(samples: np.ndarray, times: list[tuple[float, float]]) -> np.ndarray:
    return np.concatenate([samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in times])


@pytest.fixture(scope="module")
def talk(tmp_path_factory) -> Path:
    """The committed test talk's first CUT seconds, as a talk folder of its own (a shorter test)."""
    folder = tmp_path_factory.mktemp("talk") / "short"
    folder.mkdir()
    cmd = [ffmpeg_path(), "-v", "error", "-i", str(FIXTURE / "audio.ogg"), "-t", str(CUT), "-c", "copy"]
    subprocess.run([*cmd, str(folder / "audio.ogg")], check=True)
    truth = load_truth(FIXTURE)
    chapters = [c for c in truth.chapters if c.start < CUT]
    chapters[-1] = dataclasses.replace(chapters[-1], end=CUT)
    utterances = [u for u in truth.utterances if u.end < CUT]
    short = dataclasses.replace(truth, chapters=chapters, utterances=utterances, duration=CUT)
    (folder / "truth.json").write_text(truth_text(short))
    return folder


@pytest.fixture(scope="module")
def zoom(talk, tmp_path_factory):
    out = tmp_path_factory.mktemp("zoom") / "short-zoom"
    return degrade(talk, CONDITIONS["zoom"], out), out


def test_zoom_moves_the_truth_with_the_inserted_stretch(talk, zoom):
    truth, out = zoom
    clean = load_truth(talk)
    [music] = truth.non_speech
    assert (music.kind, music.end - music.start) == ("music", 20)
    assert load_truth(out).to_json() == truth.to_json()  # what was written is what was returned
    for before, after in zip(clean.utterances, truth.utterances, strict=True):
        moved = 20 if before.start >= music.start else 0
        assert (after.start, after.end, after.text) == (
            round(before.start + moved, 3),
            round(before.end + moved, 3),
            before.text,
        )
    assert any(u.end <= music.start for u in truth.utterances) and any(u.start >= music.end for u in truth.utterances)
    pages = [(c.page_start or 0) - c.start for c in truth.chapters]
    assert pages == pytest.approx([(c.page_start or 0) - c.start for c in clean.chapters], abs=1e-6)
    assert "{VIDEO_URL}" in (out / "page.md").read_text()
    samples = pcm(out / "audio.ogg")
    assert len(samples) / SAMPLE_RATE == pytest.approx(truth.duration, abs=0.05)
    # The stretch holds music at the clean beds' level, and no speech was overwritten: the first
    # utterance after it is as loud as the ones before.
    assert dbfs(spans(samples, [(music.start + 0.5, music.end - 0.5)])) == pytest.approx(-24, abs=2.5)


def test_the_same_condition_twice_gives_the_same_recording(talk, zoom, tmp_path):
    truth, out = zoom
    again = degrade(talk, CONDITIONS["zoom"], tmp_path / "again")
    assert again.to_json() == truth.to_json()
    assert np.array_equal(pcm(out / "audio.ogg"), pcm(tmp_path / "again" / "audio.ogg"))


def test_a_guest_is_quieter_and_the_noise_at_its_snr(talk, tmp_path):
    truth = degrade(talk, Condition("quiet-noise", "", quiet_db=9.0, snr_db=15.0), tmp_path / "out")
    clean, noisy = pcm(talk / "audio.ogg"), pcm(tmp_path / "out" / "audio.ogg")
    said = truth.utterances
    host = [(u.start, u.end) for u in said if u.speaker == said[0].speaker]
    guests = [(u.start, u.end) for u in said if u.speaker != said[0].speaker]
    pauses = [(a.end + 0.1, b.start - 0.1) for a, b in zip(said, said[1:], strict=False) if b.start - a.end > 0.6]
    noise = dbfs(spans(noisy, pauses))
    assert dbfs(spans(clean, pauses)) < noise - 20  # the clean talk's pauses hold only a faint room tone
    assert dbfs(spans(noisy, host)) - noise == pytest.approx(15 + 2, abs=1.5)  # the codec takes ~2 dB off the noise
    # The guests 9 dB down (the noise under their words adds a little back), the host as loud as before.
    assert dbfs(spans(clean, guests)) - dbfs(spans(noisy, guests)) == pytest.approx(9.0, abs=1.5)
    assert dbfs(spans(clean, host)) == pytest.approx(dbfs(spans(noisy, host)), abs=1.0)


def test_a_real_recording_is_a_talk_scored_against_its_own_transcript(tmp_path):
    truth = build_recording("pyannote-call", tmp_path / "call")
    assert set(truth.voices) == {"Diane", "Sheila"}
    assert truth.reference_text.startswith("Hello? Hello? Oh, hello.")
    assert len(pcm(tmp_path / "call" / "audio.ogg")) / SAMPLE_RATE == pytest.approx(truth.duration, abs=0.05)
    assert load_truth(tmp_path / "call").utterances == truth.utterances
