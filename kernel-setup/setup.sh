#!/usr/bin/env bash
# Gets a machine ready to run the notebooks: Debian packages (Jupyter, chromium, PyTorch reference), the
# project's tslab kernel, the `midtrain` self-link, and the native CPU kernels when package.json has a
# build:native script (optional: without them the chooser uses wasm). Safe to re-run: each step checks first.
#
# Why a committed kernelspec instead of `npx tslab install`: tslab's installer calls whichever python is
# first on PATH (often one without Jupyter) and writes into the user's global Jupyter dirs. Ours lives in
# kernel-setup/jupyter/ and is found through JUPYTER_PATH, which every entry point (npm run notebook,
# npm run notebooks, npm test) sets; nothing outside the project is touched.
#
# Usage: kernel-setup/setup.sh [--no-apt]
#   --no-apt   never call apt-get (only report what is missing)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export JUPYTER_PATH="$ROOT/kernel-setup/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export NB_ROOT="$ROOT"
export PYDEVD_DISABLE_FILE_VALIDATION=1   # else Debian's python 3.11 + debugpy print a 4-line warning per call
NO_APT=0
[[ "${1:-}" == --no-apt ]] && NO_APT=1

say() { echo "[setup] $*"; }

# --- Node and npm packages ------------------------------------------------------------------------------
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error(`[setup] Node ${process.versions.node} is too old: need >= 20.19 (require(esm) for arquero)`); process.exit(1); }'
if [[ ! -d "$ROOT/node_modules/tslab" || ! -d "$ROOT/node_modules/@tensorflow/tfjs" ]]; then
  say "node_modules is incomplete: run 'npm install' (or 'npm ci') in $ROOT first"; exit 1
fi
node "$ROOT/kernel-setup/link-self.js"
say "node $(node --version); npm packages present; node_modules/midtrain -> project root"

# --- Debian packages --------------------------------------------------------------------------------------
if (( NO_APT )); then bash "$ROOT/kernel-setup/apt-install.sh" --check; else bash "$ROOT/kernel-setup/apt-install.sh"; fi

# --- Native CPU kernels (optional: the backend chooser falls back to wasm without them) -------------------
if node -e 'process.exit(require(process.argv[1]).scripts?.["build:native"] ? 0 : 1)' "$ROOT/package.json"; then
  if compgen -G "$ROOT/native/build/*.node" >/dev/null; then
    say "native kernels: built ($(cd "$ROOT" && ls native/build/*.node | head -1))"
  elif (cd "$ROOT" && npm run -s build:native); then
    say "native kernels: built"
  else
    say "native kernels: build failed (see above); notebooks still run, on the wasm backend"
  fi
fi

# --- lavapipe (optional): a CPU Vulkan driver so the webgpu backend's tests run without a GPU --------------
# ~11 MB into the cache from bookworm-backports, nothing installed system-wide; skipped off Debian.
if [[ ${MIDTRAIN_NO_LAVAPIPE:-0} != 1 ]]; then
  bash "$ROOT/kernel-setup/lavapipe.sh" 2>&1 | sed 's/^/[setup] /' || say "lavapipe: fetch failed (see above); the webgpu tests will be skipped"
fi

# --- Jupyter and the kernel -------------------------------------------------------------------------------
PY=${MIDTRAIN_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import nbconvert, nbclient, jupyter_client' 2>/dev/null; then
  say "no usable Jupyter: $PY cannot import nbconvert, nbclient and jupyter_client (see the install hints above)"; exit 1
fi
# Captured first: `grep -q` would close the pipe early and, under pipefail, fail the check at random.
SPECS=$("$PY" -m jupyter kernelspec list 2>/dev/null || true)
if ! grep -q "tslab .*$ROOT/kernel-setup/jupyter/kernels/tslab" <<<"$SPECS"; then
  say "the tslab kernelspec in kernel-setup/jupyter/kernels/tslab is not visible to Jupyter:"
  echo "$SPECS"
  exit 1
fi
say "Jupyter: $("$PY" -c 'import nbconvert, jupyter_client; print("nbconvert", nbconvert.__version__, "/ jupyter_client", jupyter_client.__version__)') via $PY"
say "kernel 'tslab' registered for this project: JUPYTER_PATH=$ROOT/kernel-setup/jupyter (kernel cwd: $ROOT)"
if ! "$PY" -c 'import notebook' 2>/dev/null; then say "note: no 'notebook' package, so 'npm run notebook' cannot serve (headless runs still work)"; fi
if [[ ! -x ${MIDTRAIN_CHROMIUM:-/usr/bin/chromium} ]]; then say "note: no chromium at ${MIDTRAIN_CHROMIUM:-/usr/bin/chromium}: figures are saved as HTML only, PNG export fails"; fi
say "done"
