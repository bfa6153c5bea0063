"""The costly part of a batch (download, prepare, transcribe) on a pool of Ray actors.

``run --executor ray`` keeps everything else where a local run has it: the driver
(this process) scans and selects the pages, owns the cache and writes the pages.
Each video without a cached transcription is sent, as the job a local run makes
(:class:`~pipeline.job.VideoJob`), to a :class:`TranscribeWorker` actor, which holds
one loaded model for its whole life and runs the very step a local run does
(:func:`pipeline.steps.video_step`) against a scratch cache of its own: the worker
needs nothing of the driver's disk, and sends back the transcription as plain data
(words, times, confidences; never audio). The driver writes it to the very file a
local run would (``job.transcript.path``, the same bytes), so a killed cluster run
resumes locally or on the cluster without redoing a finished video; then the
page is aligned and written through the local run's per-page path (the ``finish``
the runner hands over: ``Runner.process_pages``).

Failures: a video that fails on a worker fails its page with the one-line reason
a local run gives (``download: ...``, ``prepare: ...``, ``transcribe: ...``); a
worker that dies (killed process, lost node: ``RayActorError``) is replaced by a
fresh actor and its video goes back to the front of the queue, up to
``[run] max_retries`` times, then fails its page; the batch goes on.

Ray is an optional extra and is imported only here, only when a run asks for it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import shutil
import socket
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import pages as pages_mod
from . import steps
from . import transcribe as transcribe_stage
from .cache import Cache
from .config import Config, ConfigError, RunOptions
from .hooks import TRACE_ENV, Observer, StageHooks, Trace
from .job import JobMaker, VideoJob, in_cache, lazy_engine, lazy_model
from .report import PageOutcome, VideoOutcome
from .utils import add_timings, one_line

# The local run's per-page path: aligns and writes pages whose transcriptions are cached,
# completing each outcome (``amend``) before it is published.
Finish = Callable[[list[pages_mod.Page], Callable[[PageOutcome], PageOutcome]], Iterator[PageOutcome]]

RAY_MISSING = "--executor ray needs Ray: pip install 'du-transcripts[ray]'"
# A cluster this run starts itself holds only small results (a transcription is a few MB), never audio.
LOCAL_OBJECT_STORE_BYTES = 200 * 1024 * 1024
# How long a cluster's address may take to accept a connection before the run is refused.
ADDRESS_PROBE_SECONDS = 10.0


def import_ray() -> Any:
    """The ray module, or one clear line (ConfigError) saying what to install."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


@dataclass(frozen=True)
class VideoResult:
    """What a worker sends back for one job: the step's record, or why it has none."""

    key: str
    done: steps.Transcribed | None = None  # the transcription (the model's own words) and the step's timings
    error: str | None = None  # one line, prefixed with its stage as in a local run
    worker_pid: int = 0
    diarized: steps.Diarized | None = None  # --speakers: who speaks when, from the audio the worker holds

    @property
    def audio_seconds(self) -> float:
        return self.done.transcription.audio_duration if self.done is not None else 0.0


# -- the worker (a Ray actor) -----------------------------------------------------------------


class TranscribeWorker:
    """One model, loaded once; runs ``steps.video_step`` for one video at a time in a scratch cache.

    Plain Python: :class:`WorkerPool` makes it a Ray actor. Every error of a video is
    returned as its result's ``error``; only the death of the process reaches the driver
    as a Ray error.
    """

    def __init__(self, config: Config, cpus: int):
        if config.model.cpu_threads == 0:  # one thread per CPU the actor was given, not per core
            config = config.replace("model", cpu_threads=max(1, cpus))
        self.config = config
        self.scratch = Cache.at(tempfile.mkdtemp(prefix="du-transcripts-worker-"))
        self.hooks = StageHooks(None, Trace.from_environment())  # the local run's trace lines (tests read them)
        self.model = lazy_model(config, self.hooks)
        self.engine = lazy_engine(config, self.hooks)  # --speakers: one diarizer beside the model, on its device
        try:
            self.model()  # loaded now, while the pool starts, not on the first video
        except transcribe_stage.ModelError:
            pass  # remembered: reported per video, as a local run does

    def run(self, job: VideoJob) -> VideoResult:
        here = in_cache(job, self.scratch)  # the same entries in the scratch cache: the driver's lasts
        try:  # with --speakers, the turns of the audio it holds too (a failure reads as a local run's)
            done, diarized = steps.video_and_turns(here, self.model, self.engine, self.scratch, self.config, self.hooks)
            return VideoResult(job.key, done=done, diarized=diarized, worker_pid=os.getpid())
        except steps.FetchFailed as e:
            return VideoResult(job.key, error=str(e), worker_pid=os.getpid())
        except Exception as e:  # one bad video never stops the worker
            return VideoResult(job.key, error=f"transcribe: {one_line(e)}", worker_pid=os.getpid())
        finally:
            for folder in self.scratch.root.iterdir():  # one video at a time in the scratch cache
                shutil.rmtree(folder, ignore_errors=True)


