"""The evaluation's harness: what runs models and processes for ``scripts/evaluate.py`` and
``scripts/bench.py`` (bare faster-whisper, the pipeline in a measured subprocess, the
media server), and where the talks are. The figures themselves are ``evalkit.metrics``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
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

    from pipeline.pages import read_transcript

    from .mediaserver import MediaServer

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


def cached_transcription(work_dir: Path):
    """The one transcription a run of run_pipeline(talk, work_dir, ...) cached: the model's own words."""
    from pipeline import transcribe

    transcripts = sorted((work_dir / "cache" / "transcripts").glob("*/*.json"))
    if len(transcripts) != 1:
        raise ValueError(f"{work_dir}: expected one cached transcription, found {len(transcripts)}")
    transcription = transcribe.read_cached(transcripts[0])
    if transcription is None:
        raise ValueError(f"{transcripts[0]}: unreadable cached transcription")
    return transcription


def draft_without_glossary(work_dir: Path, config) -> str:
    """The draft a run of run_pipeline(talk, work_dir, ...) would have written without the glossary.

    The cache keeps the model's own words (the glossary applies on every use),
    so this aligns, flags and renders the cached transcription of each video of
    the run's page exactly as the runner does, minus the spelling fixes: the
    "before" of a glossary comparison from the same decoding.
    """
    from pipeline import align, flags, render
    from pipeline.pages import read_page
    from pipeline.schema import RenderedPart

    pages = sorted(work_dir.glob("99-*.md"))
    if len(pages) != 1:
        raise ValueError(f"{work_dir}: expected one page, found {len(pages)}")
    page = read_page(pages[0])
    if len(page.videos) != 1:
        raise ValueError(f"{work_dir}: only one video is supported ({len(page.videos)} videos)")
    video = page.videos[0]
    transcription = cached_transcription(work_dir)
    alignment = align.align(transcription, video.chapters, config.align)
    found = flags.flag_segments(transcription.segments, config.flags)
    return render.render_transcript(
        [RenderedPart(video.url, video.label, alignment, found)],
        model=config.model.name,
        date="0000-00-00",
        link_times=config.render.link_times,
    )


def page_speakers(talk: Path) -> list[str]:
    """The speakers the talk's page names (pipeline.pages reads them)."""
    from pipeline.pages import read_page

    return list(read_page(talk / "page.md").speakers)
