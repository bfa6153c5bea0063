"""Metrics for the evaluation set: pure functions over text, a talk's truth.json and a draft.

Used by ``scripts/evaluate.py`` and ``scripts/bench.py``, unit-tested by
``tests/test_evallib.py`` (``sys.path.insert(0, "scripts")``). No model runs here.

How each figure is measured (the README of the evaluation, in short):

- **Word error rate**: both texts go through Whisper's English normaliser
  (PyPI ``whisper-normalizer``, ``EnglishTextNormalizer``: lower case, no
  punctuation, British to American spelling, numbers to digits, fillers such as
  "um" dropped), then jiwer counts substitutions, deletions and insertions over
  the reference's words. Headings, the draft's italic note, `` [?]`` flags and
  ``<!-- -->`` comments are not speech and are stripped first.
- **Words in their true chapter**: each reference word carries the chapter it
  is spoken in. The draft's words (in order, all chapters together) are aligned
  to the reference's by edit distance (jiwer); a matched or substituted word
  takes its reference word's chapter, an inserted word that of the nearer
  reference neighbour (either, on a tie). The share is the part of the draft's
  words whose draft chapter (found by its heading's title) is that chapter.
- **Boundary error**: the draft's Markdown carries no audio times, so a draft
  chapter's boundary is the time at which the reference word matched to its
  first matched word is spoken (word times interpolated inside each utterance
  by character length; an utterance's first word starts exactly at its start;
  invented words have no time and are passed over). A chapter put exactly where
  it begins scores 0 s; one that starts two words late scores the time those
  words take. A true chapter with no draft heading has no boundary (None).
- **False no-speech chapters**: draft chapters that say "No speech in this part"
  although their true chapter (found by the heading's title) has words spoken
  in it.
- **Paragraph lengths**: words (whitespace-separated) per draft paragraph.
- **Invented words in silence or music**: draft words inserted (matched to no
  reference word) between two reference words that have a music, noise or
  silence span between them. The same rule is used for the bare model's text,
  so the two are comparable.
- **Names and terms spelled right**: the terms are the glossary's canonical
  forms and the speakers' names (the page's speakers, whole and word by word,
  and the truth's speaker labels that are names). Each occurrence in the
  reference (case-sensitive; a lower-case term such as "pandas" also
  capitalised at a sentence start, but not elsewhere: "a Pandas DataFrame" is
  the human transcriber's spelling, not the project's; longest term first, no
  overlaps) is right when the draft word(s)
  aligned to it (edit distance on lower-cased words, punctuation and a
  possessive 's stripped) are spelled exactly like it. No normaliser here: it
  would erase the case and the joins ("PyLadies") being measured.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jiwer

NORMALIZER = "whisper_normalizer.english.EnglishTextNormalizer (Whisper's English normaliser)"


@lru_cache(maxsize=1)
def _normalizer():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize(text: str) -> str:
    """Whisper's English normalisation: what WER is computed on."""
    return re.sub(r"\s+", " ", _normalizer()(text)).strip()


def normalized_words(text: str) -> list[str]:
    return normalize(text).split()


# ---------------------------------------------------------------- the draft


@dataclass
class DraftChapter:
    title: str | None  # None: text before the first heading
    heading_time: float | None  # the (mm:ss) the heading shows, in seconds
    paragraphs: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.paragraphs)


DRAFT_HEADING = re.compile(r"^#{2,6}\s+(.*?)\s*(?:\((\d{1,2}(?::\d{2}){1,2})\))?\s*$")
COMMENT = re.compile(r"<!--.*?-->", re.S)
FLAG = re.compile(r"\s*\[\?\]")


