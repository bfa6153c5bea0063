"""Context from the page: bias the model toward the page's own names and terms.

CONTRACT (other modules rely on these names; keep them):

- ``page_vocabulary(page, glossary) -> list[str]``: distinct names and
  terms from the page, most useful first: speakers, glossary terms found in the
  title, chapter titles and tags (canonical spelling), then other words of the
  title and chapters that are spelled like names of things (STUMPY, HoloViews,
  a capitalised word inside a sentence-case title: "with Coiled").
- ``build_prompt(page, tokenizer=None, *, max_tokens=PROMPT_MAX_TOKENS,
  glossary) -> PromptContext``: ``PromptContext(initial_prompt, hotwords)``
  to pass to ``transcribe.iter_segments``/``transcribe``; both None when the page
  gives nothing to say. The runner skips this when
  ``[transcribe] use_page_context`` is false. The glossary is always the
  caller's (``glossary.load_glossary()``): nothing here reads files.
- ``prompt_for(page, options: TranscribeOptions, tokenizer=None, *, glossary)
  -> PromptContext``: what the transcribe stage should pass under ``options``:
  nothing when ``use_page_context`` is off or decoding is sequential
  (``batch_size`` <= 1, see below), else ``build_prompt``.
- ``echoes_prompt(text, context) -> bool``: True when a decoded window's text is
  nothing but words of the prompt ("Sam Bail." for a 25-second window): a known
  failure where the model copies its prompt instead of transcribing; the caller
  should decode that window again without the prompt.
- ``load_tokenizer(model_dir)``: the model's own tokenizer (``tokenizer.json``),
  for counting prompt tokens exactly; ``WhisperModel.hf_tokenizer`` works too.

Why both fields carry the same text: faster-whisper puts ``hotwords`` before
every 30-second window, while ``initial_prompt`` reaches only the first window
when ``condition_on_previous_text`` is off (our default, against loops) in
sequential decoding; in batched decoding both reach every window. Sending the
text once, as ``hotwords``, biases the whole talk in both modes without paying
for it twice; ``initial_prompt`` is left None.

Why not in sequential decoding: there the model predicts its own timestamps, and
with any prompt tiny.en now and then closes a segment early and skips the rest
of the 30-second window (measured on six TTS mini-talks: WER 15.1% -> 34.8%).
Batched decoding runs without timestamp tokens and gains from the prompt
(project terms spelled right 43% -> 72% with the glossary, WER unchanged).

The text reads like a sentence ("Data Umbrella webinar: <title>. Speakers: A
and B. Topics: ...") because Whisper imitates its prompt's style: a
punctuated, capitalised prompt keeps the transcript punctuated and
capitalised. It stays within ``max_tokens`` (Whisper allows n_text_ctx // 2 - 1
= 223 prompt tokens; 120 leaves room for the 30 s of words that follow).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from .config import TranscribeOptions
from .glossary import Glossary
from .schema import Page

PROMPT_MAX_TOKENS = 120
_NAMELIKE = re.compile(r"^(?:[A-Z]{2,}[A-Za-z0-9]*|[A-Za-z]+[A-Z][A-Za-z0-9]*|[A-Za-z]+\d+[A-Za-z0-9]*)$")
_MARKDOWN = re.compile(r"\[([^\]]*)\]\([^)]*\)|[*_`#>]+")


@dataclass(frozen=True)
class PromptContext:
    initial_prompt: str | None = None
    hotwords: str | None = None


def load_tokenizer(model_dir: str | Path):
    """The Whisper model's tokenizer from its ``tokenizer.json`` (a ``tokenizers.Tokenizer``)."""
    import tokenizers

    return tokenizers.Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))


def count_tokens(text: str, tokenizer=None) -> int:
    """Prompt tokens ``text`` costs: exact with a tokenizer, else an estimate that errs high."""
    if tokenizer is not None:
        ids = tokenizer.encode(" " + text.strip())  # faster-whisper adds the leading space too
        return len(getattr(ids, "ids", ids))
    # Whisper's BPE spends about one token per 4 letters of plain English and more on
    # names and punctuation: one token per 2.5 letters of a word, one per mark.
    return sum(math.ceil(len(w) / 2.5) for w in re.findall(r"[A-Za-z0-9]+", text)) + len(
        re.findall(r"[^\sA-Za-z0-9]", text)
    )


def prompt_for(page: Page, options: TranscribeOptions, tokenizer=None, *, glossary: Glossary) -> PromptContext:
    """The page context to decode with under ``options`` (empty where it would do harm or is off)."""
    if not options.use_page_context or options.batch_size <= 1:
        return PromptContext()
    return build_prompt(page, tokenizer, glossary=glossary)


def echoes_prompt(text: str, context: PromptContext) -> bool:
    """True when every word of ``text`` is a word of the prompt (and there is at least one)."""
    prompt = " ".join(p for p in (context.initial_prompt, context.hotwords) if p)
    words = re.findall(r"[\w'-]+", text.lower())
    return bool(words and prompt) and set(words) <= set(re.findall(r"[\w'-]+", prompt.lower()))


