"""du-transcripts: first-draft transcripts for Data Umbrella event pages.

Stages, one module each: pages (find and write), download, audio (prepare),
transcribe, align, render; runner ties them into a batch and cli is a thin
command line over it.
"""

__version__ = "0.1.0"
