"""Words of each voice that a transcription left out: does noise, VAD or gap repair drop a quiet speaker?

Pure: the reference is the truth's utterances, each word carrying its speaker; the hypothesis is
aligned to it by edit distance after Whisper's normaliser (as for the WER), and a reference word
the alignment deletes counts against its speaker.
"""

from __future__ import annotations

from dataclasses import dataclass

import jiwer

from .metrics import normalized_words
from .truth import Truth


@dataclass
class VoiceWords:
    speaker: str
    words: int  # the voice's reference words
    dropped: int  # of them deleted by the alignment

    @property
    def share(self) -> float:
        return self.dropped / self.words if self.words else 0.0


def dropped_by_speaker(truth: Truth, hypothesis: str) -> list[VoiceWords]:
    """Per speaker (in order of first words), how many of their words the hypothesis lacks."""
    speakers: list[str] = []
    ref: list[str] = []
    for u in truth.utterances:
        words = normalized_words(u.text)
        ref += words
        speakers += [u.speaker] * len(words)
    hyp = normalized_words(hypothesis)
    totals = {s: VoiceWords(s, 0, 0) for s in dict.fromkeys(speakers)}
    for s in speakers:
        totals[s].words += 1
    # A one-word dummy on both sides: jiwer rejects an empty reference, and it changes no count.
    for chunk in jiwer.process_words(" ".join(["<s>", *ref]), " ".join(["<s>", *hyp])).alignments[0]:
        if chunk.type == "delete":
            for k in range(chunk.ref_start_idx - 1, chunk.ref_end_idx - 1):
                totals[speakers[k]].dropped += 1
    return list(totals.values())