def parse_time(text: str) -> float:
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def parse_draft(body: str) -> list[DraftChapter]:
    """A draft's Markdown as chapters of plain paragraphs.

    Drops the first italic line (the machine-draft note), `` [?]`` flags and
    ``<!-- ... -->`` comments; keeps headings' titles and times apart from the text.
    """
    body = COMMENT.sub("", body.replace("\r\n", "\n"))
    chapters = [DraftChapter(None, None)]
    paragraph: list[str] = []
    seen_text = False

    def flush() -> None:
        text = FLAG.sub("", " ".join(paragraph)).strip()
        paragraph.clear()
        if text:
            chapters[-1].paragraphs.append(re.sub(r"\s+", " ", text))

    for line in body.split("\n"):
        stripped = line.strip()
        if not seen_text and stripped:
            seen_text = True
            if re.fullmatch(r"(_[^_].*_|\*[^*].*\*)", stripped):  # the machine-draft note
                continue
        heading = DRAFT_HEADING.match(stripped)
        if heading:
            flush()
            time = heading.group(2)
            chapters.append(DraftChapter(heading.group(1).strip() or None, parse_time(time) if time else None))
        elif not stripped:
            flush()
        else:
            paragraph.append(stripped)
    flush()
    if not chapters[0].paragraphs:
        chapters.pop(0)
    return chapters


# ---------------------------------------------------------------- the truth


@dataclass
class TrueChapter:
    title: str
    start: float
    end: float
    page_start: float | None
    text: str


@dataclass
class Span:
    kind: str  # "music" | "noise" | "silence"
    start: float
    end: float


@dataclass
class Utterance:
    chapter: int
    speaker: str
    voice: str
    start: float
    end: float
    text: str


@dataclass
class Truth:
    name: str
    duration: float
    page_has_chapters: bool
    chapters: list[TrueChapter]
    utterances: list[Utterance]
    non_speech: list[Span]
    folder: Path | None = None

    @property
    def reference_text(self) -> str:
        return " ".join(u.text for u in self.utterances)

    @property
    def audio_path(self) -> Path | None:
        return self.folder / "audio.ogg" if self.folder else None


def load_truth(path: str | Path) -> Truth:
    """Read a talk's truth.json (a folder holding one, or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / "truth.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return Truth(
        name=data["name"],
        duration=float(data["duration"]),
        page_has_chapters=bool(data["page_has_chapters"]),
        chapters=[
            TrueChapter(c["title"], float(c["true_start"]), float(c["true_end"]), c.get("page_start"), c["text"])
            for c in data["chapters"]
        ],
        utterances=[
            Utterance(u["chapter"], u["speaker"], u["voice"], u["start"], u["end"], u["text"])
            for u in data["utterances"]
        ],
        non_speech=[Span(s["kind"], float(s["start"]), float(s["end"])) for s in data["non_speech"]],
        folder=path.parent,
    )


@dataclass(frozen=True)
class RefWord:
    text: str  # normalised
    chapter: int
    start: float
    end: float


def reference_words(truth: Truth) -> list[RefWord]:
    """The normalised reference words, each with its chapter and an estimated time.

    Times are spread over the utterance in proportion to the words' lengths.
    """
    out: list[RefWord] = []
    for u in truth.utterances:
        words = normalized_words(u.text)
        if not words:
            continue
        weights = [len(w) + 1 for w in words]
        per_unit = (u.end - u.start) / sum(weights)
        t = u.start
        for word, weight in zip(words, weights, strict=True):
            out.append(RefWord(word, u.chapter, t, t + weight * per_unit))
            t += weight * per_unit
    return out


# ---------------------------------------------------------------- metrics


@dataclass
class WerResult:
    wer: float
    reference_words: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions


def _process(reference: list[str], hypothesis: list[str]):
    # jiwer rejects an empty reference; a one-word dummy on both sides changes no count.
    return jiwer.process_words(" ".join(["<s>", *reference]), " ".join(["<s>", *hypothesis]))


def word_error_rate(reference: str, hypothesis: str) -> WerResult:
    """WER after Whisper's English normalisation of both texts."""
    ref, hyp = normalized_words(reference), normalized_words(hypothesis)
    if not ref:
        return WerResult(float(len(hyp) > 0), 0, 0, 0, len(hyp))
    out = _process(ref, hyp)
    return WerResult(out.wer * (len(ref) + 1) / len(ref), len(ref), out.substitutions, out.deletions, out.insertions)


