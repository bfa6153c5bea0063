"""The GPU path's setup, checked on any machine (issue 18): the CUDA 12 libraries that the `gpu`
extra installs load from their pip package (a load needs no GPU), `doctor` reports them, and a
CUDA run without a GPU is refused before any download. What needs a GPU is in test_cuda.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline import cuda, speakers
from pipeline.config import ConfigError, load_config

from test_run import make_page

REPO = Path(__file__).resolve().parent.parent


def _python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"},
    )


def test_cuda12_cublas_and_cudnn_load_from_their_pip_packages_without_ld_library_path():
    # A fresh process, as a run is: nothing loaded yet, no LD_LIBRARY_PATH.
    script = (
        "import json; from pipeline import cuda; "
        "statuses = [*cuda.load_ctranslate2_libraries(), cuda.load(cuda.CUDNN)]; "
        "maps = open('/proc/self/maps').read(); "
        "print(json.dumps([dict(s.to_json(), mapped=bool(s.path) and s.path in maps) for s in statuses]))"
    )
    env_path = os.environ.pop("LD_LIBRARY_PATH", None)
    try:
        result = _python("-c", script)
    finally:
        if env_path is not None:
            os.environ["LD_LIBRARY_PATH"] = env_path
    assert result.returncode == 0, result.stderr
    statuses = json.loads(result.stdout)
    assert [s["soname"] for s in statuses] == ["libcublasLt.so.12", "libcublas.so.12", "libcudnn.so.9"]
    for status in statuses:
        print(f"{status['soname']}: {status['path']} ({status['source']})")  # pytest -s shows where
        assert status["found"] and status["mapped"], status
    for status in statuses[:2]:  # the gpu extra's, for CTranslate2
        assert "site-packages/nvidia/cublas/lib/" in status["path"]
        assert status["source"].startswith("nvidia-cublas-cu12 12.")
    # torch's cuDNN 9 (the speaker stage): -cu13 with the test environment's torch 2.14, -cu12 on a workstation
    assert "site-packages/nvidia/cudnn/lib/" in statuses[2]["path"]
    assert statuses[2]["source"].startswith(("nvidia-cudnn-cu12 9.", "nvidia-cudnn-cu13 9."))


def test_doctor_json_reports_the_libraries_and_the_missing_gpu_as_the_reason_cuda_is_refused(tmp_path):
    if cuda.cuda_device_count() > 0:
        pytest.skip("this machine has a GPU: the refusal is not what doctor reports here")
    result = _python("-m", "pipeline", "doctor", "--json", "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    for soname in ("libcublasLt.so.12", "libcublas.so.12"):
        assert checks[soname]["status"] == "ok"
        assert checks[soname]["data"]["path"].endswith("nvidia/cublas/lib/" + soname)
    assert checks["gpu"]["status"] == "warn" and "no CUDA GPU" in checks["gpu"]["detail"]
    refusal = checks["--device cuda"]
    assert refusal["data"] == {"usable": False, "reason": cuda.gpu_problem()}
    assert checks["ffmpeg"]["status"] == checks["model tiny.en"]["status"] == "ok"
    assert checks["hub"]["data"]["reachable"] is False  # HF_HUB_OFFLINE: no request at all
    assert checks["cache"]["data"]["path"] == str(tmp_path / "cache")


def test_run_device_cuda_without_a_gpu_is_refused_before_any_download_naming_the_gpu(tmp_path, media):
    if cuda.cuda_device_count() > 0:
        pytest.skip("this machine has a GPU")
    server, _ = media
    folder = tmp_path / "site"
    folder.mkdir()
    make_page(folder / "01-jfk.md", server.url("jfk.flac"), ["00:00 Inauguration"])
    result = _python(
        "-m", "pipeline", "run", "--quiet", str(folder), "--cache-dir", str(tmp_path / "c"), "--device", "cuda"
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "--device cuda: no CUDA GPU here" in lines[0] and "or use --device cpu" in lines[0]
    assert sum(server.hits.values()) == 0


def test_a_gpu_without_the_cuda_libraries_is_refused_with_the_install_line():
    missing = [cuda.LibraryStatus("libcublas.so.12", "CTranslate2", False, None, "", "not found")]
    problem = cuda.library_problem(missing)
    assert problem is not None and "libcublas.so.12" in problem and problem.endswith(cuda.GPU_EXTRA_HINT)
    found = [cuda.LibraryStatus("libcublas.so.12", "CTranslate2", True, "/x/libcublas.so.12", "system")]
    assert cuda.library_problem(found) is None


@pytest.mark.parametrize(
    "model, compute, wanted, free_mib, expected",
    [
        ("large-v3-turbo", "float16", 16, 80_000, 16),  # an H100: the configured batch
        ("large-v3-turbo", "float16", 16, 6_000, 8),  # an 8 GB card with 6 GB free
        ("large-v3", "float16", 16, 4_000, 1),  # the model barely fits: sequential
        ("large-v3", "int8_float16", 16, 6_000, 8),  # int8 weights leave room for a batch
        ("tiny.en", "float16", 32, 2_000, 32),
    ],
)
def test_batch_size_is_what_the_free_gpu_memory_holds(model, compute, wanted, free_mib, expected):
    assert cuda.fit_batch_size(model, compute, wanted, free_mib) == expected


def test_gpus_per_worker_packing_is_checked_against_the_gpu_memory():
    cuda.check_packing(0.5, 81_559, "large-v3-turbo", "float16", 16)  # two on an H100: fine
    cuda.check_packing(1.0, 8_000, "large-v3", "float16", 32)  # one per GPU: not a packing question
    with pytest.raises(cuda.CudaUnavailable, match=r"--gpus-per-worker 0.25 packs 4 workers .* use --gpus-per-worker"):
        cuda.check_packing(0.25, 16_000, "large-v3-turbo", "float16", 16)


def test_speakers_device_auto_follows_the_run_device():
    options = load_config().speakers
    assert options.device == "auto"
    assert speakers.engine_device(options, "cpu") == "cpu"
    on_gpu = "cuda" if cuda.torch_cuda_problem() is None else "cpu"  # a CUDA run diarizes where torch can
    assert speakers.engine_device(options, "cuda") == on_gpu
    assert speakers.engine_device(dataclasses.replace(options, device="cpu"), "cuda") == "cpu"
    if cuda.torch_cuda_problem() is not None:
        with pytest.raises(ConfigError, match=r"\[speakers\] device cuda: torch .* sees no GPU"):
            speakers.check_device(dataclasses.replace(options, device="cuda"))


def test_nvidia_smi_is_read_and_a_gpu_ctranslate2_cannot_see_is_named(tmp_path, monkeypatch):
    # The one stand-in here: nvidia-smi itself (no GPU on this machine), answering as an H100 and a MIG slice.
    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 81559, 80871, 580.159.04'\necho 'MIG 1g.10gb, [N/A], [N/A], 580'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert cuda.gpus() == (cuda.Gpu("NVIDIA H100 80GB HBM3", 81559, 80871, "580.159.04"),)
    if cuda.cuda_device_count() == 0:
        problem = cuda.gpu_problem()
        assert problem is not None and "nvidia-smi lists NVIDIA H100 80GB HBM3 (driver 580.159.04)" in problem


def test_a_ray_pool_packing_more_models_than_the_gpu_holds_is_refused_before_any_download(tmp_path, media):
    # nvidia-smi stands in for a 16 GB card (the one stand-in: no GPU here); Ray itself is never started.
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'NVIDIA T4, 16384, 16000, 580.159.04'\n")
    fake.chmod(0o755)
    server, _ = media
    folder = tmp_path / "site"
    folder.mkdir()
    make_page(folder / "01-jfk.md", server.url("jfk.flac"), ["00:00 Inauguration"])
    args = ["--executor", "ray", "--gpus-per-worker", "0.25", "--model", "large-v3", "--batch-size", "16"]
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--quiet", str(folder), "--cache-dir", str(tmp_path / "c"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{fake.parent}:{os.environ['PATH']}"},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert "--gpus-per-worker 0.25 packs 4 workers on one GPU" in line and "16384 MiB" in line, line
    assert "use --gpus-per-worker 1 or more" in line
    assert sum(server.hits.values()) == 0
