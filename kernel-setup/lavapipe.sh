#!/usr/bin/env bash
# Fetch Mesa 25's lavapipe (a CPU Vulkan driver) from bookworm-backports into the cache, without
# touching system packages, so the webgpu backend (Dawn over Vulkan) can be tested on a CPU machine.
#
# Why: Dawn rejects Debian 12's Mesa 22 lavapipe; Mesa 25 (bookworm-backports) is accepted.
# How: a private apt state (lists, cache) with a source derived from the configured Debian one
#      (Suites: bookworm-backports), `apt-get download` + `dpkg -x` into $OUT/root, and an ICD
#      manifest whose library_path is absolute. Nothing is installed; no root needed beyond what
#      `apt-get update` on private lists needs (it needs none).
#
# Output (default $MIDTRAIN_CACHE/lavapipe, else <repo>/.cache/lavapipe):
#   root/               the unpacked .debs
#   lvp_icd.json        ICD manifest for VK_DRIVER_FILES
#   env.sh              `source` it to point a shell at this driver (VK_DRIVER_FILES, LD_LIBRARY_PATH)
#   READY               written last; src/backend/webgpu.ts looks for it
#
# Usage: kernel-setup/lavapipe.sh [--force]      (idempotent: exits at once when READY exists)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${MIDTRAIN_LAVAPIPE_DIR:-${MIDTRAIN_CACHE:-$ROOT/.cache}/lavapipe}
SRC=/etc/apt/sources.list.d/debian.sources
ARCH=$(dpkg --print-architecture 2>/dev/null || echo unknown)

if [[ "${1:-}" != --force && -f "$OUT/READY" ]]; then echo "lavapipe: ready in $OUT"; exit 0; fi
command -v apt-get >/dev/null || { echo "lavapipe: skipped (no apt-get: not a Debian machine)"; exit 0; }
[[ -f $SRC ]] || { echo "lavapipe: skipped ($SRC missing; cannot derive a bookworm-backports source)"; exit 0; }
grep -q '^Suites:.*\bbookworm\b' "$SRC" || { echo "lavapipe: skipped ($SRC has no bookworm suite)"; exit 0; }

rm -rf "$OUT.tmp"
APT="$OUT.tmp/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/sources.d" "$OUT.tmp/debs" "$OUT.tmp/root"
# The stanza that carries `bookworm`, with its suite replaced by bookworm-backports (same mirror, same key).
awk 'BEGIN { RS = ""; ORS = "\n\n" } /Suites:[^\n]*bookworm( |\n|$)/ { sub(/Suites:[^\n]*/, "Suites: bookworm-backports"); print }' \
  "$SRC" >"$APT/sources.d/backports.sources"
O=(-o "Dir::Etc::SourceList=$SRC" -o "Dir::Etc::SourceParts=$APT/sources.d" -o "Dir::State::Lists=$APT/lists"
   -o "Dir::Cache=$APT/cache" -o Debug::NoLocking=1 -o APT::Get::List-Cleanup=0)
echo "lavapipe: apt-get update (private lists in $APT)"
apt-get "${O[@]}" update -qq