def align_to_reference(reference: list[str], hypothesis: list[str]) -> list[tuple[int | None, int, int]]:
    """For each hypothesis word: (matched reference index or None, previous ref index, next ref index).

    A matched or substituted word has its reference index; an inserted word has
    None and the reference words on either side (-1 before the first,
    len(reference) after the last).
    """
    out: list[tuple[int | None, int, int]] = [(None, -1, -1)] * len(hypothesis)
    if not hypothesis:
        return out
    result = _process(reference, hypothesis)
    for chunk in result.alignments[0]:
        # Indices include the leading dummy word.
        r0, h0, h1 = chunk.ref_start_idx - 1, chunk.hyp_start_idx - 1, chunk.hyp_end_idx - 1
        if chunk.type in ("equal", "substitute"):
            for k in range(h1 - h0):
                if h0 + k >= 0:
                    out[h0 + k] = (r0 + k, r0 + k - 1, r0 + k + 1)
        elif chunk.type == "insert":
            for k in range(max(h0, 0), h1):
                out[k] = (None, r0 - 1, r0)
    return out


def _nearest_references(hyp_index: int, alignment: list[tuple[int | None, int, int]], n_ref: int) -> list[int]:
    """The reference word(s) a hypothesis word stands for.

    A matched or substituted word: its reference word. An inserted word: the
    nearer of its two reference neighbours, counted by position inside its run
    of insertions; both on a tie (either chapter is then right for it).
    """
    matched, before, after = alignment[hyp_index]
    if matched is not None:
        return [matched]
    if n_ref == 0:
        return []
    run_start = hyp_index
    while run_start > 0 and alignment[run_start - 1][0] is None and alignment[run_start - 1][1] == before:
        run_start -= 1
    run_end = hyp_index
    while run_end + 1 < len(alignment) and alignment[run_end + 1][0] is None and alignment[run_end + 1][1] == before:
        run_end += 1
    to_before, to_after = hyp_index - run_start + 1, run_end - hyp_index + 1
    if before < 0:
        return [min(after, n_ref - 1)]
    if after >= n_ref:
        return [before]
    if to_before == to_after:
        return [before, after]
    return [before] if to_before < to_after else [after]


