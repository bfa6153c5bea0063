"""du-transcripts: first-draft transcripts for Data Umbrella event pages.

Stages, one module each: pages (find and write), download, audio (prepare),
transcribe, align, render; runner ties them into a batch and cli is a thin
command line over it. The names below are the public surface; they are
imported on first use, so ``python -m pipeline scan`` never loads the model's
libraries.
"""

from importlib import import_module

__version__ = "0.1.0"

_PUBLIC = {
    "load_config": "config",
    "read_page": "pages",
    "scan": "pages",
    "write_transcript": "pages",
    "read_transcript": "pages",
    "load_model": "transcribe",
    "render_transcript": "render",
    "run_batch": "runner",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
