"""`run --executor ray` on a real local Ray cluster, against a local run of the same pages.

The module starts one cluster (``ray.init(num_cpus=2)``, a 200 MB object store) and
shuts it down at the end. Every run is a real
``python -m pipeline run`` subprocess: real yt-dlp over the loopback media server, real
ffmpeg, the real tiny.en model in each worker, real speech. Workers and drivers are
killed with SIGKILL at a stage read from the run's trace ($DU_TRANSCRIPTS_TRACE).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from pipeline import pages, steps
from pipeline.cache import Cache
from pipeline.config import ConfigError, load_config
from pipeline.hooks import StageHooks
from pipeline.job import JobMaker
from pipeline.locations import media_key
from pipeline.ray_executor import RAY_MISSING, TranscribeWorker, worker_shape

from evalkit.mediaserver import MediaServer
from test_batch import events, kill, make_site, report_of, start_run, wait_for
from test_run import EXAMPLE_AUDIO, run_cli

REPO = Path(__file__).resolve().parent.parent
NAMES = ["jfk.flac", "terminal.ogg", "jfk.mp3", "missing.mp3"]  # missing.mp3: a 404


@pytest.fixture(scope="module")
def cluster():
    """The address of a Ray cluster started in this process for the module (2 CPUs), shut down at the end.

    Its drivers are the runs' subprocesses, which join it by address; Ray's own shutdown
    ends every process it started.
    """
    ray = pytest.importorskip("ray")
    env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}  # loopback only, offline
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the runs' subprocesses inherit it
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths have a length limit
    for attempt in range(3):  # Ray gives its raylet 30 s to register, which a loaded machine can miss
        try:
            ray.init(
                num_cpus=2,
                num_gpus=0,
                object_store_memory=200 * 1024 * 1024,
                include_dashboard=False,
                logging_level="WARNING",
                _temp_dir=temp_dir,
            )
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def server(tmp_path_factory, speech_media, jfk_flac):
    folder = tmp_path_factory.mktemp("ray-talks")
    shutil.copy(jfk_flac, folder / "jfk.flac")
    shutil.copy(EXAMPLE_AUDIO, folder / "terminal.ogg")
    shutil.copy(speech_media / "jfk.mp3", folder / "jfk.mp3")
    with MediaServer(folder) as s:
        yield s


@pytest.fixture(scope="module")
def local(tmp_path_factory, server):
    """A local run of every page: its pages' bytes, its report and its cache."""
    root = tmp_path_factory.mktemp("ray-local")
    site = make_site(root / "site", server, NAMES)
    result = run_cli(str(root / "site"), "--cache-dir", str(root / "cache"), "--report", str(root / "r.json"))
    assert result.returncode == 1, result.stdout + result.stderr  # the 404 page fails
    data, _ = report_of(root / "r.json")
    return {"bytes": {n: p.read_bytes() for n, p in site.items()}, "report": data, "cache": root / "cache"}


def ray_args(address: str, cache: Path, report: Path, *extra: str) -> list[str]:
    return ["--executor", "ray", "--ray-address", address, "--cache-dir", str(cache), "--report", str(report), *extra]


@pytest.mark.ray
def test_a_cluster_run_writes_the_same_pages_as_a_local_run_and_a_404_fails_alone(tmp_path, server, cluster, local):
    site = make_site(tmp_path / "site", server, NAMES)
    result = run_cli(str(tmp_path / "site"), *ray_args(cluster, tmp_path / "cache", tmp_path / "r.json"))
    assert result.returncode == 1, result.stdout + result.stderr
    data, totals = report_of(tmp_path / "r.json")
    for name, page in site.items():
        assert page.read_bytes() == local["bytes"][name], f"{name}: not the local run's page"
        assert data[page.name]["status"] == local["report"][page.name]["status"]
        assert data[page.name]["error"] == local["report"][page.name]["error"]
    assert data["04-missing-mp3.md"]["error"].startswith("download: ")
    assert totals["videos_transcribed"] == 3 and not totals["model_loaded"]  # the driver never loaded the model
    executor = json.loads((tmp_path / "r.json").read_text())["executor"]
    assert executor["workers"] == 2 and executor["jobs"] == 4 and executor["retries"] == 0
    assert executor["audio_seconds"] > 60 and executor["throughput"] > 0
    # The cluster's cache holds what a local run's does, file for file.
    relative = sorted(str(p.relative_to(tmp_path / "cache")) for p in (tmp_path / "cache").glob("transcripts/*/*"))
    assert relative == sorted(str(p.relative_to(local["cache"])) for p in local["cache"].glob("transcripts/*/*"))