def _title_key(title: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", " ", (title or "").lower()).strip()


def draft_chapter_labels(draft: list[DraftChapter], truth: Truth) -> list[int | None]:
    """The true chapter each draft chapter stands for, by its heading's title (None: no such chapter)."""
    by_title: dict[str, int] = {}
    for i, chapter in enumerate(truth.chapters):
        by_title.setdefault(_title_key(chapter.title), i)
    return [by_title.get(_title_key(c.title)) if c.title else None for c in draft]


@dataclass
class ChapterScore:
    words: int  # draft words scored
    in_true_chapter: int
    boundary_errors: list[float | None]  # per true chapter after the first; None: no draft chapter for it

    @property
    def share(self) -> float:
        return self.in_true_chapter / self.words if self.words else 1.0

    @property
    def boundary_known(self) -> list[float]:
        return [e for e in self.boundary_errors if e is not None]


def score_chapters(truth: Truth, draft: list[DraftChapter]) -> ChapterScore:
    """Share of draft words in their true chapter, and each chapter boundary's error in seconds."""
    ref = reference_words(truth)
    labels = draft_chapter_labels(draft, truth)
    hyp: list[str] = []
    hyp_draft_chapter: list[int | None] = []
    first_word_of: dict[int, int] = {}  # true chapter -> index of the first hypothesis word of its draft chapter
    for chapter, label in zip(draft, labels, strict=True):
        words = normalized_words(chapter.text)
        if label is not None and words and label not in first_word_of:
            first_word_of[label] = len(hyp)
        hyp += words
        hyp_draft_chapter += [label] * len(words)
    alignment = align_to_reference([w.text for w in ref], hyp)
    in_chapter = sum(
        hyp_draft_chapter[k] is not None
        and any(ref[r].chapter == hyp_draft_chapter[k] for r in _nearest_references(k, alignment, len(ref)))
        for k in range(len(hyp))
    )
    errors: list[float | None] = []
    for c in range(1, len(truth.chapters)):
        # The chapter's first word that matches a reference word: an invented word has no time of its own.
        k = first_word_of.get(c)
        while k is not None and k < len(hyp) and hyp_draft_chapter[k] == c and alignment[k][0] is None:
            k += 1
        if k is None or k >= len(hyp) or hyp_draft_chapter[k] != c:
            errors.append(None)
        else:
            errors.append(abs(ref[alignment[k][0]].start - truth.chapters[c].start))
    return ChapterScore(len(hyp), in_chapter, errors)


NO_SPEECH_NOTE = "*(No speech in this part.)*"  # what render writes for a chapter without words


def false_no_speech_chapters(truth: Truth, draft: list[DraftChapter]) -> int:
    """Draft chapters rendered as "No speech in this part" although words are spoken in their true chapter."""
    spoken = {u.chapter for u in truth.utterances if normalized_words(u.text)}
    labels = draft_chapter_labels(draft, truth)
    return sum(
        label in spoken and chapter.paragraphs == [NO_SPEECH_NOTE]
        for chapter, label in zip(draft, labels, strict=True)
        if label is not None
    )


@dataclass
class ParagraphStats:
    count: int
    min: int
    p10: float
    median: float
    p90: float
    max: int
    mean: float

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("count", "min", "p10", "median", "p90", "max", "mean")}


def paragraph_stats(lengths: list[int]) -> ParagraphStats:
    """Distribution of paragraph lengths in words."""
    import numpy as np

    if not lengths:
        return ParagraphStats(0, 0, 0.0, 0.0, 0.0, 0, 0.0)
    a = np.asarray(lengths, dtype=float)
    return ParagraphStats(
        len(lengths),
        int(a.min()),
        round(float(np.percentile(a, 10)), 1),
        round(float(np.median(a)), 1),
        round(float(np.percentile(a, 90)), 1),
        int(a.max()),
        round(float(a.mean()), 1),
    )


def paragraph_lengths(draft: list[DraftChapter]) -> list[int]:
    return [len(p.split()) for c in draft for p in c.paragraphs]


def invented_in_non_speech(truth: Truth, hypothesis: str, margin: float = 0.2) -> int:
    """Hypothesis words inserted between two reference words that have music, noise or silence between them."""
    if not truth.non_speech:
        return 0
    ref = reference_words(truth)
    hyp = normalized_words(hypothesis)
    alignment = align_to_reference([w.text for w in ref], hyp)
    count = 0
    for matched, before, after in alignment:
        if matched is not None:
            continue
        gap_start = ref[before].end if before >= 0 else 0.0
        gap_end = ref[after].start if after < len(ref) else truth.duration
        if any(s.start >= gap_start - margin and s.end <= gap_end + margin for s in truth.non_speech):
            count += 1
    return count


# ---------------------------------------------------------------- one talk, all figures


@dataclass
class TalkScore:
    name: str
    duration: float
    wer: WerResult
    chapters: ChapterScore | None  # None where the page has no chapter list
    paragraphs: ParagraphStats
    paragraph_lengths: list[int]
    invented_in_non_speech: int
    non_speech_seconds: float
    terms: TermScore | None = None  # None: no term list given
    false_no_speech: int | None = None  # None where the page has no chapter list

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "audio_seconds": round(self.duration, 2),
            "wer": round(self.wer.wer, 4),
            "reference_words": self.wer.reference_words,
            "substitutions": self.wer.substitutions,
            "deletions": self.wer.deletions,
            "insertions": self.wer.insertions,
            "words_in_true_chapter": None if self.chapters is None else round(self.chapters.share, 4),
            "boundary_errors": None
            if self.chapters is None
            else [None if e is None else round(e, 2) for e in self.chapters.boundary_errors],
            "paragraphs": self.paragraphs.to_json(),
            "paragraph_lengths": self.paragraph_lengths,
            "invented_in_non_speech": self.invented_in_non_speech,
            "non_speech_seconds": round(self.non_speech_seconds, 1),
            "terms": None if self.terms is None else self.terms.to_json(),
            "false_no_speech_chapters": self.false_no_speech,
        }