def _clean(text: str) -> str:
    text = _MARKDOWN.sub(lambda m: m.group(1) or " ", text)
    return re.sub(r"\s+", " ", text).strip(" :-–—|,.")


def _chapter_titles(page: Page) -> list[str]:
    titles = [_clean(c.title) for v in page.videos for c in v.chapters]
    return list(dict.fromkeys(t for t in titles if t))


def page_vocabulary(page: Page, glossary: Glossary) -> list[str]:
    """Distinct names and terms from the page's title, speakers, chapter titles and tags."""
    texts = [_clean(page.title), *_chapter_titles(page)]
    found: list[str] = [_clean(s) for s in page.speakers]
    for text in texts:
        found += glossary.terms_in(text)
    for tag in page.tags:
        found += glossary.terms_in(tag)
    for text in texts:
        found += _names_in(text, glossary)
    seen: set[str] = set()
    vocabulary = []
    for item in found:
        if item and item.lower() not in seen:
            seen.add(item.lower())
            vocabulary.append(item)
    return vocabulary


def _names_in(text: str, glossary: Glossary) -> list[str]:
    """Words spelled like names of things (STUMPY, HoloViews, "with Coiled") that the glossary lacks.

    A capitalised word counts only inside a clause of a sentence-case title: the
    first word of a clause ("Q&A: How ...") and Title Case Headings prove nothing.
    """
    names = []
    for clause in re.split(r"[:.?!;()\[\]]\s*|\s[-–—]+\s", text):
        words = [w.strip(".-") for w in re.findall(r"[\w.+#-]+", clause)]
        title_case = sum(w[:1].isupper() for w in words) > len(words) / 2
        for i, word in enumerate(words):
            capitalised_inside = i > 0 and not title_case and word[:1].isupper() and len(word) > 1
            if (_NAMELIKE.match(word) or capitalised_inside) and glossary.lookup(word) is None:
                names.append(word)
    return names


def build_prompt(
    page: Page,
    tokenizer=None,
    *,
    max_tokens: int = PROMPT_MAX_TOKENS,
    glossary: Glossary,
) -> PromptContext:
    """A natural-sounding sentence naming the page's title, speakers, topics and terms.

    ``glossary`` is the caller's (``glossary.load_glossary()``): nothing is read from disk here.
    """
    title = glossary.apply_text(_clean(page.title))
    speakers = [_clean(s) for s in page.speakers if _clean(s)]
    vocabulary = page_vocabulary(page, glossary)
    topics = [glossary.apply_text(t) for t in _chapter_titles(page)]

    # Most useful first; each part is kept only while the whole still fits.
    parts: list[str] = []

    def fits(candidate: list[str]) -> bool:
        return count_tokens(" ".join(candidate), tokenizer) <= max_tokens

    def add(sentence: str) -> bool:
        if fits(parts + [sentence]):
            parts.append(sentence)
            return True
        return False

    if title and not add(f"Data Umbrella webinar: {title}."):
        add(f"Data Umbrella webinar: {_shorten(title, max_tokens // 2, tokenizer)}.")
    if not title:
        add("Data Umbrella webinar.")
    _add_list(parts, "Speakers: ", speakers, fits, joiner=" and ")
    # A chapter title earns its tokens only by naming something the prompt does not yet hold:
    # "Introduction", "Q&A" or "Support Data Umbrella" teach the model nothing.
    named = {n.lower() for n in [*speakers, *glossary.terms_in(title), *_names_in(title, glossary)]}
    useful_topics = []
    for topic in topics:
        names = {n.lower() for n in [*glossary.terms_in(topic), *_names_in(topic, glossary)]}
        if names - named:
            useful_topics.append(topic)
            named |= names
    _add_list(parts, "Topics: ", useful_topics, fits)
    said = " ".join(parts).lower()
    _add_list(parts, "Also: ", [v for v in vocabulary if v.lower() not in said], fits)
    if not title and len(parts) == 1:
        return PromptContext()
    return PromptContext(initial_prompt=None, hotwords=" ".join(parts))


def _add_list(parts: list[str], label: str, items: list[str], fits, *, joiner: str = ", ") -> None:
    """Append ``label`` + as many of ``items`` as fit, as one sentence."""
    chosen: list[str] = []
    for item in items:
        if fits(parts + [label + _join(chosen + [item], joiner) + "."]):
            chosen.append(item)
    if chosen:
        parts.append(label + _join(chosen, joiner) + ".")


def _join(items: list[str], joiner: str) -> str:
    if joiner == " and " and len(items) > 2:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return joiner.join(items)


def _shorten(text: str, max_tokens: int, tokenizer) -> str:
    words = text.split()
    while len(words) > 1 and count_tokens(" ".join(words), tokenizer) > max_tokens:
        words.pop()
    return " ".join(words)
