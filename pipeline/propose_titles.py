"""Titles for proposed chapters, made only of the talk's own words.

CONTRACT (other modules rely on these names; keep them):

- ``question_title(text) -> str``: ``"Q&A - How Does One Get Into AI Security?"`` from a
  question read aloud ("So the next question is, how does one get into AI security?").
- ``section_titles(sections, taken=()) -> list[str]``: a short title for each section (its
  text), from a phrase that announces it ("let's talk about the distributed scheduler")
  or else its key phrase: the words most particular to it among all the talk's sections.
- ``title_case(text) -> str``, ``content_tokens(text) -> list[str]``: shared with the
  boundary finder (``propose``), which compares sections by their content tokens.

Plain functions over strings: no model, no invented word. A title is never empty: a
section without a key phrase takes its first content words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

# Words that carry no topic: function words, and a speaker's fillers.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any anyone anything are aren't around as at
    back be because been before being below between both but by can can't could couldn't did didn't do does
    doesn't doing don't down during each else even every everyone everything few for from further get gets
    getting go goes going gonna got had has have having he he's her here hers him his how i i'd i'll i'm i've
    if in into is isn't it it's its itself just kind know let let's like lot lots make maybe me mean more most
    much my myself need no nor not now of off oh ok okay on once one only or other our ours out over own pretty
    put quite really right said same say see she should so some something sort still such sure take than
    thank thanks that that's the their them then there there's these they they're thing things think this
    those through to too uh um under until up us use very want was way we we'll we're we've well were what
    what's when where which while who why will with would yeah yes yet you you'll you're you've your yours
    actually basically gonna wanna kinda first second next last new good great time today
    tell told comes come came might thought found look looks looking wherein little bit stuff many give gave
    show showed start started try tried ask asked answer guess guys folks cool awesome y'all went makes made""".split()
)
# The words a key phrase of three may hold in its middle ("Rules of Thumb", "Search and Replace").
_JOINERS = frozenset("of and for in on".split())
# Kept lower case inside a title (not at its start).
_SMALL = frozenset("a an and as at but by for from in into of on or the to via vs with".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'&+-]*|\d+")
_QUESTION_START = re.compile(
    r"\b(how|what|what's|why|when|where|which|who|whom|whose|is|are|was|were|do|does|did|can|could|"
    r"should|would|will|have|has|any|if)\b",
    re.IGNORECASE,
)
# "the next question is from Anna:", "someone asks", "and the question is" before the question itself.
_QUESTION_LEAD = re.compile(
    r"^.*?\b(?:question(?:s)?(?: is| was| comes| here)?(?: from [A-Z]?\w+(?: [A-Z]\w+)?)?|asks?|asked|"
    r"asking|wants to know|wondering)\s*[:,-]?\s+",
    re.IGNORECASE,
)
# A phrase that announces a section's subject: "let's talk about X", "the next topic is X".
_ANNOUNCE = re.compile(
    r"\b(?:talk(?:ing)? about|speak(?:ing)? about|tell you about|look(?:ing)? at|move on to|moving on to|"
    r"dive into|get into|introduce|show(?:ing)? you(?: how to)?|go(?:ing)? over|walk you through|"
    r"(?:topic|section|part|step|thing) (?:is|will be))\s+(.+)",
    re.IGNORECASE,
)
_MAX_QUESTION_WORDS = 14
_MAX_PHRASE_WORDS = 5


def content_tokens(text: str) -> list[str]:
    """The words that carry a topic, lower case and crudely stemmed ("schedulers" -> "scheduler")."""
    tokens = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS or len(word) < 3 or word.isdigit():
            continue
        tokens.append(_stem(word))
    return tokens


def _stem(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4 and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def title_case(text: str) -> str:
    """Title case that keeps the talk's own capitals (NumPy, AI, Q&A) and small words low."""
    words = text.split()
    out = []
    for i, word in enumerate(words):
        if any(c.isupper() for c in word[1:]) or (word[:1].isupper() and i):
            out.append(word)
        elif 0 < i < len(words) - 1 and word.lower() in _SMALL:
            out.append(word.lower())
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


def _clean(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").split())


def question_title(text: str) -> str:
    """``Q&A - <the question, title case>``: the question's own words from its first question word."""
    question = _clean(text)
    lead = _QUESTION_LEAD.match(question)
    if lead and len(question) - lead.end() > 10:
        question = question[lead.end() :]
    # The last sentence that is a question, from its first question word on.
    parts = [p for p in re.split(r"(?<=[.!?])\s+", question) if p.strip()]
    asked = next((p for p in reversed(parts) if p.rstrip().endswith("?")), parts[-1] if parts else question)
    start = _QUESTION_START.search(asked)
    if start and len(asked.split()) > 6:
        asked = asked[start.start() :]
    words = asked.rstrip("?.! ").split()
    if len(words) > _MAX_QUESTION_WORDS:
        words = words[:_MAX_QUESTION_WORDS]
    words = _strip_edges(words, _KEEP_FIRST)
    if not words:
        return "Q&A"
    return "Q&A - " + title_case(" ".join(words)).rstrip(",;:") + "?"


def _strip_edges(words: list[str], keep_first: frozenset[str] = frozenset()) -> list[str]:
    """Drop fillers and dangling function words at either end ("so", "and", "of the"), but for a
    first word in ``keep_first`` (a question's "how")."""
    bare = [w.strip(",;:.!?\"'()").lower() for w in words]
    lo, hi = 0, len(words)
    while lo < hi and (bare[lo] in STOPWORDS and bare[lo] not in keep_first or not bare[lo]):
        lo += 1
    while hi > lo and (bare[hi - 1] in STOPWORDS or not bare[hi - 1]):
        hi -= 1
    return [w.strip(',;:"()') for w in words[lo:hi]]


# Question words stay at a question's start even though they carry no topic.
_KEEP_FIRST = frozenset(
    "how what what's why when where which who is are do does did can could should would will".split()
)


def phrase_title(text: str, pattern: re.Pattern[str]) -> str | None:
    """The words from where ``pattern`` matches to the clause's end (at most six), in title case:
    "thank you all for coming, and see you" -> "Thank You All for Coming"."""
    match = pattern.search(text)
    if not match:
        return None
    words = re.split(r"[.,;:!?]", text[match.start() :])[0].split()[: _MAX_PHRASE_WORDS + 1]
    while words and words[-1].lower() in STOPWORDS:
        words.pop()
    return title_case(" ".join(words)) if len(words) >= 2 else None


def _announced(text: str) -> str | None:
    """The subject a section announces in its first sentences ("let's talk about X" -> "X")."""
    match = _ANNOUNCE.search(text)
    if not match:
        return None
    phrase = re.split(r"[.,;:!?]| and then | so | because | is | are | was | will ", match.group(1))[0]
    words = _strip_edges(_strip_edges(phrase.split())[: _MAX_PHRASE_WORDS + 1])
    if len(words) < 2 or len({w.lower() for w in words}) < len(words) or not content_tokens(" ".join(words)):
        return None  # one word ("how easy it is" -> "easy") says less than the key phrase
    return " ".join(words)


def _phrases(text: str) -> list[tuple[str, ...]]:
    """Every run of 1 to 3 words without a stopword at either end and no sentence break inside."""
    found = []
    for clause in re.split(r"[.,;:!?()\"]+", text):
        words = _WORD.findall(clause)
        for n in (1, 2, 3):
            for i in range(len(words) - n + 1):
                gram = words[i : i + n]
                if not (_edge_ok(gram[0]) and _edge_ok(gram[-1])) or len({w.lower() for w in gram}) < n:
                    continue
                if n == 3 and not (_edge_ok(gram[1]) or gram[1].lower() in _JOINERS):
                    continue
                found.append(tuple(gram))
    return found


def _edge_ok(word: str) -> bool:
    lower = word.lower()
    return lower not in STOPWORDS and len(lower) > 2 and not lower.isdigit()


def section_titles(sections: Sequence[str], taken: Iterable[str] = ()) -> list[str]:
    """A title for each section's text: what it announces, else its key phrase; no two alike."""
    # A part's subject is named early: a phrase said in its first HEAD_WORDS words counts EARLY times over.
    counted = [Counter(_phrases(text)) + _early(text) for text in sections]
    df: Counter[tuple[str, ...]] = Counter()
    for counts in counted:
        df.update({_key(p) for p in counts})
    used = {t.lower() for t in taken}
    titles = []
    for text, counts in zip(sections, counted, strict=True):
        head = " ".join(re.split(r"(?<=[.!?])\s+", text)[:5])
        title = _announced(head)
        if title is None or title.lower() in used:
            title = _key_phrase(counts, df, len(sections), used) or _first_words(text)
        title = title_case(title)
        used.add(title.lower())
        titles.append(title)
    return titles


HEAD_WORDS = 30
EARLY = 3


def _early(text: str) -> Counter:
    head = " ".join(text.split()[:HEAD_WORDS])
    return Counter({p: n * (EARLY - 1) for p, n in Counter(_phrases(head)).items()}) if EARLY > 1 else Counter()


def _key(phrase: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_stem(w.lower()) for w in phrase)


def _key_phrase(counts: Counter, df: Counter, documents: int, used: set[str]) -> str | None:
    """The phrase said most often here and least elsewhere; longer phrases win ties."""
    grouped: dict[tuple[str, ...], int] = Counter()
    forms: dict[tuple[str, ...], Counter] = {}
    for phrase, n in counts.items():
        key = _key(phrase)
        grouped[key] += n
        forms.setdefault(key, Counter())[" ".join(phrase)] += n
    best, best_score = None, 0.0
    for key, n in grouped.items():
        if n < 2 and len(key) == 1:
            continue
        score = n * math.log(1 + documents / df[key]) * (1 + 0.6 * (len(key) - 1))
        form = _display_form(forms[key])
        if score > best_score and form.lower() not in used:
            best, best_score = form, score
    return best


def _display_form(forms: Counter) -> str:
    """The phrase as the talk wrote it most often, preferring a capitalised form (a name)."""
    return max(forms, key=lambda f: (forms[f], any(c.isupper() for c in f)))


def _first_words(text: str) -> str:
    words = [w for w in _WORD.findall(text) if _edge_ok(w)]
    return " ".join(words[:3]) or " ".join(_WORD.findall(text)[:3]) or "Untitled"
