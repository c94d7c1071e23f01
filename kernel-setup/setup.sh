#!/usr/bin/env bash
# Gets a machine ready to run the notebooks: Debian packages (Jupyter, chromium, PyTorch reference), the
# project's tslab kernel, and the `midtrain` self-link. Safe to re-run: every step checks before it acts.
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
LIST="$ROOT/kernel-setup/apt-packages.txt"
export JUPYTER_PATH="$ROOT/kernel-setup/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export NB_ROOT="$ROOT"
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
mapfile -t WANTED < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$LIST" | grep -v '^$' | sort -u)
MISSING=()
if command -v dpkg-query >/dev/null; then
  for p in "${WANTED[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || MISSING+=("$p")
  done
fi
if ! command -v dpkg-query >/dev/null; then
  say "not a Debian machine: install Jupyter yourself, e.g."
  say "  pip install notebook nbconvert nbclient jupyter_client ipykernel   (or: conda install -c conda-forge notebook nbconvert)"
  say "  and a chromium for PNG export; then point MIDTRAIN_PYTHON at that python"
elif (( ${#MISSING[@]} == 0 )); then
  say "Debian packages: all ${#WANTED[@]} from kernel-setup/apt-packages.txt installed"
elif (( NO_APT == 0 )) && [[ $(id -u) == 0 ]]; then
  say "installing ${#MISSING[@]} Debian packages: ${MISSING[*]}"
  # A fresh machine has empty package lists; update only then, or when the install cannot find a package.
  if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then apt-get -o DPkg::Lock::Timeout=600 update -q; fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${MISSING[@]}"; then
    apt-get -o DPkg::Lock::Timeout=600 update -q
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${MISSING[@]}"
  fi
else
  say "missing Debian packages: ${MISSING[*]}"
  say "  install them as root:  sudo apt-get install -y --no-install-recommends ${MISSING[*]}"
  say "  or without root:       pip install notebook nbconvert nbclient jupyter_client ipykernel   (or conda -c conda-forge)"
  say "                         and set MIDTRAIN_PYTHON to that python"
fi

# --- Jupyter and the kernel -------------------------------------------------------------------------------
PY=${MIDTRAIN_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import nbconvert, nbclient, jupyter_client' 2>/dev/null; then
  say "no usable Jupyter: $PY cannot import nbconvert, nbclient and jupyter_client (see the install hints above)"; exit 1
fi
if ! "$PY" -m jupyter kernelspec list 2>/dev/null | grep -q "tslab .*$ROOT/kernel-setup/jupyter/kernels/tslab"; then
  say "the tslab kernelspec in kernel-setup/jupyter/kernels/tslab is not visible to Jupyter:"
  "$PY" -m jupyter kernelspec list || true
  exit 1
fi
say "Jupyter: $("$PY" -c 'import nbconvert, jupyter_client; print("nbconvert", nbconvert.__version__, "/ jupyter_client", jupyter_client.__version__)') via $PY"
say "kernel 'tslab' registered for this project: JUPYTER_PATH=$ROOT/kernel-setup/jupyter (kernel cwd: $ROOT)"
if ! "$PY" -c 'import notebook' 2>/dev/null; then say "note: no 'notebook' package, so 'npm run notebook' cannot serve (headless runs still work)"; fi
if [[ ! -x ${MIDTRAIN_CHROMIUM:-/usr/bin/chromium} ]]; then say "note: no chromium at ${MIDTRAIN_CHROMIUM:-/usr/bin/chromium}: figures are saved as HTML only, PNG export fails"; fi
say "done"
