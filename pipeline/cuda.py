"""The CUDA side of a run: the GPU, the CUDA libraries CTranslate2 loads, and what fits the card.

PyPI's ctranslate2 (>= 4.6.3) carries its own CUDA runtime but opens cuBLAS for CUDA 12
(``libcublas.so.12``, which needs ``libcublasLt.so.12``) by name at its first CUDA call; it no
longer uses cuDNN (OpenNMT/CTranslate2 #1949; 4.6.0-4.6.2 bundled a cuDNN 9 stub). The ``gpu``
extra installs ``nvidia-cublas-cu12``, whose files land in ``site-packages/nvidia/cublas/lib``,
a folder no loader searches; :func:`load_ctranslate2_libraries` opens them by path with
RTLD_GLOBAL before the model loads, so CTranslate2's own ``dlopen("libcublas.so.12")`` finds the
copy already in the process and no ``LD_LIBRARY_PATH`` is needed. cuBLAS 12 and 13 can share a
process: their symbols carry the library's version (``cublasCreate_v2@@libcublas.so.12``), so
a CUDA 13 torch binds to its own.

Also: :func:`require_cuda` (the preflight of ``--device cuda``: one line naming the cause and
the fix), :func:`gpus` (nvidia-smi), and the memory table behind :func:`fit_batch_size` and
:func:`check_packing`.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata
import logging
import os
import shutil
import site
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .config import Config, ConfigError

log = logging.getLogger(__name__)

GPU_EXTRA_HINT = "pip install 'du-transcripts[gpu]'"


class CudaUnavailable(RuntimeError):
    """The GPU path cannot run here; str(e) is one line: the cause, then the fix."""


@dataclass(frozen=True, slots=True)
class CudaLibrary:
    soname: str
    packages: tuple[str, ...]  # the pip packages that ship it, the preferred first
    folders: tuple[str, ...]  # where those packages put it, under site-packages
    needed_by: str


CUBLAS_LT = CudaLibrary("libcublasLt.so.12", ("nvidia-cublas-cu12",), ("nvidia/cublas/lib",), "CTranslate2")
CUBLAS = CudaLibrary("libcublas.so.12", ("nvidia-cublas-cu12",), ("nvidia/cublas/lib",), "CTranslate2")
# cuDNN 9 is torch's (the speaker stage): both nvidia-cudnn-cu12 and -cu13 install it as
# nvidia/cudnn/lib/libcudnn.so.9, so the one installed last owns those files.
CUDNN = CudaLibrary(
    "libcudnn.so.9", ("nvidia-cudnn-cu12", "nvidia-cudnn-cu13"), ("nvidia/cudnn/lib",), "torch (speakers)"
)
CTRANSLATE2_LIBRARIES = (CUBLAS_LT, CUBLAS)  # in load order: libcublas.so.12 needs libcublasLt.so.12


@dataclass(frozen=True, slots=True)
class LibraryStatus:
    soname: str
    needed_by: str
    found: bool
    path: str | None  # the file the process holds
    source: str  # "nvidia-cublas-cu12 12.9.3.13" (a pip package), "system" or ""
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Gpu:
    name: str
    memory_mib: int
    free_mib: int
    driver: str


# ---------------------------------------------------------------- the libraries


def package_dirs() -> list[Path]:
    """Every folder Python imports packages from (the venv's site-packages, --target dirs on sys.path)."""
    candidates = [*sys.path, *site.getsitepackages(), site.getusersitepackages()]
    seen: dict[Path, None] = {}
    for entry in candidates:
        if entry and Path(entry).is_dir():
            seen.setdefault(Path(entry).resolve(), None)
    return list(seen)


def find_in_packages(library: CudaLibrary) -> Path | None:
    for base in package_dirs():
        for folder in library.folders:
            candidate = base / folder / library.soname
            if candidate.is_file():
                return candidate
    return None


def package_of(library: CudaLibrary) -> str:
    for name in library.packages:
        try:
            return f"{name} {importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "a pip package"


class _LinkMap(ctypes.Structure):  # the head of glibc's struct link_map
    _fields_ = [("l_addr", ctypes.c_void_p), ("l_name", ctypes.c_char_p)]


def _loaded_path(handle: ctypes.CDLL) -> str | None:
    """The file the loader opened for ``handle`` (dlinfo RTLD_DI_LINKMAP), links resolved."""
    try:
        link_map = ctypes.POINTER(_LinkMap)()
        if ctypes.CDLL(None).dlinfo(ctypes.c_void_p(handle._handle), 2, ctypes.byref(link_map)) != 0:
            return None
        name = link_map.contents.l_name
    except (AttributeError, OSError, ValueError):  # no dlinfo (not glibc)
        return None
    return os.path.realpath(os.fsdecode(name)) if name else None


@functools.cache
def load(library: CudaLibrary) -> LibraryStatus:
    """Open ``library`` into the process (RTLD_GLOBAL): from its pip package, else as the system finds it."""
    path = find_in_packages(library)
    try:
        if path is not None:
            ctypes.CDLL(os.fspath(path), mode=os.RTLD_GLOBAL)
            return LibraryStatus(library.soname, library.needed_by, True, str(path), package_of(library))
        handle = ctypes.CDLL(library.soname, mode=os.RTLD_GLOBAL)  # the system's: ldconfig, LD_LIBRARY_PATH
    except OSError as e:
        return LibraryStatus(library.soname, library.needed_by, False, str(path) if path else None, "", str(e))
    return LibraryStatus(library.soname, library.needed_by, True, _loaded_path(handle), "system")


def load_ctranslate2_libraries() -> list[LibraryStatus]:
    """cuBLAS for CUDA 12, loaded before CTranslate2 asks for it. Needs no GPU."""
    return [load(library) for library in CTRANSLATE2_LIBRARIES]


# ---------------------------------------------------------------- the GPU


def gpus() -> tuple[Gpu, ...] | None:
    """The GPUs nvidia-smi lists (name, memory, driver); None when nvidia-smi is absent or fails."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    query = "--query-gpu=name,memory.total,memory.free,driver_version"
    try:
        out = subprocess.run([smi, query, "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    found = []
    for line in out.stdout.strip().splitlines():
        try:
            name, total, free, driver = (part.strip() for part in line.split(","))
            found.append(Gpu(name, int(float(total)), int(float(free)), driver))
        except ValueError:  # "[N/A]" (a MIG slice, a driver that hides memory): not one to size by
            continue
    return tuple(found)


def cuda_device_count() -> int:
    """What CTranslate2 sees (0 without a GPU, a driver, or CTranslate2's CUDA build)."""
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count()
    except Exception:  # an import or a driver error: no usable GPU either way
        return 0


def gpu_problem() -> str | None:
    """Why CTranslate2 cannot use a GPU here (one line, with the fix), or None when it sees one."""
    if cuda_device_count() > 0:
        return None
    listed = gpus()
    if listed is None:
        return (
            "no CUDA GPU here (no nvidia-smi, CTranslate2 sees 0 GPUs): run on a machine with an NVIDIA GPU "
            "and its driver, or use --device cpu"
        )
    if not listed:
        return "nvidia-smi lists no GPU (CTranslate2 sees 0): check the driver (nvidia-smi), or use --device cpu"
    return (
        f"CTranslate2 sees no GPU although nvidia-smi lists {listed[0].name} (driver {listed[0].driver}): "
        "CUDA 12 needs driver 525 or later; check CUDA_VISIBLE_DEVICES, or use --device cpu"
    )


def library_problem(statuses: list[LibraryStatus]) -> str | None:
    missing = [s.soname for s in statuses if not s.found]
    if not missing:
        return None
    return (
        f"CTranslate2 needs {' and '.join(missing)} (cuBLAS for CUDA 12), found neither in the installed "
        f"packages nor on the library path: {GPU_EXTRA_HINT}"
    )


def require_cuda() -> list[LibraryStatus]:
    """The preflight of a CUDA run: a GPU CTranslate2 sees and the libraries it loads, loaded now.
    Raises :class:`CudaUnavailable` with the first cause (the GPU before the libraries)."""
    problem = gpu_problem()
    if problem is not None:
        raise CudaUnavailable(problem)
    statuses = load_ctranslate2_libraries()
    problem = library_problem(statuses)
    if problem is not None:
        raise CudaUnavailable(problem)
    return statuses


def usable_devices(requested: str) -> int:
    """The CUDA devices a run asking for ``requested`` (auto, cpu, cuda) gets: "cuda" requires the GPU and
    the libraries (:func:`require_cuda`, which loads them); "auto" counts them only where both are there."""
    if requested == "cuda":
        require_cuda()
    elif requested != "auto" or not cuda_usable():
        return 0
    return cuda_device_count()


def cuda_usable() -> bool:
    """``--device auto`` picks CUDA only where it would run: a GPU and the libraries."""
    try:
        require_cuda()
    except CudaUnavailable:
        return False
    return True


# ---------------------------------------------------------------- what fits the card

# GPU memory (MiB) a Whisper model takes in float16: its weights plus CTranslate2's workspace,
# and what each item of a batch adds (the encoder's activations for 30 s, beam-5 decoding).
# Anchored on faster-whisper's published figures for large-v2 on an 8 GB card (float16, beam 5:
# 4525 MB sequential, 6090 MB at batch 8, so about 200 MB an item), scaled by parameter count;
# int8_float16 halves the weights only. A 20 % margin is kept for the CUDA context and fragmentation.
_MODEL_MIB = {"tiny": 250, "base": 350, "small": 900, "medium": 2200, "large": 4400, "turbo": 2400}
_ITEM_MIB = {"tiny": 20, "base": 30, "small": 70, "medium": 130, "large": 200, "turbo": 200}
BATCH_SIZES = (32, 16, 8, 4, 2, 1)
_MARGIN = 0.8


def _size_class(model: str) -> str:
    name = Path(model).name.lower()
    if "turbo" in name:
        return "turbo"
    return next((size for size in ("tiny", "base", "small", "medium") if size in name), "large")


def memory_needed_mib(model: str, compute_type: str, batch_size: int) -> int:
    """GPU memory one loaded model needs at ``batch_size`` (the table above)."""
    size = _size_class(model)
    weights = _MODEL_MIB[size] // (2 if compute_type.startswith("int8") else 1)
    return weights + _ITEM_MIB[size] * max(1, batch_size)


def fit_batch_size(model: str, compute_type: str, wanted: int, free_mib: int) -> int:
    """The largest batch size, at most ``wanted``, whose model fits in ``free_mib`` (1 at the least)."""
    for size in BATCH_SIZES:
        if size <= wanted and memory_needed_mib(model, compute_type, size) <= free_mib * _MARGIN:
            return size
    return 1


def batch_cap(model: str, compute_type: str, wanted: int) -> int:
    """The batch the first GPU's free memory holds (:func:`fit_batch_size`); 0 (no cap) without nvidia-smi."""
    listed = gpus() if wanted > 1 else None
    if not listed:
        return 0
    cap = fit_batch_size(model, compute_type, wanted, listed[0].free_mib)
    log.info("batch size on %s (%d MiB free): at most %d", listed[0].name, listed[0].free_mib, cap)
    return cap


def check_packing(gpus_per_worker: float, gpu_memory_mib: int, model: str, compute_type: str, batch_size: int) -> None:
    """``--gpus-per-worker`` below 1 packs several models on one GPU: refuse a packing the card cannot hold."""
    if not 0 < gpus_per_worker < 1:
        return
    per_gpu = int(1 / gpus_per_worker)
    each = memory_needed_mib(model, compute_type, batch_size)
    if per_gpu * each > gpu_memory_mib * _MARGIN:
        fits = max(1, int(gpu_memory_mib * _MARGIN // each))
        raise CudaUnavailable(
            f"--gpus-per-worker {gpus_per_worker:g} packs {per_gpu} workers on one GPU, each about {each} MiB "
            f"({Path(model).name}, {compute_type}, batch {batch_size}), but the GPU has {gpu_memory_mib} MiB: "
            f"use --gpus-per-worker {1 / fits:g} or more, or a smaller --batch-size"
        )


# ---------------------------------------------------------------- torch, for the speaker stage

TORCH_CUDA12_HINT = "pip install 'torch>=2.8,<2.11' (PyPI's CUDA 12.8 builds; torch 2.11+ is CUDA 13: driver 580+)"


def torch_cuda_problem() -> str | None:
    """Why torch cannot diarize on a GPU here (one line, with the fix), or None when it can."""
    try:
        import torch
    except ImportError:
        return "torch is not installed: pip install 'du-transcripts[speakers]'"
    if not torch.version.cuda:
        return f"torch {torch.__version__} is a CPU build: {TORCH_CUDA12_HINT}"
    if torch.cuda.is_available():
        return None
    if cuda_device_count() == 0 and not gpus():
        return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU: there is none here"
    return (
        f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU although there is one: {TORCH_CUDA12_HINT}"
    )


def check_pool_packing(config: Config) -> None:
    """With ``--executor ray`` and ``--gpus-per-worker`` below 1, :func:`check_packing` against this
    machine's smallest GPU, standing for the cluster's (Ray reports no GPU memory); before any download.
    Nothing to check where this machine has no GPU."""
    try:
        gpus_per_worker = float(config.run.gpus_per_worker)  # "auto": one per GPU, or CPU workers
    except ValueError:
        return
    listed = gpus() if config.run.executor == "ray" and 0 < gpus_per_worker < 1 else None
    if not listed:
        return
    compute = config.model.compute_type if config.model.compute_type != "auto" else "float16"
    memory = min(g.memory_mib for g in listed)
    try:
        check_packing(gpus_per_worker, memory, config.model.name, compute, config.transcribe.batch_size)
    except CudaUnavailable as e:
        raise ConfigError(str(e)) from None
