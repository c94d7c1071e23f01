#!/usr/bin/env bash
# Installs the Debian packages listed in kernel-setup/apt-packages.txt that are missing. Used by setup.sh
# (npm run setup / quickstart) and by .ci/run, before node_modules exists, so it needs only bash and dpkg.
#
# Root on Debian: installs them (apt-get update only when the package lists are empty or an install fails).
# Otherwise: prints the missing packages with the sudo, pip and conda alternatives, and exits 0 — the caller
# decides whether what is missing is fatal (setup.sh checks Jupyter itself).
#
# Usage: kernel-setup/apt-install.sh [--check]     --check: report only, never call apt-get
set -euo pipefail

LIST="$(cd "$(dirname "$0")" && pwd)/apt-packages.txt"
say() { echo "[setup] $*"; }

if ! command -v dpkg-query >/dev/null; then
  say "not a Debian machine: install Jupyter yourself, e.g."
  say "  pip install notebook nbconvert nbclient jupyter_client ipykernel   (or: conda install -c conda-forge notebook nbconvert)"
  say "  plus a Chromium for PNG export (MIDTRAIN_CHROMIUM=<path>); then set MIDTRAIN_PYTHON to that python"
  exit 0
fi

mapfile -t WANTED < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$LIST" | grep -v '^$' | sort -u)
MISSING=()
for p in "${WANTED[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || MISSING+=("$p")
done

if (( ${#MISSING[@]} == 0 )); then
  say "Debian packages: all ${#WANTED[@]} from kernel-setup/apt-packages.txt installed"
  exit 0
fi

if [[ "${1:-}" != --check && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  say "installing ${#MISSING[@]} Debian packages: ${MISSING[*]}"
  apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
  # A fresh machine (or container) has empty package lists; update then, or when an install cannot find a package.
  if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then apt update -q; fi
  if ! apt install -y -q --no-install-recommends "${MISSING[@]}"; then
    apt update -q
    apt install -y -q --no-install-recommends "${MISSING[@]}"
  fi
  say "Debian packages installed"
else
  say "missing Debian packages: ${MISSING[*]}"
  say "  as root:        sudo apt-get install -y --no-install-recommends ${MISSING[*]}"
  say "  without root:   pip install notebook nbconvert nbclient jupyter_client ipykernel   (or conda -c conda-forge)"
  say "                  and set MIDTRAIN_PYTHON to that python (PNG export also needs a Chromium: MIDTRAIN_CHROMIUM)"
fi