# -- the pool ---------------------------------------------------------------------------------


@dataclass
class PoolStats:
    workers: int = 0
    cpus_per_worker: int = 0
    gpus_per_worker: float = 0.0
    jobs: int = 0
    retries: int = 0  # videos sent again after their worker died
    workers_lost: int = 0
    audio_seconds: float = 0.0  # of the videos the workers transcribed
    wall_seconds: float = 0.0  # from the pool's start (actors loading their models) to its last result
    busy_seconds: dict[int, float] = field(default_factory=dict)  # worker pid -> seconds spent on videos
    audio_by_worker: dict[int, float] = field(default_factory=dict)  # worker pid -> audio seconds done

    def to_json(self) -> dict[str, Any]:
        per_worker = [
            {"pid": pid, "audio_seconds": round(self.audio_by_worker.get(pid, 0.0), 3), "busy_seconds": round(busy, 3)}
            for pid, busy in sorted(self.busy_seconds.items())
        ]
        return {
            "executor": "ray",
            "workers": self.workers,
            "cpus_per_worker": self.cpus_per_worker,
            "gpus_per_worker": self.gpus_per_worker,
            "jobs": self.jobs,
            "retries": self.retries,
            "workers_lost": self.workers_lost,
            "audio_seconds": round(self.audio_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3),
            # audio seconds per wall second, all workers together
            "throughput": round(self.audio_seconds / self.wall_seconds, 3) if self.wall_seconds else 0.0,
            "per_worker": per_worker,
        }

    def record(self, result: VideoResult) -> None:
        self.audio_seconds += result.audio_seconds
        pid = result.worker_pid
        busy = sum(result.done.timings.values()) if result.done is not None else 0.0
        self.busy_seconds[pid] = self.busy_seconds.get(pid, 0.0) + busy
        self.audio_by_worker[pid] = self.audio_by_worker.get(pid, 0.0) + result.audio_seconds


def worker_shape(run: RunOptions, cluster: dict[str, float]) -> tuple[int, int, float]:
    """(actors, CPUs each, GPUs each) for a cluster holding ``cluster`` resources (ray.cluster_resources)."""
    gpus_in_cluster = float(cluster.get("GPU", 0.0))
    cpus_in_cluster = float(cluster.get("CPU", 1.0))
    gpus = _gpus_per_worker(run.gpus_per_worker, gpus_in_cluster)
    cpus = max(1, run.cpus_per_worker)
    if run.workers > 0:
        count = run.workers
    elif gpus > 0:
        count = int(gpus_in_cluster / gpus)
    else:
        count = int(cpus_in_cluster // cpus)
    # A pool the cluster cannot place would wait for ever: say so now instead.
    if count < 1 or count * cpus > cpus_in_cluster or count * gpus > gpus_in_cluster:
        raise ConfigError(
            f"the Ray cluster has {cpus_in_cluster:g} CPUs and {gpus_in_cluster:g} GPUs: it cannot hold "
            f"{max(count, 1)} worker(s) of {cpus} CPU(s) and {gpus:g} GPU(s) (see --workers, --gpus-per-worker)"
        )
    return count, cpus, gpus


def _gpus_per_worker(value: str, gpus_in_cluster: float) -> float:
    if value.strip().lower() == "auto":
        return 1.0 if gpus_in_cluster >= 1 else 0.0
    try:
        gpus = float(value)
    except ValueError:
        raise ConfigError(f"--gpus-per-worker: use auto or a number such as 1 or 0.5, not {value!r}") from None
    if gpus < 0:
        raise ConfigError("--gpus-per-worker must be 0 or more")
    return gpus


class WorkerPool:
    """A fixed number of TranscribeWorker actors fed from one queue of jobs, results as they finish."""

    def __init__(self, ray: Any, config: Config, *, size: int, cpus: int, gpus: float):
        self.ray = ray
        env = {TRACE_ENV: os.environ[TRACE_ENV]} if os.environ.get(TRACE_ENV) else {}
        # No restarts by Ray itself: a dead actor is replaced by a fresh one, which Ray may place
        # on another node, and its video goes to whichever worker is free first.
        self._actor = ray.remote(TranscribeWorker).options(
            num_cpus=cpus,
            num_gpus=gpus,
            max_restarts=0,
            max_task_retries=0,
            runtime_env={"env_vars": env} if env else None,
        )
        self.config, self.cpus = config, cpus
        self.stats = PoolStats(workers=size, cpus_per_worker=cpus, gpus_per_worker=gpus)
        self._started = time.perf_counter()
        self.actors = [self._actor.remote(config, cpus) for _ in range(size)]

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)

    def results(self, jobs: Iterable[VideoJob], max_retries: int) -> Iterator[tuple[VideoJob, VideoResult]]:
        """(job, its result) for every job, in the order they finish; a job whose worker dies is retried."""
        queue: deque[tuple[VideoJob, int]] = deque((job, 0) for job in jobs)
        self.stats.jobs = len(queue)
        idle: deque[int] = deque(range(len(self.actors)))
        running: dict[Any, tuple[int, VideoJob, int]] = {}  # object ref -> (actor slot, job, attempt)
        while queue or running:
            while queue and idle:
                slot = idle.popleft()
                job, attempt = queue.popleft()
                running[self.actors[slot].run.remote(job)] = (slot, job, attempt)
            done, _ = self.ray.wait(list(running), num_returns=1)
            slot, job, attempt = running.pop(done[0])
            result = self._collect(done[0], slot, job, attempt, max_retries, queue)
            idle.append(slot)  # at the back: a retried video goes to another worker when one is free
            if result is not None:
                self.stats.record(result)
                self.stats.wall_seconds = time.perf_counter() - self._started
                yield job, result

    def _collect(
        self,
        ref: Any,
        slot: int,
        job: VideoJob,
        attempt: int,
        max_retries: int,
        queue: deque[tuple[VideoJob, int]],
    ) -> VideoResult | None:
        from ray.exceptions import RayActorError, RayError

        try:
            result: VideoResult = self.ray.get(ref)
            return result
        except RayActorError as e:
            self.stats.workers_lost += 1
            self.actors[slot] = self._actor.remote(self.config, self.cpus)  # a fresh worker takes its place
            if attempt < max_retries:
                self.stats.retries += 1
                queue.appendleft((job, attempt + 1))
                return None
            return VideoResult(job.key, error=f"worker: lost {attempt + 1} time(s) on this video ({type(e).__name__})")
        except RayError as e:
            return VideoResult(job.key, error=f"worker: {type(e).__name__}: {one_line(e)[:300]}")


