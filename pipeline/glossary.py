"""Spelling fixes for names and project terms, applied after transcription.

CONTRACT (other modules rely on these names; keep them):

- ``load_glossary(*paths, shipped=True) -> Glossary``: the shipped
  ``configs/glossary.toml`` (unless ``shipped=False``) then each user file in
  order; a later file's variant wins over an earlier one's. Empty paths are
  skipped. A missing or malformed file raises ``GlossaryError`` (a ValueError)
  whose one-line message names the file and, where it can, the line.
- ``Glossary.apply_text(text) -> str``; ``Glossary.canonical_forms``;
  ``Glossary.terms_in(text) -> list[str]``: canonical forms of the terms in a text.
- ``apply_to_transcription(transcription, glossary) -> Transcription``: a new
  Transcription with the words and segment texts rewritten; the input is untouched.

Matching rules: whole words only (punctuation around a word is kept, a word is
never matched inside another: "expandas" stays), case ignored, longest variant
first, a possessive "'s" kept. A multi-word variant matches only when no
punctuation separates its words ("data, umbrella" is left alone).

Sentence starts: a canonical form that is lower case by its project's convention
(pandas, scikit-learn, conda) is capitalised when it replaces a capitalised word
that starts a sentence ("Pandas is fast." stays "Pandas"), as the volunteers'
guide asks for capitals at sentence starts; anywhere else it is written as is
("uses Pandas" -> "uses pandas").
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .config import configs_dir
from .schema import Segment, Transcription, Word
from .utils import CLOSERS, SENTENCE_END

SHIPPED_FILE = "glossary.toml"

# A token is one whitespace-separated word as Whisper writes it: " word," with
# its leading space. Split it into space, leading punctuation, the word itself,
# and trailing punctuation; the word keeps inner marks ("scikit-learn", "fast.ai").
_TOKEN_RE = re.compile(r"^(\s*)(\W*?)(\w(?:.*\w)?|)(\W*)$", re.S)
_POSSESSIVE_RE = re.compile(r"^(.*\w)(['’]s)$", re.I | re.S)


class GlossaryError(ValueError):
    """A glossary file that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class Term:
    canonical: str
    variants: tuple[str, ...] = ()
    source: str = ""  # the file it came from, for messages


@dataclass(frozen=True)
class _Token:
    space: str
    lead: str
    word: str
    trail: str
    key: str  # the word, lower case, for matching
    possessive: str  # "'s" when the word ends with one, else ""
    bare_key: str  # key without the possessive

    @classmethod
    def parse(cls, text: str) -> _Token:
        match = _TOKEN_RE.match(text)
        assert match is not None  # every part of the pattern may be empty: it matches any text
        space, lead, word, trail = match.groups()
        possessive = ""
        bare = word
        m = _POSSESSIVE_RE.match(word)
        if m:
            bare, possessive = m.groups()
        return cls(space, lead, word, trail, _key(word), possessive, _key(bare))


def _key(word: str) -> str:
    return word.replace("’", "'").lower()


def _variant_key(variant: str) -> tuple[str, ...]:
    return tuple(_key(_Token.parse(part).word) for part in variant.split())


@dataclass
class Glossary:
    terms: list[Term] = field(default_factory=list)
    _index: dict[tuple[str, ...], Term] = field(default_factory=dict, repr=False)

    def add(self, term: Term) -> None:
        """Add ``term``; its variants replace any earlier term's same variants."""
        self.terms.append(term)
        for variant in (term.canonical, *term.variants):
            key = _variant_key(variant)
            if key and all(key):
                self._index[key] = term

    @property
    def canonical_forms(self) -> list[str]:
        return list(dict.fromkeys(t.canonical for t in self.terms))

    @property
    def max_words(self) -> int:
        return max((len(k) for k in self._index), default=0)

    def lookup(self, phrase: str) -> Term | None:
        """The term that ``phrase`` (a variant or canonical form, any case) belongs to."""
        return self._index.get(_variant_key(phrase))

    def apply_text(self, text: str) -> str:
        """``text`` with every variant replaced by its canonical spelling."""
        parts = re.findall(r"\s*\S+", text)
        tail = text[len("".join(parts)) :]
        out: list[str] = []
        pos = 0
        for start, end, new in self._replacements(parts):
            out.extend(parts[pos:start])
            out.extend(new)
            pos = end
        out.extend(parts[pos:])
        return "".join(out) + tail

    def _replacements(self, texts: Sequence[str]) -> list[tuple[int, int, list[str]]]:
        """(start, end, new token texts) for each match in ``texts`` that changes something."""
        tokens = [_Token.parse(t) for t in texts]
        found = []
        for i, n, term in self._matches(tokens):
            new = _respell(tokens[i : i + n], term.canonical, sentence_start=_starts_sentence(tokens, i))
            if new != list(texts[i : i + n]):
                found.append((i, i + n, new))
        return found

    def _matches(self, tokens: list[_Token]) -> Iterator[tuple[int, int, Term]]:
        """(first token, token count, term) for each match, left to right, longest first."""
        longest = self.max_words
        i = 0
        while i < len(tokens):
            for n in range(min(longest, len(tokens) - i), 0, -1):
                term = self._match(tokens, i, n)
                if term is not None:
                    yield i, n, term
                    i += n
                    break
            else:
                i += 1

    def terms_in(self, text: str) -> list[str]:
        """Canonical forms of the terms that occur in ``text`` (any variant, whole words), in order."""
        tokens = [_Token.parse(t) for t in text.split()]
        return list(dict.fromkeys(term.canonical for _, _, term in self._matches(tokens)))

    def _match(self, tokens: list[_Token], i: int, n: int) -> Term | None:
        span = tokens[i : i + n]
        # Punctuation between the words of a multi-word variant breaks the match.
        if any(t.trail for t in span[:-1]) or any(t.lead for t in span[1:]) or any(t.possessive for t in span[:-1]):
            return None
        if not all(t.word for t in span):
            return None
        head = tuple(t.key for t in span[:-1])
        last = span[-1]
        term = self._index.get(head + (last.key,))
        if term is None and last.possessive:
            term = self._index.get(head + (last.bare_key,))
        return term


