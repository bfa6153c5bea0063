"""Names and project terms spelled right: the metric the top of ``metrics`` describes last."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .metrics import process_words
from .truth import Truth


@dataclass
class TermScore:
    """How many of the reference's name and term occurrences the draft spells exactly right."""

    occurrences: int
    right: int
    per_term: dict[str, list[int]] = field(default_factory=dict)  # term -> [right, occurrences]
    misses: list[tuple[str, str]] = field(default_factory=list)  # (reference spelling, what the draft has there)

    @property
    def share(self) -> float | None:
        return self.right / self.occurrences if self.occurrences else None

    def to_json(self) -> dict:
        return {
            "right": self.right,
            "occurrences": self.occurrences,
            "share": None if self.share is None else round(self.share, 4),
            "per_term": self.per_term,
            "misses": [list(m) for m in self.misses],
        }


_EDGE_PUNCT = re.compile(r"^\W+|\W+$")
_POSSESSIVE = re.compile(r"['’]s$")


def term_token(word: str) -> str:
    """A word as written, without surrounding punctuation or a possessive 's ("(NumPy's," -> "NumPy")."""
    return _POSSESSIVE.sub("", _EDGE_PUNCT.sub("", word))


def term_tokens(text: str) -> list[str]:
    """The text's words as written (case kept), for exact spelling checks; bare punctuation is dropped."""
    return [t for t in (term_token(w) for w in text.split()) if t]


def sentence_starts(text: str) -> list[bool]:
    """For each of term_tokens(text): does it start a sentence (the first word, or one after . ? ! or …)?"""
    starts, after_end = [], True
    for word in text.split():
        if term_token(word):
            starts.append(after_end)
            after_end = False
        if word.rstrip("\"')]»”’").endswith((".", "?", "!", "…")):
            after_end = True
    return starts


def find_term_occurrences(tokens: list[str], terms, starts: list[bool] | None = None) -> list[tuple[int, int, str]]:
    """(start, length, term) for each occurrence of a term in the tokens, case-sensitive.

    A term that is lower case by its project's convention ("pandas") also
    counts capitalised where ``starts`` (see sentence_starts) says a sentence
    starts, not elsewhere: "a Pandas DataFrame" is the reference's own spelling,
    not the canonical one. Longer terms are matched first and occurrences never
    overlap, so "Data Umbrella" is one occurrence, not also one of "Data".
    """
    forms = sorted(((term_tokens(term), term) for term in set(terms)), key=lambda item: -len(item[0]))
    taken = [False] * len(tokens)
    found = []
    for form, term in forms:
        n = len(form)
        capitalised = form[0][:1].upper() + form[0][1:] if form and form[0][:1].islower() else None
        for i in range(len(tokens) - n + 1):
            if any(taken[i : i + n]) or tokens[i + 1 : i + n] != form[1:]:
                continue
            if tokens[i] == form[0] or (tokens[i] == capitalised and starts is not None and starts[i]):
                taken[i : i + n] = [True] * n
                found.append((i, n, term))
    return sorted(found)


def score_terms(reference: str, hypothesis: str, terms) -> TermScore:
    """Each reference occurrence of a term: is it spelled exactly so at its aligned place in the hypothesis?

    Words are compared as written (case-sensitive) after stripping surrounding
    punctuation and a possessive 's. The two texts are aligned by edit distance
    on lower-cased words, so a misspelled term ("numpy", "Rishama") lines up
    with its reference word as a substitution; a term is right when each of its
    words is matched, in order, by a hypothesis word spelled exactly like it.
    A term split or merged differently ("py ladies" for "PyLadies") is wrong.
    """
    ref, hyp = term_tokens(reference), term_tokens(hypothesis)
    occurrences = find_term_occurrences(ref, terms, sentence_starts(reference))
    score = TermScore(len(occurrences), 0)
    if not occurrences:
        return score
    ref_to_hyp: dict[int, int] = {}
    if hyp:
        result = process_words([w.lower() for w in ref], [w.lower() for w in hyp])
        for chunk in result.alignments[0]:
            if chunk.type in ("equal", "substitute"):
                # Indices include the leading dummy word.
                for k in range(chunk.ref_end_idx - chunk.ref_start_idx):
                    if chunk.ref_start_idx + k >= 1:
                        ref_to_hyp[chunk.ref_start_idx + k - 1] = chunk.hyp_start_idx + k - 1
    for start, length, term in occurrences:
        at = [h for h in (ref_to_hyp.get(start + j) for j in range(length)) if h is not None]
        right = (
            len(at) == length
            and all(at[j] == at[0] + j for j in range(length))
            and all(hyp[at[j]] == ref[start + j] for j in range(length))
        )
        counts = score.per_term.setdefault(term, [0, 0])
        counts[1] += 1
        if right:
            counts[0] += 1
            score.right += 1
        else:
            written = " ".join(hyp[h] for h in at) or "(nothing)"
            score.misses.append((" ".join(ref[start : start + length]), written))
    return score


def talk_terms(truth: Truth, speakers: Iterable[str], glossary_terms: Iterable[str]) -> list[str]:
    """The names and project terms checked in a talk: the glossary's canonical forms, the page's speakers
    (whole and each word: "Hugo Bowne-Anderson", "Hugo", "Bowne-Anderson") and the truth's speaker labels
    that are names (capitalised: "Reshama"; not "speaker" or "host"). ``glossary_terms``: e.g.
    ``pipeline.glossary.load_glossary().canonical_forms``."""
    names = set(glossary_terms)
    for speaker in speakers:
        names.add(speaker)
        names.update(term_tokens(speaker))
    names.update(u.speaker for u in truth.utterances if u.speaker[:1].isupper())
    return sorted(n for n in names if term_tokens(n))