def check_address(address: str, timeout: float = ADDRESS_PROBE_SECONDS) -> None:
    """Refuse, in one line, a cluster address where no Ray cluster answers: ``ray.init`` would retry
    for minutes (and hold Ctrl-C) before saying so. "" (start Ray here) and "auto" pass.

    Ray's GCS (and the Ray Client server of ``ray://``) speaks gRPC: a listener that does not answer
    HTTP/2's opening with its SETTINGS is something else (unless the cluster uses TLS)."""
    if address in ("", "auto"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as connection:
            grpc = os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true") or _answers_http2(connection)
    except (OSError, ValueError) as e:
        reason = "no answer" if isinstance(e, TimeoutError) else (getattr(e, "strerror", None) or str(e))
        raise ConfigError(f"--ray-address {address}: cannot reach a Ray cluster there ({reason})") from None
    if not grpc:
        raise ConfigError(f"--ray-address {address}: something listens there, but not a Ray cluster")


# HTTP/2's client preface and an empty SETTINGS frame; a gRPC server answers with its own SETTINGS.
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _answers_http2(connection: socket.socket) -> bool:
    connection.sendall(_HTTP2_PREFACE)
    frame = b""
    while len(frame) < 9 and (chunk := connection.recv(9 - len(frame))):
        frame += chunk
    return len(frame) == 9 and frame[3] == 0x04  # a frame header of type SETTINGS


def connect(ray: Any, address: str, cpus_wanted: int | None = None) -> bool:
    """Join the cluster at ``address``, or start one on this machine; True when this call started Ray."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # an offline tool: no usage reports
    check_address(address)
    common: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False, "include_dashboard": False}
    for attempt in range(2):  # a local start gives its raylet 30 s, which a loaded machine can miss once
        try:
            if address:
                ray.init(address=address, **common)
            else:
                ray.init(num_cpus=cpus_wanted, object_store_memory=LOCAL_OBJECT_STORE_BYTES, **common)
            return True
        except Exception as e:  # Ray raises plain Exception, ConnectionError, RuntimeError, ValueError
            ray.shutdown()
            if address or attempt == 1:
                where = address or "(this machine)"
                raise ConfigError(f"--ray-address {where}: cannot start or join Ray: {one_line(e)}") from None
    return True


# -- the driver's side: chosen by Runner._executor -----------------------------------------------


@dataclass
class _PagePlan:
    page: pages_mod.Page
    videos: list[Path | str]  # per video in page order: its transcript file, or why it has none (one line)
    waiting: set[Path]  # transcript files not in the cache yet
    results: dict[Path, VideoResult] = field(default_factory=dict)

    def error(self) -> str | None:
        """The first failing video's reason, in page order, as a local run reports it."""
        for video in self.videos:
            if isinstance(video, str):
                return video
            result = self.results.get(video)
            if result is not None and result.error:
                return result.error
        return None


def _plan_pages(jobs_of: JobMaker, todo: list[pages_mod.Page]) -> tuple[list[_PagePlan], dict[Path, VideoJob]]:
    """Per page, the transcriptions it still waits for; and one job per missing transcription."""
    plans: list[_PagePlan] = []
    jobs: dict[Path, VideoJob] = {}
    for page in todo:
        plan = _PagePlan(page, videos=[], waiting=set())
        for video in page.videos:
            try:
                job = jobs_of.job(page, video)
            except Exception as e:  # as the local run's prefetch reports it
                plan.videos.append(f"download: {one_line(e)}")
                continue
            path = job.transcript.path
            plan.videos.append(path)
            diarized = steps.cached_turns(job) is not None or job.speakers is None
            if job.transcript.read() is None or not diarized:
                plan.waiting.add(path)
                # Same video and same context on two pages: one job (the same cache files); cached turns stay.
                jobs.setdefault(path, dataclasses.replace(job, speakers=None) if diarized else job)
        plans.append(plan)
    return plans, jobs


def process_on_ray(
    jobs_of: JobMaker,
    observer: Observer,
    finish: Finish,
    todo: list[pages_mod.Page],
    *,
    stats_out: dict[str, Any],
) -> Iterator[PageOutcome]:
    """Yield one PageOutcome per page of ``todo``, each as soon as its videos are transcribed.

    ``stats_out`` receives the pool's figures (PoolStats.to_json) when the batch ends.
    """
    ray = import_ray()
    config = jobs_of.config
    run = config.run
    plans, jobs = _plan_pages(jobs_of, todo)
    yield from _finish_ready(observer, finish, plans)  # pages whose videos are all cached already
    if not jobs:
        return
    started_ray = connect(ray, run.ray_address, cpus_wanted=run.workers * max(1, run.cpus_per_worker) or None)
    pool = None
    try:
        size, cpus, gpus = worker_shape(run, ray.cluster_resources())
        pool = WorkerPool(ray, config, size=size, cpus=cpus, gpus=gpus)
        for plan in plans:  # the display lists them as being fetched until their transcriptions come back
            observer.stage(plan.page, "worker", "download, prepare and transcribe on a Ray worker")
        for job, result in pool.results(list(jobs.values()), run.max_retries):
            if result.done is not None:  # the very files and bytes a local run writes: both executors share the cache
                job.keep(result.done.transcription, result.diarized)
            for plan in plans:
                if job.transcript.path in plan.waiting:
                    plan.waiting.discard(job.transcript.path)
                    plan.results[job.transcript.path] = result
            yield from _finish_ready(observer, finish, plans)
        stats_out.update(pool.stats.to_json())
    finally:
        if pool is not None:
            pool.close()
        if started_ray:
            ray.shutdown()


def _finish_ready(observer: Observer, finish: Finish, plans: list[_PagePlan]) -> Iterator[PageOutcome]:
    """Outcomes of the pages that wait for nothing any more (removed from ``plans``)."""
    for plan in [p for p in plans if not p.waiting]:
        plans.remove(plan)
        error = plan.error()
        if error:
            outcome = _failed(plan, error)
            observer.page_finished(outcome)
            yield outcome
            continue
        # Align and write from the cache, as locally; each outcome completed before it is published.
        yield from finish([plan.page], functools.partial(with_remote_figures, plan=plan))


def _failed(plan: _PagePlan, error: str) -> PageOutcome:
    page = plan.page
    videos = []
    for video, where in zip(page.videos, plan.videos, strict=True):
        result = plan.results.get(where) if isinstance(where, Path) else None
        if result is None:
            videos.append(VideoOutcome(url=video.url))
        else:
            videos.append(VideoOutcome(url=video.url, key=result.key, audio_seconds=result.audio_seconds))
    return PageOutcome(
        path=page.path, state=page.state, status="failed", reason=error, warnings=list(page.warnings), videos=videos
    )


def with_remote_figures(outcome: PageOutcome, plan: _PagePlan) -> PageOutcome:
    """The outcome with what the workers did for this page, as a local run reports its own stages."""
    by_key = {r.key: r.done for r in plan.results.values() if r.done is not None}
    videos, timings = [], dict(outcome.timings)
    for video in outcome.videos:
        done = by_key.get(video.key) if video.key is not None else None
        if done is not None:
            video = dataclasses.replace(video, transcribed=done.transcribed, downloaded=done.downloaded)
            timings = add_timings(timings, done.timings)
        videos.append(video)
    return dataclasses.replace(outcome, videos=videos, timings=timings)
