"""The talks of the evaluation set and the committed test talk, as specifications."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass
class TalkSpec:
    name: str
    title: str  # the event page's title
    sources: list[str]  # 2020 transcript file names, or ["asterisk"]
    minutes: float  # target length of the speech (beds come on top)
    voices: dict[str, str]  # speaker label -> voice; "*" any other; "#N" unlabelled text of section N
    chapters: int | None = None  # take the first N sections, each cut to minutes/N; None: whole sections in order
    first_section: int = 0  # skip this many sections of the first source
    # (section, first turn, end turn) of the first source, each a whole chapter in this order; overrides chapters
    pick: list[tuple[int, int, int]] = field(default_factory=list)
    page_chapters: bool = True  # False: the page has no chapter list
    beds: list[str] = field(default_factory=list)  # before chapters 1..: "music" | "noise" | "silence" | ""
    lead_in: str = ""  # a bed before the first word: "music" | "noise" | "silence" | ""
    seed: int = 0
    description: str = ""
    dense: bool = False  # chapters as long as the backlog's chapter gaps, many sub-chapters (plan_dense_talk)


FIXTURE_SPEC = TalkSpec(
    name="five-chapters",
    title="Hugo Bowne-Anderson and James Bourbeau:  Data Science and Machine Learning at Scale",
    sources=["16-hugo-james-dask.md"],
    minutes=3.0,
    voices={"Reshama": "festival-slt", "Hugo": "piper-joe", "James": "flite-rms", "*": "piper-joe"},
    chapters=5,
    seed=16,
    description="3 voices, 5 chapters, page times off by up to 4 s; committed for the tests",
)

_CAREER = TalkSpec(
    name="career-60min",
    title="Ali Spittel:  Navigating Your Tech Career",
    sources=["04-ali-spittel-career.md", "08-matt-brems-missing-data.md"],
    minutes=62,
    voices={"Ty": "flite-awb", "Matt": "flite-rms", "*": "festival-slt"},
    seed=6,
    description="over an hour: two transcripts back to back, many chapters",
)

EVAL_SET = [
    TalkSpec(
        name="dask-three-voices",
        title="Hugo Bowne-Anderson and James Bourbeau:  Working with Dask DataFrames and Machine Learning",
        sources=["16-hugo-james-dask.md"],
        minutes=15,
        chapters=6,
        first_section=5,
        voices={"Reshama": "festival-slt", "Hugo": "piper-joe", "James": "flite-rms", "*": "piper-joe"},
        seed=1,
        description="three voices (host and two speakers), 6 chapters",
    ),
    TalkSpec(
        name="missing-data-two-voices",
        title="Matt Brems:  Good, Fast, Cheap: How to do Data Science with Missing Data",
        sources=["08-matt-brems-missing-data.md"],
        minutes=12,
        chapters=7,
        voices={"Ty": "flite-awb", "Matt": "piper-joe", "*": "piper-joe"},
        seed=2,
        description="dialogue of two voices, 7 chapters",
    ),
    TalkSpec(
        name="terminal-no-chapters",
        title="Sam Bail:  Intro to the Terminal",
        sources=["09-sam-bail-terminal.md"],
        minutes=12,
        voices={"#0": "flite-slt", "*": "flite-rms"},
        page_chapters=False,
        seed=3,
        description="no chapter list on the page: the draft gets ~10-minute sections",
    ),
    TalkSpec(
        name="data-process-beds",
        title="Liz DiLuzio:  Create Nimble Data Collection & Reporting Processes",
        sources=["13-liz-diluzio-data-process.md"],
        minutes=10,
        chapters=6,
        voices={"Reshama": "festival-slt", "Liz": "flite-rms", "#0": "festival-slt", "*": "flite-rms"},
        lead_in="music",
        beds=["music", "noise", "silence", "music", "noise"],
        seed=4,
        description="music, noise and silence between parts (invented-word check)",
    ),
    TalkSpec(
        name="contributing-8min",
        title="Andreas Mueller:  Crash Course in Contributing to scikit-learn",
        sources=["05-andreas-mueller-contributing.md"],
        minutes=8.8,
        chapters=8,
        voices={"*": "piper-joe"},
        seed=5,
        description="held-out 8-minute talk for bench.py",
    ),
    # the first 5 minutes of the 60-minute talk: a memory baseline on the same speech
    replace(
        _CAREER, name="career-5min", minutes=5, description="the first 5 minutes of career-60min (memory baseline)"
    ),
    _CAREER,
    # Speaker truth: the shape of a webinar (issue 11), every person a voice of their own.
    TalkSpec(
        name="host-talk-qa",
        title="Ali Spittel:  Navigating Your Tech Career",
        sources=["04-ali-spittel-career.md"],
        minutes=6,  # about: the picked turns are spoken whole
        voices={"Ty": "flite-awb", "*": "piper-joe"},
        pick=[(0, 0, 6), (1, 0, 2), (4, 0, 1), (12, 1, 9), (24, 5, 9)],
        seed=8,
        description="host intro, talk, Q&A with short turns: two voices, the host introduces himself",
    ),
    TalkSpec(
        name="panel-three-voices",
        title="Hugo Bowne-Anderson and James Bourbeau:  Data Science and Machine Learning at Scale",
        sources=["16-hugo-james-dask.md"],
        minutes=8,  # about: the picked turns are spoken whole
        voices={"Reshama": "flite-slt", "Hugo": "piper-joe", "James": "flite-kal16", "*": "piper-joe"},
        pick=[(1, 1, 14), (2, 1, 4), (7, 1, 4), (10, 0, 9)],
        seed=9,
        description="a panel of three voices (host and two speakers) in short and long turns",
    ),
    TalkSpec(
        name="dense-chapters",
        title="Ali Spittel:  Navigating Your Tech Career, Chapter by Chapter",
        sources=["04-ali-spittel-career.md"],
        minutes=0,  # the sum of the chapters' lengths drawn from the backlog's gaps
        voices={"Ty": "flite-awb", "*": "flite-slt"},
        dense=True,
        seed=10,
        description="chapters as dense as the backlog's (gaps under 8 s and under 30 s, sub-chapters)",
    ),
    TalkSpec(
        name="asterisk-prompts",
        title="Asterisk Project:  The Voice Prompts of a Phone System",
        sources=["asterisk"],
        minutes=10,
        voices={"*": "asterisk"},
        chapters=5,
        seed=7,
        description="real recorded human speech (Debian's asterisk prompts, CC-BY-SA-3.0)",
    ),
]