def score_draft(truth: Truth, draft_body: str, *, terms=None) -> TalkScore:
    """All the figures for one talk's draft (the Markdown that the pipeline wrote); with ``terms``
    (see talk_terms) also how many of their occurrences it spells right."""
    draft = parse_draft(draft_body)
    text = " ".join(c.text for c in draft)
    lengths = paragraph_lengths(draft)
    return TalkScore(
        name=truth.name,
        duration=truth.duration,
        wer=word_error_rate(truth.reference_text, text),
        chapters=score_chapters(truth, draft) if truth.page_has_chapters else None,
        paragraphs=paragraph_stats(lengths),
        paragraph_lengths=lengths,
        invented_in_non_speech=invented_in_non_speech(truth, text),
        non_speech_seconds=sum(s.end - s.start for s in truth.non_speech),
        terms=None if terms is None else score_terms(truth.reference_text, text, terms),
        false_no_speech=false_no_speech_chapters(truth, draft) if truth.page_has_chapters else None,
    )


def total_wer(results: list[WerResult]) -> WerResult:
    """Word-weighted WER over several talks."""
    n = sum(r.reference_words for r in results)
    s, d, i = (sum(getattr(r, k) for r in results) for k in ("substitutions", "deletions", "insertions"))
    return WerResult((s + d + i) / n if n else 0.0, n, s, d, i)


# ---------------------------------------------------------------- names and project terms


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
        result = _process([w.lower() for w in ref], [w.lower() for w in hyp])
        for chunk in result.alignments[0]:
            if chunk.type in ("equal", "substitute"):
                # Indices include the leading dummy word.
                for k in range(chunk.ref_end_idx - chunk.ref_start_idx):
                    if chunk.ref_start_idx + k >= 1:
                        ref_to_hyp[chunk.ref_start_idx + k - 1] = chunk.hyp_start_idx + k - 1
    for start, length, term in occurrences:
        at = [ref_to_hyp.get(start + j) for j in range(length)]
        right = (
            None not in at
            and all(at[j] == at[0] + j for j in range(length))
            and all(hyp[at[j]] == ref[start + j] for j in range(length))
        )
        counts = score.per_term.setdefault(term, [0, 0])
        counts[1] += 1
        if right:
            counts[0] += 1
            score.right += 1
        else:
            written = " ".join(hyp[h] for h in at if h is not None) or "(nothing)"
            score.misses.append((" ".join(ref[start : start + length]), written))
    return score


def talk_terms(truth: Truth, speakers=(), glossary_terms=None) -> list[str]:
    """The names and project terms checked in a talk: the glossary's canonical forms, the page's speakers
    (whole and each word: "Hugo Bowne-Anderson", "Hugo", "Bowne-Anderson") and the truth's speaker labels
    that are names (capitalised: "Reshama"; not "speaker" or "host")."""
    if glossary_terms is None:
        sys.path.insert(0, str(REPO))
        from pipeline.glossary import load_glossary

        glossary_terms = load_glossary().canonical_forms
    names = set(glossary_terms)
    for speaker in speakers:
        names.add(speaker)
        names.update(term_tokens(speaker))
    names.update(u.speaker for u in truth.utterances if u.speaker[:1].isupper())
    return sorted(n for n in names if term_tokens(n))