# mesa-vulkan-drivers from backports, plus each direct dependency the system lacks or has too old.
# `apt-get download` fetches exactly what is named, so the list is worked out here.
MESA_VER=$(apt-cache "${O[@]}" show mesa-vulkan-drivers/bookworm-backports | awk '/^Version:/ { print $2; exit }')
[[ -n $MESA_VER ]] || { echo "lavapipe: bookworm-backports has no mesa-vulkan-drivers"; exit 1; }
WANT=("mesa-vulkan-drivers=$MESA_VER")
DEPS=$(apt-cache "${O[@]}" show "mesa-vulkan-drivers=$MESA_VER" | awk -F': ' '/^Depends:/ { print $2; exit }')
IFS=',' read -ra ITEMS <<<"$DEPS"
for item in "${ITEMS[@]}"; do
  alt=${item%%|*}                                  # first alternative is enough here
  pkg=$(awk '{ print $1 }' <<<"$alt"); pkg=${pkg%%:*}
  cons=$(sed -n 's/.*(\(.*\)).*/\1/p' <<<"$alt")  # e.g. ">= 2.4.121"
  have=$(dpkg-query -W -f='${Status} ${Version}\n' "$pkg" 2>/dev/null | awk '/install ok installed/ { print $4 }' || true)
  ok=0
  if [[ -n $have ]]; then
    if [[ -z $cons ]]; then ok=1
    else op=$(awk '{ print $1 }' <<<"$cons"); v=$(awk '{ print $2 }' <<<"$cons")
      case $op in '>=') dop=ge ;; '<=') dop=le ;; '>>') dop=gt ;; '<<') dop=lt ;; *) dop=eq ;; esac
      dpkg --compare-versions "$have" "$dop" "$v" && ok=1
    fi
  fi
  if [[ $ok == 0 ]]; then
    # Prefer the backports build (it is what mesa was built against), else the stable one.
    bp=$(apt-cache "${O[@]}" show "$pkg/bookworm-backports" 2>/dev/null | awk '/^Version:/ { print $2; exit }' || true)
    if [[ -n $bp ]]; then WANT+=("$pkg=$bp"); else WANT+=("$pkg"); fi
  fi
done
# libdrm2's libraries read their ids from libdrm-common; fetch it with libdrm2.
for w in "${WANT[@]}"; do
  if [[ $w == libdrm2=* ]]; then WANT+=("libdrm-common=${w#libdrm2=}"); fi
done
echo "lavapipe: downloading ${WANT[*]}"
(cd "$OUT.tmp/debs" && apt-get "${O[@]}" -o APT::Sandbox::User=root download -qq "${WANT[@]}")
for f in "$OUT.tmp/debs"/*.deb; do dpkg -x "$f" "$OUT.tmp/root"; done
# Keep lavapipe only: the hardware drivers and layers in the same package are unused here.
find "$OUT.tmp/root" \( -name 'libvulkan_*.so' ! -name 'libvulkan_lvp.so' -o -name 'libVkLayer_*.so' \) -delete

LIBDIR=$(dirname "$(find "$OUT.tmp/root" -name 'libvulkan_lvp.so' | head -n1)")
[[ -f $LIBDIR/libvulkan_lvp.so ]] || { echo "lavapipe: libvulkan_lvp.so not found in the unpacked packages"; exit 1; }
REL=${LIBDIR#"$OUT.tmp/"}
# Every library lavapipe needs must resolve with the private folder first on the path.
MISSING=$(LD_LIBRARY_PATH="$LIBDIR" ldd "$LIBDIR/libvulkan_lvp.so" | awk '/not found/ { print $1 }' | tr '\n' ' ')
[[ -z $MISSING ]] || { echo "lavapipe: libvulkan_lvp.so needs libraries this machine lacks: $MISSING"; exit 1; }

rm -rf "$OUT.tmp/apt" "$OUT.tmp/debs"
rm -rf "$OUT"; mv "$OUT.tmp" "$OUT"
LIBDIR="$OUT/$REL"
cat >"$OUT/lvp_icd.json" <<EOF
{ "file_format_version": "1.0.1",
  "ICD": { "library_path": "$LIBDIR/libvulkan_lvp.so", "api_version": "1.4.0" } }
EOF
cat >"$OUT/env.sh" <<EOF
# source me: points the Vulkan loader at the private lavapipe ($MESA_VER)
export VK_DRIVER_FILES="$OUT/lvp_icd.json"
export LD_LIBRARY_PATH="$LIBDIR\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
EOF
printf '{"mesa":"%s","libDir":"%s","icd":"%s","arch":"%s"}\n' "$MESA_VER" "$LIBDIR" "$OUT/lvp_icd.json" "$ARCH" >"$OUT/READY"
echo "lavapipe: ready in $OUT (Mesa $MESA_VER)"
