"""The evaluation kit: importable, never shipped (only ``pipeline`` is in the wheel).

- ``evalkit.truth``: a talk's truth.json, one schema for ``make_eval_set.py`` (the
  writer) and every reader;
- ``evalkit.metrics``: pure functions over texts, truths and drafts (WER, chapters,
  paragraphs, invented words, names and terms);
- ``evalkit.harness``: what runs models and processes (bare faster-whisper, the
  pipeline in a measured subprocess) and where the talks are;
- ``evalkit.mediaserver``: the loopback HTTP media server the tests and scripts serve
  audio from.

A script run as ``python scripts/NAME.py`` has ``scripts/`` on ``sys.path`` already;
the tests get it from ``pythonpath`` in pyproject.toml's ``[tool.pytest.ini_options]``.
The names below are the kit's surface, imported from the three modules.
"""

from .harness import (
    EVAL_TALKS,
    FIXTURE_TALKS,
    REPO,
    VIDEO_PLACEHOLDER,
    BareSettings,
    Measured,
    PipelineRun,
    bare_transcribe,
    cached_transcription,
    default_talks,
    draft_without_glossary,
    load_bare_model,
    page_speakers,
    run_measured,
    run_pipeline,
)
from .metrics import (
    NO_SPEECH_NOTE,
    NORMALIZER,
    ChapterScore,
    DraftChapter,
    ParagraphStats,
    RefWord,
    WerResult,
    align_to_reference,
    false_no_speech_chapters,
    invented_in_non_speech,
    normalize,
    normalized_words,
    paragraph_lengths,
    paragraph_stats,
    parse_draft,
    reference_words,
    score_chapters,
    total_wer,
    word_error_rate,
)
from .talk import TalkScore, score_draft
from .terms import TermScore, find_term_occurrences, score_terms, sentence_starts, talk_terms, term_tokens
from .truth import Span, TrueChapter, Truth, Utterance, load_truth, truth_text

__all__ = [
    "EVAL_TALKS",
    "NO_SPEECH_NOTE",
    "false_no_speech_chapters",
    "FIXTURE_TALKS",
    "NORMALIZER",
    "REPO",
    "VIDEO_PLACEHOLDER",
    "BareSettings",
    "ChapterScore",
    "DraftChapter",
    "Measured",
    "ParagraphStats",
    "PipelineRun",
    "RefWord",
    "Span",
    "TalkScore",
    "TermScore",
    "TrueChapter",
    "Truth",
    "Utterance",
    "WerResult",
    "align_to_reference",
    "bare_transcribe",
    "cached_transcription",
    "default_talks",
    "draft_without_glossary",
    "find_term_occurrences",
    "invented_in_non_speech",
    "load_bare_model",
    "load_truth",
    "normalize",
    "normalized_words",
    "page_speakers",
    "paragraph_lengths",
    "paragraph_stats",
    "parse_draft",
    "reference_words",
    "run_measured",
    "run_pipeline",
    "score_chapters",
    "score_draft",
    "score_terms",
    "sentence_starts",
    "talk_terms",
    "term_tokens",
    "total_wer",
    "truth_text",
    "word_error_rate",
]