def _starts_sentence(tokens: list[_Token], i: int) -> bool:
    first = tokens[i]
    if not first.word[:1].isupper():
        return False
    if i == 0:
        return True
    before = tokens[i - 1]
    return before.trail.rstrip(CLOSERS).endswith(SENTENCE_END)


def _respell(span: list[_Token], canonical: str, *, sentence_start: bool) -> list[str]:
    """New token texts for the matched ``span``: canonical words, old space and punctuation."""
    words = canonical.split()
    if sentence_start and words[0][:1].islower():
        words[0] = words[0][:1].upper() + words[0][1:]
    first, last = span[0], span[-1]
    # The possessive is kept unless the matched variant itself ended with it.
    keep_possessive = last.possessive and last.key != last.bare_key and not canonical.lower().endswith(last.possessive)
    suffix = (last.possessive if keep_possessive else "") + last.trail
    # Word for word, each keeps the space before it (which may be a line break).
    spaces = [t.space for t in span] if len(span) == len(words) else [first.space] + [" "] * (len(words) - 1)
    texts = [spaces[0] + first.lead + words[0]] + [space + w for space, w in zip(spaces[1:], words[1:], strict=True)]
    texts[-1] += suffix
    return texts


def apply_to_transcription(transcription: Transcription, glossary: Glossary) -> Transcription:
    """A copy of ``transcription`` with the glossary applied to its words and segment texts."""
    segments = [_apply_to_segment(s, glossary) for s in transcription.segments]
    return dataclasses.replace(transcription, segments=segments)


def _apply_to_segment(segment: Segment, glossary: Glossary) -> Segment:
    words = list(segment.words)
    replacements = glossary._replacements([w.text for w in words])
    out: list[Word] = []
    pos = 0
    for start, end, texts in replacements:
        out.extend(words[pos:start])
        out.extend(_retime(words[start:end], texts))
        pos = end
    out.extend(words[pos:])
    return dataclasses.replace(segment, text=glossary.apply_text(segment.text), words=out)


def _retime(old: list[Word], texts: list[str]) -> list[Word]:
    """Words carrying ``texts`` over the time span of ``old``."""
    if len(old) == len(texts):
        # A one-to-one respelling keeps each word's own time and confidence.
        return [dataclasses.replace(w, text=t) for w, t in zip(old, texts, strict=True)]
    start, end = old[0].start, old[-1].end
    probability = min(w.probability for w in old)
    # Share the span among the new words by their length in characters.
    weights = [max(1, len(t.strip())) for t in texts]
    total = sum(weights)
    new = []
    t0 = start
    for i, (text, weight) in enumerate(zip(texts, weights, strict=True)):
        t1 = end if i == len(texts) - 1 else t0 + (end - start) * weight / total
        new.append(Word(start=round(t0, 3), end=round(t1, 3), text=text, probability=probability))
        t0 = t1
    return new


def load_glossary(*paths: str | Path | None, shipped: bool = True) -> Glossary:
    """The shipped glossary (unless ``shipped=False``) overlaid by each file in ``paths``."""
    glossary = Glossary()
    files: list[Path] = [configs_dir() / SHIPPED_FILE] if shipped else []
    files += [Path(p) for p in paths if p not in (None, "")]
    for path in files:
        for term in _read_terms(path):
            glossary.add(term)
    return glossary


def _read_terms(path: Path) -> list[Term]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GlossaryError(f"{path}: glossary file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise GlossaryError(f"{path}: cannot read glossary: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise GlossaryError(f"{path}: not valid TOML: {e}") from None
    unknown = set(data) - {"term"}
    if unknown:
        raise GlossaryError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; expected only [[term]] tables")
    entries = data.get("term", [])
    if not isinstance(entries, list):
        raise GlossaryError(f"{path}: 'term' must be an array of tables ([[term]])")
    header_lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith("[[term]]")]
    terms: list[Term] = []
    seen: dict[tuple[str, ...], str] = {}
    for number, entry in enumerate(entries):
        where = f"{path}:{header_lines[number]}" if len(header_lines) == len(entries) else f"{path}: term #{number + 1}"
        term = _parse_term(entry, where, str(path))
        for variant in (term.canonical, *term.variants):
            key = _variant_key(variant)
            if not key or not all(key):
                raise GlossaryError(f"{where}: variant {variant!r} holds no word")
            other = seen.setdefault(key, term.canonical)
            if other != term.canonical:
                raise GlossaryError(f"{where}: {variant!r} is listed for both {other!r} and {term.canonical!r}")
        terms.append(term)
    return terms


def _parse_term(entry: object, where: str, source: str) -> Term:
    if not isinstance(entry, dict):
        raise GlossaryError(f"{where}: a term must be a table with 'canonical' and 'variants'")
    unknown = set(entry) - {"canonical", "variants"}
    if unknown:
        raise GlossaryError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: canonical, variants)")
    canonical = entry.get("canonical")
    if not isinstance(canonical, str) or not canonical.strip():
        raise GlossaryError(f"{where}: 'canonical' must be a non-empty string")
    variants = entry.get("variants", [])
    if not isinstance(variants, list) or not all(isinstance(v, str) and v.strip() for v in variants):
        raise GlossaryError(f"{where}: 'variants' must be a list of non-empty strings")
    return Term(canonical.strip(), tuple(v.strip() for v in variants), source)