@pytest.mark.ray
def test_a_worker_killed_mid_transcription_has_its_video_retried_and_the_batch_completes(
    tmp_path, server, cluster, local
):
    site = make_site(tmp_path / "site", server, NAMES[:2])
    trace = tmp_path / "trace.jsonl"
    run = start_run(str(tmp_path / "site"), *ray_args(cluster, tmp_path / "cache", tmp_path / "r.json"), trace=trace)
    # terminal.ogg is 50 s of speech: seconds of transcription to kill its worker in.
    terminal = media_key(server.url("terminal.ogg"))
    start = wait_for(
        lambda: [e for e in events(trace, "start", "transcribe") if e["key"] == terminal],
        run,
        "a worker to start transcribing terminal.ogg",
    )[0]
    assert start["pid"] != run.pid
    os.kill(start["pid"], signal.SIGKILL)
    assert run.wait(timeout=180) == 0
    killed_key = start["key"]
    assert not [e for e in events(trace, "end", "transcribe") if e["pid"] == start["pid"]]
    retried = [e for e in events(trace, "end", "transcribe") if e["key"] == killed_key]
    assert len(retried) == 1 and retried[0]["pid"] != start["pid"]
    executor = json.loads((tmp_path / "r.json").read_text())["executor"]
    assert executor["retries"] == 1 and executor["workers_lost"] == 1
    for name, page in site.items():
        assert page.read_bytes() == local["bytes"][name]


@pytest.mark.ray
def test_a_killed_driver_resumes_locally_without_redoing_a_finished_video(tmp_path, server, cluster, local):
    site = make_site(tmp_path / "site", server, NAMES[:2])  # two workers: jfk.flac (11 s) is cached first
    cache, trace = tmp_path / "cache", tmp_path / "trace.jsonl"
    run = start_run(str(tmp_path / "site"), *ray_args(cluster, cache, tmp_path / "r1.json"), trace=trace)
    [done] = wait_for(lambda: list(cache.glob("transcripts/*/*.json"))[:1], run, "the first video to be cached")
    kill(run)
    cached_before = {p.parent.name for p in cache.glob("transcripts/*/*.json")}
    assert done.parent.name in cached_before and len(cached_before) < 2

    trace.rename(tmp_path / "trace-first.jsonl")
    os.environ["DU_TRANSCRIPTS_TRACE"] = str(trace)
    try:  # the rerun is a local one: both executors share the cache
        result = run_cli(str(tmp_path / "site"), "--cache-dir", str(cache), "--report", str(tmp_path / "r2.json"))
    finally:
        del os.environ["DU_TRANSCRIPTS_TRACE"]
    assert result.returncode == 0, result.stdout + result.stderr
    redone = {e["key"] for e in events(trace, "start", "transcribe")}
    assert redone == {p.parent.name for p in cache.glob("transcripts/*/*.json")} - cached_before
    assert len(redone) == 2 - len(cached_before)
    for name, page in site.items():
        assert page.read_bytes() == local["bytes"][name]


