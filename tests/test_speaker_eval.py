"""The speaker metrics of scripts/evalkit/speakers.py, on hand-made cases and the pyannote sample's truth."""

from __future__ import annotations

from itertools import permutations
from pathlib import Path

import pytest

from evalkit import speakers as se
from evalkit.truth import Truth, Utterance

REPO = Path(__file__).resolve().parent.parent

SAMPLE_RTTM = REPO / "tests" / "fixtures" / "speakers" / "sample.rttm"


def test_best_mapping_is_one_to_one_and_maximal():
    weights = {("a", "X"): 5.0, ("a", "Y"): 4.0, ("b", "X"): 4.5, ("c", "Z"): 1.0}
    # Greedy would give a->X (5) and leave b with nothing; the best total is a->Y + b->X = 8.5.
    assert se.best_mapping(weights) == {"a": "Y", "b": "X", "c": "Z"}


def test_best_mapping_matches_brute_force():
    import random

    rng = random.Random(3)
    for _ in range(30):
        hyps, refs = range(rng.randint(1, 4)), "PQRS"[: rng.randint(1, 4)]
        drawn = {(h, r): float(rng.randint(0, 9)) for h in hyps for r in refs}
        weights: dict[tuple[int, str | None], float] = {k: v for k, v in drawn.items() if v}
        if not weights:
            continue
        got = se.best_mapping(weights)
        assert len(set(got.values())) == len(got)
        best = 0.0
        perm: tuple[str | None, ...]
        for perm in permutations(list(refs) + [None] * len(hyps), len(hyps)):
            best = max(best, sum(weights.get((h, r), 0.0) for h, r in zip(hyps, perm, strict=True)))
        assert sum(weights[(h, r)] for h, r in got.items()) == best


def test_der_zero_for_relabelled_truth_and_counts_each_error_kind():
    ref = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]
    assert se.diarization_error(ref, [(0.0, 10.0, "s1"), (10.0, 20.0, "s0")]).rate == 0.0
    # B's last 5 s given to A's speaker, 2 s missed, 1 s of speech invented after the end.
    hyp = [(0.0, 10.0, "s1"), (10.0, 13.0, "s0"), (15.0, 20.0, "s1"), (20.0, 21.0, "s1")]
    err = se.diarization_error(ref, hyp)
    assert err.confusion == pytest.approx(5.0)
    assert err.missed == pytest.approx(2.0)
    assert err.false_alarm == pytest.approx(1.0)
    assert err.rate == pytest.approx(8.0 / 20.0)


def test_der_collar_forgives_boundaries_only():
    ref = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]
    hyp = [(0.0, 10.2, "x"), (10.2, 20.0, "y")]
    assert se.diarization_error(ref, hyp).rate > 0
    assert se.diarization_error(ref, hyp, collar=0.25).rate == 0.0


def test_der_of_one_speaker_everywhere_on_the_sample():
    ref = se.read_rttm(SAMPLE_RTTM)
    assert len(ref) == 10 and {w for _, _, w in ref} == {"speaker90", "speaker91"}
    everyone = se.diarization_error(ref, [(0.0, 30.0, "one")])
    assert 0.3 < everyone.rate < 1.0  # the majority speaker is right, the other is all confusion


def test_word_attribution_maps_labels_and_counts_gaps():
    ref = [(0.0, 5.0, "Ty"), (5.5, 10.0, "Ali")]
    words = [(0.1, 0.4), (4.0, 4.5), (5.3, 5.45), (6.0, 6.3), (9.0, 9.5)]  # the third lies in the gap, nearer Ali
    got = se.word_attribution(words, [1, 1, 0, 0, 1], ref)
    assert got.mapping == {1: "Ty", 0: "Ali"}
    assert (got.correct, got.total) == (4, 5)
    assert se.word_attribution(words, [None] * 5, ref).accuracy == 0.0


def test_name_scores_right_wrong_withheld():
    names = {"v1": {"Ali", "Aly"}, "v2": {"Ty"}}
    labels = {0: "Ali Spittel", 1: "Speaker 2", 2: "Ty"}
    assert se.name_scores(labels, {0: "v1", 1: "v2", 2: "v2"}, names) == se.NameScore(2, 0, 1)
    assert se.name_scores({0: "Ty"}, {0: "v1"}, names) == se.NameScore(0, 1, 0)
    assert se.name_scores({5: "Ty"}, {}, names) == se.NameScore(0, 1, 0)  # a name on a speaker nobody is


def test_truth_turns_and_names_key_people_by_voice():
    said = [("Ty", "flite-awb", 0.0, 2.0), ("speaker", "piper-joe", 2.5, 4.0), ("Ali", "piper-joe", 4.5, 6.0)]
    utterances = [Utterance(0, speaker, voice, start, end, "text") for speaker, voice, start, end in said]
    truth = Truth("t", 6.0, True, [], utterances, [])
    assert se.truth_turns(truth) == [(0.0, 2.0, "flite-awb"), (2.5, 4.0, "piper-joe"), (4.5, 6.0, "piper-joe")]
    assert se.truth_names(truth) == {"flite-awb": {"Ty"}, "piper-joe": {"Ali"}}
