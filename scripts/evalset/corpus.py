"""Corpus text: the human-edited 2020 transcripts read into sections, turns and speakable sentences."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Turn:
    speaker: str | None  # None: the transcript names nobody here
    sentences: list[str]


@dataclass
class SourceSection:
    title: str
    turns: list[Turn] = field(default_factory=list)

    @property
    def words(self) -> int:
        return sum(len(s.split()) for t in self.turns for s in t.sentences)


HEADING = re.compile(r"^(#{2,4})\s+(.*\S)\s*$")
SPEAKER = re.compile(r"^\s*\*{0,2}([A-Z][a-z]+(?: [A-Z][a-z]+)?)\*{0,2}\s*:\s*\*{0,2}\s*(.*)$")
LEADING_TIME = re.compile(r"^\s*\(?\d{1,2}:\d{2}(?::\d{2})?\)?\s+")
# What a voice reads aloud unpredictably: code, paths, handles, URLs, clock times.
UNSPEAKABLE = re.compile(r"[`/\\@#_=<>{}\[\]|~*^]|https?:|www\.|\.com|\d:\d|\d\.\d{2,}")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'A-Z0-9])")


def clean_title(raw: str) -> str:
    title = re.sub(r"<[^>]*>", "", raw)  # <a href=...>05:00</a>
    title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # [text](url)
    title = re.sub(r"\(\s*\(?[\d.:]+\)?\s*\)|\(\s*\d{1,2}[:.]\d{2}(?::\d{2})?\s*\)", "", title)
    title = re.sub(r"\s\d{1,2}[:.]\d{2}(?::\d{2})?\s*$", "", title)
    title = title.replace("(", " ").replace(")", " ")
    return re.sub(r"\s+", " ", title).strip(" -:.")


def speakable_sentences(paragraph: str) -> list[str]:
    """The sentences of a Markdown paragraph that a voice reads predictably."""
    text = re.sub(r"<[^>]*>", " ", paragraph)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their words
    text = re.sub(r"\([^()]*\)", " ", text)  # stage directions: (clicks on ...), (gigabytes)
    text = re.sub(r"\*\*|__", "", text)
    text = (
        text.replace("\u2019", "'")
        .replace("\u2018", "'")
        .replace("\u201c", '"')
        .replace("\u201d", '"')
        .replace("\u2026", "...")
        .replace("\u2013", "-")
        .replace("\u2014", "-")
        .replace("\u00a0", " ")
    )
    text = re.sub(r"\s+-+\s+", ", ", text)  # spoken dashes are pauses
    text = LEADING_TIME.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    out = []
    for sentence in SENTENCE_END.split(text):
        sentence = sentence.strip(" ,;")
        if not sentence or UNSPEAKABLE.search(sentence) or not re.search(r"[A-Za-z]{2}", sentence):
            continue
        if not all(ord(c) < 128 for c in sentence):
            continue
        out.append(sentence)
    return out


def transcript_lines(path: Path) -> list[str]:
    """The lines of the transcript's text: after "## Transcript", or (2020/05's layout) from the first "###"."""
    lines = path.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n")
    start = next((i + 1 for i, line in enumerate(lines) if line.strip() == "## Transcript"), None)
    if start is None:
        start = next((i for i, line in enumerate(lines) if line.startswith("### ")), None)
    if start is None:
        raise SystemExit(f"{path}: neither a '## Transcript' nor a '###' heading")
    return lines[start:]


class SectionReader:
    """Lines in, sections out: paragraphs gathered, each flushed into its section's turns."""

    def __init__(self) -> None:
        self.sections = [SourceSection("Introduction")]
        self.speaker: str | None = None
        self.paragraph: list[str] = []
        self.in_fence = False

    def flush(self) -> None:
        text = " ".join(self.paragraph).strip()
        self.paragraph.clear()
        if not text:
            return
        label = SPEAKER.match(text)
        if label and len(label.group(2)) < len(text):
            self.speaker, text = label.group(1), label.group(2)
        sentences = speakable_sentences(text)
        if sentences:
            turns = self.sections[-1].turns
            if turns and turns[-1].speaker == self.speaker:
                turns[-1].sentences.extend(sentences)
            else:
                turns.append(Turn(self.speaker, sentences))

    def line(self, line: str) -> None:
        if line.strip().startswith("```"):
            self.in_fence = not self.in_fence
            self.flush()
            return
        if self.in_fence:
            return
        heading = HEADING.match(line)
        if heading:
            self.flush()
            self.speaker = None  # a label holds within its section: 2020/04 labels only the dialogue
            self.sections.append(SourceSection(clean_title(heading.group(2)) or "Untitled"))
        elif not line.strip():
            self.flush()
        else:
            if SPEAKER.match(line) and self.paragraph:  # "Ty: ..." lines with no blank line between
                self.flush()
            self.paragraph.append(line.strip())


def read_sections(path: Path) -> list[SourceSection]:
    """A human-edited transcript split at its headings into turns of speakable sentences."""
    reader = SectionReader()
    for line in transcript_lines(path):
        reader.line(line)
    reader.flush()
    return [s for s in reader.sections if s.turns]


def utterance_chunks(sentences: list[str], max_chars: int = 260) -> list[str]:
    """Sentences grouped into utterances of a few sentences each (the unit that is spoken and cached)."""
    chunks: list[str] = []
    current = ""
    for sentence in sentences:
        if current and len(current) + 1 + len(sentence) > max_chars:
            chunks.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        chunks.append(current)
    return chunks