def page_speakers(talk: Path) -> list[str]:
    """The speakers the talk's page names (pipeline.pages reads them)."""
    sys.path.insert(0, str(REPO))
    from pipeline.pages import read_page

    return list(read_page(talk / "page.md").speakers)


# ---------------------------------------------------------------- running things (evaluate.py, bench.py)

REPO = Path(__file__).resolve().parent.parent
EVAL_TALKS = REPO / "eval" / "talks"
FIXTURE_TALKS = REPO / "tests" / "fixtures" / "talks"
VIDEO_PLACEHOLDER = "{VIDEO_URL}"


@dataclass
class BareSettings:
    """What bare faster-whisper is run with: the pipeline's model and decoding settings, nothing else of ours."""

    model: str
    device: str
    compute_type: str
    cpu_threads: int
    language: str
    beam_size: int
    batch_size: int  # > 1: BatchedInferencePipeline
    word_timestamps: bool = True
    vad_filter: bool = True

    @classmethod
    def from_config(cls, config, *, batch_size: int | None = None) -> BareSettings:
        return cls(
            model=config.model.name,
            device=config.model.device,
            compute_type=config.model.compute_type,
            cpu_threads=config.model.cpu_threads,
            language=config.transcribe.language,
            beam_size=config.transcribe.beam_size,
            batch_size=config.transcribe.batch_size if batch_size is None else batch_size,
        )


def load_bare_model(settings: BareSettings):
    """A plain faster_whisper.WhisperModel, on the device and compute type the pipeline would choose."""
    import ctranslate2
    from faster_whisper import WhisperModel

    sys.path.insert(0, str(REPO))
    from pipeline.transcribe import choose_device_and_compute, cpu_thread_count, resolve_model_path

    cuda = ctranslate2.get_cuda_device_count()
    device, _ = choose_device_and_compute(settings.device, settings.compute_type, cuda_devices=cuda)
    device, compute_type = choose_device_and_compute(
        device, settings.compute_type, cuda_devices=cuda, supported=ctranslate2.get_supported_compute_types(device)
    )
    return WhisperModel(
        resolve_model_path(settings.model),
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_thread_count(settings.cpu_threads),
    )


def bare_transcribe(model, audio: str | Path, settings: BareSettings) -> str:
    """The text of bare faster-whisper on a file (sequential, or batched when batch_size > 1)."""
    from faster_whisper import BatchedInferencePipeline

    common = dict(
        language=settings.language,
        beam_size=settings.beam_size,
        word_timestamps=settings.word_timestamps,
        vad_filter=settings.vad_filter,
    )
    if settings.batch_size > 1:
        segments, _ = BatchedInferencePipeline(model).transcribe(str(audio), batch_size=settings.batch_size, **common)
    else:
        segments, _ = model.transcribe(str(audio), **common)
    return " ".join(s.text.strip() for s in segments)


