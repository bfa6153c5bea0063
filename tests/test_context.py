"""Context from the page: the vocabulary, a prompt within Whisper's limits, and what it does to the model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from faster_whisper import BatchedInferencePipeline, decode_audio
from pipeline.config import load_config
from pipeline.context import (
    PROMPT_MAX_TOKENS,
    PromptContext,
    build_prompt,
    count_tokens,
    echoes_prompt,
    load_tokenizer,
    page_vocabulary,
    prompt_for,
)
from pipeline.glossary import load_glossary
from pipeline.pages import Chapter, Page, Video, read_page, scan

from conftest import FIXTURES, whisper_transcription

# Whisper allows n_text_ctx // 2 - 1 prompt tokens.
WHISPER_PROMPT_LIMIT = 448 // 2 - 1


GLOSSARY = load_glossary()  # the shipped one, as the runner loads it


@pytest.fixture(scope="module")
def tokenizer(tiny_model_path):
    return load_tokenizer(tiny_model_path)


@pytest.fixture(scope="module")
def corpus_pages(corpus_dir):
    return [p for p in scan([corpus_dir]) if isinstance(p, Page)]


def test_vocabulary_holds_the_pages_names_and_terms(corpus_dir):
    lux = page_vocabulary(read_page(corpus_dir / "2021" / "37-doris-lux.md"), GLOSSARY)
    assert lux[0] == "Doris Lee"  # speakers first
    assert {"pandas", "Matplotlib", "Lux", "Data Umbrella", "Reshama"} <= set(lux)
    assert not {"How", "What", "Can", "Is"} & set(lux)  # a question's first word is no name
    pymc = page_vocabulary(read_page(corpus_dir / "2022" / "62-mitzi-bayesian.md"), GLOSSARY)
    assert "Stan" in pymc  # from the #stan tag, in the glossary's spelling
    assert len(pymc) == len({v.lower() for v in pymc})


def test_prompt_reads_like_text_and_names_the_speakers(corpus_dir, tokenizer):
    page = read_page(corpus_dir / "2022" / "42-gonzalo-github-actions.md")
    context = build_prompt(page, tokenizer, glossary=GLOSSARY)
    assert context.initial_prompt is None  # hotwords reach every window; sent once
    text = context.hotwords
    assert text.startswith("Data Umbrella webinar: ") and text.endswith(".")
    assert "Speakers: Gonzalo Peña-Castellanos." in text and "GitHub Actions" in text
    assert "Reshama" in text  # a chapter names her: the model hears her name in the intro
    assert count_tokens(text, tokenizer) <= PROMPT_MAX_TOKENS


def test_every_corpus_prompt_fits_whisper_even_when_estimated(corpus_pages, tokenizer):
    assert len(corpus_pages) > 100
    for page in corpus_pages:
        exact = build_prompt(page, tokenizer, glossary=GLOSSARY).hotwords
        estimated = build_prompt(page, glossary=GLOSSARY).hotwords  # no tokenizer: the estimate must err high
        for text in (exact, estimated):
            if text is not None:
                assert count_tokens(text, tokenizer) <= PROMPT_MAX_TOKENS < WHISPER_PROMPT_LIMIT, page.path
        tight = build_prompt(page, tokenizer, max_tokens=20, glossary=GLOSSARY).hotwords
        if tight is not None:
            assert count_tokens(tight, tokenizer) <= 20 and tight.startswith("Data Umbrella webinar")


def test_a_bare_page_gives_a_short_prompt_and_an_empty_one_none():
    assert build_prompt(Page(path="x.md", title="", state="needs-transcript"), glossary=GLOSSARY) == PromptContext()
    bare = build_prompt(Page(path="x.md", title="Career Advice", state="needs-transcript"), glossary=GLOSSARY)
    assert bare.hotwords == "Data Umbrella webinar: Career Advice."


def test_prompt_is_switchable_off_and_kept_out_of_sequential_decoding(corpus_dir):
    page = read_page(corpus_dir / "2020" / "20-marco-pandas.md")
    options = load_config().transcribe
    assert options.use_page_context and options.batch_size > 1
    assert prompt_for(page, options, glossary=GLOSSARY).hotwords
    assert prompt_for(page, dataclasses.replace(options, use_page_context=False), glossary=GLOSSARY) == PromptContext()
    assert prompt_for(page, dataclasses.replace(options, batch_size=1), glossary=GLOSSARY) == PromptContext()


def _sklearn_page() -> Page:
    # The real page of the talk the clip below reads from (2020/06-reshama-shaikh-sklearn-pr.md).
    return Page(
        path="2020/06-reshama-shaikh-sklearn-pr.md",
        title="Example of Contributing and Submitting a Pull Request to [scikit-learn](https://github.com/scikit-learn)",
        state="needs-transcript",
        speakers=["Reshama Shaikh"],
        videos=[
            Video(
                url="https://youtu.be/PU1WyDPGePI",
                id="PU1WyDPGePI",
                chapters=[Chapter(0.0, "Intro"), Chapter(226.0, "Set Up Repository")],
            )
        ],
    )


def test_page_context_gets_names_right_with_the_real_model(whisper_tiny_cpu):
    # Two sentences of that talk, read by a neural TTS voice (piper, joe): without context
    # tiny.en writes "Rishama" and "ticket learn".
    clip = FIXTURES / "context" / "reshama-scikit-learn.ogg"
    pipeline = BatchedInferencePipeline(whisper_tiny_cpu)
    context = build_prompt(_sklearn_page(), whisper_tiny_cpu.hf_tokenizer, glossary=GLOSSARY)

    plain = " ".join(s.text for s in whisper_transcription(pipeline, clip, batch_size=8).segments)
    prompted = " ".join(
        s.text for s in whisper_transcription(pipeline, clip, batch_size=8, hotwords=context.hotwords).segments
    )

    def right(text: str) -> int:
        return sum(term in text for term in ("Reshama", "scikit-learn"))

    assert right(prompted) == 2, prompted
    assert right(prompted) > right(plain), plain
    assert len(prompted.split()) >= len(plain.split()) - 2  # nothing dropped


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "sequential"])
def test_prompt_gives_no_words_on_silence(whisper_tiny_cpu, batched):
    # 20 s of faint room tone with the prompt, VAD on as the pipeline runs: no words at all.
    room_tone = np.random.default_rng(1).normal(0.0, 10 ** (-60 / 20), 20 * 16000).astype(np.float32)
    model = BatchedInferencePipeline(whisper_tiny_cpu) if batched else whisper_tiny_cpu
    extra = {"batch_size": 8} if batched else {}
    hotwords = build_prompt(_sklearn_page(), glossary=GLOSSARY).hotwords
    assert whisper_transcription(model, room_tone, hotwords=hotwords, **extra).words == []


def test_prompt_is_not_written_after_speech(whisper_tiny_cpu, jfk_flac):
    # jfk.flac then 20 s of room tone, decoded batched as prompt_for allows. (Sequential
    # decoding with the same prompt appends "Data Umbrella webinar." after the speech:
    # one reason prompt_for keeps the prompt out of it.)
    speech = decode_audio(str(jfk_flac))
    room_tone = np.random.default_rng(1).normal(0.0, 10 ** (-60 / 20), 20 * 16000).astype(np.float32)
    hotwords = build_prompt(_sklearn_page(), glossary=GLOSSARY).hotwords
    pipeline = BatchedInferencePipeline(whisper_tiny_cpu)

    spoken = whisper_transcription(pipeline, np.concatenate([speech, room_tone]), hotwords=hotwords, batch_size=8)

    words = {w.text.strip(" .,") for w in spoken.words}
    assert {"Americans", "country"} <= words
    assert not {"Data", "Umbrella", "webinar", "Reshama", "scikit-learn"} & words
    assert all(w.end <= len(speech) / 16000 + 0.5 for w in spoken.words)


def test_tokenizer_loads_from_the_model_folder(tiny_model_path, whisper_tiny_cpu):
    text = "Data Umbrella webinar: Contributing to PyMC."
    assert (
        count_tokens(text, load_tokenizer(Path(tiny_model_path)))
        == count_tokens(text, whisper_tiny_cpu.hf_tokenizer)
        > 5
    )


def test_a_window_that_only_echoes_the_prompt_is_recognised():
    # Seen on the evaluation talk terminal-no-chapters: a 25 s window decoded as just "Sam Bail."
    context = PromptContext(hotwords="Data Umbrella webinar: Sam Bail: Intro to the Terminal. Speakers: Sam Bail.")
    assert echoes_prompt(" Sam Bail.", context) and echoes_prompt(" Data Umbrella webinar.", context)
    assert not echoes_prompt(" Sam Bail is going to give the talk.", context)
    assert not echoes_prompt("", context) and not echoes_prompt(" Sam Bail.", PromptContext())