@pytest.mark.ray
def test_a_local_run_imports_nothing_of_ray(tmp_path, server, local):
    # A fresh copy of a page whose transcription the local run cached: the local path end to end.
    site = make_site(tmp_path / "site", server, ["jfk.flac"])
    code = (
        "import sys\n"
        "from pipeline.config import load_config\n"
        "from pipeline.runner import run_batch\n"
        f"report = run_batch([{str(tmp_path / 'site')!r}], load_config(), cache_dir={str(local['cache'])!r})\n"
        "assert [p.status for p in report.pages] == ['done'], report.to_json()\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert site["jfk.flac"].read_bytes() == local["bytes"]["jfk.flac"]


@pytest.mark.ray
def test_without_ray_the_ray_executor_fails_up_front_with_one_line(tmp_path, server):
    # A `ray` that cannot be imported, ahead of the real one on the path.
    fake = tmp_path / "no-ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    make_site(tmp_path / "site", server, ["jfk.mp3"])
    server.hits.clear()
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--quiet", "--executor", "ray", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(fake.parent)},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"config error {RAY_MISSING}"]
    assert not server.hits, "something was fetched before the executor was checked"
    assert pages.read_page(tmp_path / "site" / "01-jfk-mp3.md").state == pages.NEEDS_TRANSCRIPT


def test_a_worker_runs_the_local_video_step_in_a_scratch_cache_and_its_result_caches_the_same_bytes(tmp_path, server):
    # The actor's class as plain Python (no cluster): what a Ray worker does with one job.
    config = load_config().replace("model", cpu_threads=1)
    site = make_site(tmp_path / "site", server, ["jfk.flac", "missing.mp3"])
    driver = JobMaker(config, Cache.at(tmp_path / "driver"))
    jfk, missing = (pages.read_page(site[name]) for name in ("jfk.flac", "missing.mp3"))
    job = driver.job(jfk, jfk.videos[0])
    worker = TranscribeWorker(config, cpus=1)
    result = worker.run(job)
    assert result.error is None and result.done is not None and result.done.transcribed and result.done.downloaded
    assert set(result.done.timings) == {"download", "prepare", "transcribe"}
    assert not any(driver.cache.root.iterdir()), "the worker wrote to the driver's cache"
    assert not any(worker.scratch.root.iterdir()), "the scratch cache keeps one video at a time"
    job.transcript.write(result.done.transcription)

    local = JobMaker(config, Cache.at(tmp_path / "local"))
    local_job = local.job(jfk, jfk.videos[0])
    steps.video_step(local_job, worker.model, local.cache, config, StageHooks())
    assert local_job.transcript.path.relative_to(local.cache.root) == job.transcript.path.relative_to(driver.cache.root)
    assert job.transcript.path.read_bytes() == local_job.transcript.path.read_bytes()

    failed = worker.run(driver.job(missing, missing.videos[0]))
    expected = steps.fetch_audio(local.job(missing, missing.videos[0]), local.cache, config, StageHooks()).error
    assert failed.done is None and failed.error == expected and expected.startswith("download: ")


def test_the_pool_is_shaped_by_the_cluster_and_the_options():
    run = load_config().run

    def shape(cluster, **options):
        return worker_shape(dataclasses.replace(run, **options), cluster)

    assert shape({"CPU": 16.0, "GPU": 4.0}) == (4, 1, 1.0)  # auto: one GPU per actor
    assert shape({"CPU": 16.0, "GPU": 4.0}, gpus_per_worker="0.5") == (8, 1, 0.5)
    assert shape({"CPU": 2.0}) == (2, 1, 0.0)  # no GPU: CPU actors, one per CPU
    assert shape({"CPU": 8.0}, cpus_per_worker=4) == (2, 4, 0.0)
    assert shape({"CPU": 8.0}, workers=3) == (3, 1, 0.0)
    with pytest.raises(ConfigError, match="cannot hold 3 worker"):
        shape({"CPU": 2.0}, workers=3)
    with pytest.raises(ConfigError, match="cannot hold"):
        shape({"CPU": 2.0}, gpus_per_worker="1")
    with pytest.raises(ConfigError, match="--gpus-per-worker: use auto"):
        shape({"CPU": 2.0}, gpus_per_worker="half")