# A small launcher between us and the measured command. Linux's ru_maxrss of a
# child counts the memory of the process it was forked from (exec records the
# old image's peak), so a child forked from this big process (a loaded model)
# would report at least our size; forked from a fresh small interpreter it
# reports its own peak. The launcher writes that peak (KiB) to the fd it is given.
_LAUNCHER = """import os, sys
fd = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    os.close(fd)
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
os.write(fd, str(usage.ru_maxrss).encode())
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


@dataclass
class Measured:
    returncode: int
    wall: float  # seconds
    peak_rss_mb: float  # the command's own peak resident memory (with its waited-for children)


def run_measured(cmd: list[str], *, cwd: Path, stdout, stderr) -> Measured:
    """Run a command to its end; its wall time and its own peak memory."""
    import os
    import subprocess
    import time

    read_end, write_end = os.pipe()
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(write_end), *cmd],
            cwd=cwd,
            stdout=stdout,
            stderr=stderr,
            pass_fds=(write_end,),
        )
    finally:
        os.close(write_end)
    returncode = proc.wait()
    wall = time.perf_counter() - start
    with os.fdopen(read_end) as f:
        peak_kib = int(f.read() or 0)
    return Measured(returncode, wall, peak_kib / 1024)


@dataclass
class PipelineRun:
    wall: float  # seconds, the whole `python -m pipeline run` process
    peak_rss_mb: float  # the process's peak resident memory
    returncode: int
    report: dict | None
    draft: str | None  # the body written into the page
    stderr_tail: str = ""

    @property
    def page_report(self) -> dict:
        pages = (self.report or {}).get("pages") or [{}]
        return pages[0]


def default_talks() -> list[Path]:
    """The built evaluation set (eval/talks/*) and the committed test talks."""
    built = sorted(p.parent for p in EVAL_TALKS.glob("*/truth.json"))
    return built + sorted(p.parent for p in FIXTURE_TALKS.glob("*/truth.json"))


def run_pipeline(talk: Path, work_dir: Path, pipeline_args: list[str]) -> PipelineRun:
    """`python -m pipeline run` on a copy of the talk's page, its audio served over loopback, from an empty cache."""
    import shutil
    import subprocess
    import tempfile

    sys.path.insert(0, str(REPO / "tests"))
    sys.path.insert(0, str(REPO))
    from pipeline.pages import read_transcript

    from mediaserver import MediaServer

    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    page = work_dir / f"99-{talk.name}.md"  # event pages are numbered, as in the corpus ("95-joseph-ml-security.md")
    report_path = work_dir / "report.json"
    with MediaServer(talk) as server:
        text = (talk / "page.md").read_text(encoding="utf-8")
        page.write_text(text.replace(VIDEO_PLACEHOLDER, server.url("audio.ogg")), encoding="utf-8")
        cmd = [
            sys.executable,
            "-m",
            "pipeline",
            "run",
            str(page),
            "--cache-dir",
            str(work_dir / "cache"),
            "--report",
            str(report_path),
            "--force",
            "--quiet",
            *pipeline_args,
        ]
        with tempfile.TemporaryFile("w+") as err_file:
            measured = run_measured(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err_file)
            err_file.seek(0)
            stderr = err_file.read()
    report = json.loads(report_path.read_text()) if report_path.is_file() else None
    draft = None
    try:
        draft = read_transcript(page)
    except Exception as e:  # a page the pipeline could not write is a result, not a crash
        stderr += f"\nread_transcript: {e}"
    return PipelineRun(measured.wall, measured.peak_rss_mb, measured.returncode, report, draft, stderr[-2000:])


def draft_without_glossary(work_dir: Path, config) -> str:
    """The draft a run of run_pipeline(talk, work_dir, ...) would have written without the glossary.

    The cache keeps the model's own words (the glossary applies on every use),
    so this aligns, flags and renders the cached transcription of each video of
    the run's page exactly as the runner does, minus the spelling fixes: the
    "before" of a glossary comparison from the same decoding.
    """
    sys.path.insert(0, str(REPO))
    from pipeline import align, flags, render, transcribe
    from pipeline.pages import read_page

    pages = sorted(work_dir.glob("99-*.md"))
    transcripts = sorted((work_dir / "cache" / "transcripts").glob("*/*.json"))
    if len(pages) != 1:
        raise ValueError(f"{work_dir}: expected one page, found {len(pages)}")
    page = read_page(pages[0])
    if len(page.videos) != 1 or len(transcripts) != 1:
        raise ValueError(
            f"{work_dir}: only one video with one cached transcription is supported "
            f"({len(page.videos)} videos, {len(transcripts)} transcriptions)"
        )
    video = page.videos[0]
    transcription = transcribe.read_cached(transcripts[0])
    if transcription is None:
        raise ValueError(f"{transcripts[0]}: unreadable cached transcription")
    alignment = align.align(transcription, video.chapters, config.align)
    found = flags.flag_segments(transcription.segments, config.flags)
    return render.render_transcript(
        [(video.url, video.label, alignment, found)],
        model=config.model.name,
        date="0000-00-00",
        link_times=config.render.link_times,
    )
