#!/usr/bin/env bash
# Start a one-node Slurm cluster (munged + slurmctld + slurmd) whose config, state, logs and
# sockets all live under one folder, so it never touches the machine's own /etc/slurm or munge.
#
#   kernel-setup/slurm/start-cluster.sh DIR [CTLD_PORT SLURMD_PORT]
#   export SLURM_CONF=DIR/etc/slurm.conf      # then sbatch / squeue / scontrol talk to it
#   kernel-setup/slurm/stop-cluster.sh DIR
#
# Exit status: 0 = node idle and accepting jobs; 3 = cannot run here (a prerequisite is missing,
# reason on stderr: callers skip); 1 = a daemon failed to come up (log tails on stderr).
# Packages: slurmctld slurmd slurm-client slurm-wlm-basic-plugins munge (kernel-setup/apt-packages.txt).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:?usage: start-cluster.sh DIR [CTLD_PORT SLURMD_PORT]}"
ctld_port="${2:-6817}"
slurmd_port="${3:-6818}"

skip() { echo "slurm: cannot start a cluster here: $*" >&2; exit 3; }
for bin in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || skip "'$bin' not found (apt-get install slurmctld slurmd slurm-client slurm-wlm-basic-plugins munge)"
done
export PATH="$PATH:/usr/sbin"

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
mkdir -p "$dir"/{etc,state,spool,run,log,munge}
# munged (another user when we are root) must be able to reach its folder.
chmod 755 "$dir"

# munged refuses to run as root: as root it runs as the package's `munge` user; otherwise as
# ourselves, and then the Slurm daemons run as ourselves too (they can only start our own jobs).
if [ "$(id -u)" = 0 ]; then
  id munge >/dev/null 2>&1 || skip "user 'munge' missing (the munge package creates it)"
  munge_user=munge slurm_user=root
  as_munge() { runuser -u munge -- "$@"; }
else
  munge_user="$(id -un)" slurm_user="$(id -un)"
  as_munge() { "$@"; }
fi

# munge: a fresh key and socket in $dir/munge (munged checks the folder belongs to its user).
chown "$munge_user" "$dir/munge"; chmod 700 "$dir/munge"
if [ ! -s "$dir/munge/munge.key" ]; then
  as_munge mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null
fi
chmod 600 "$dir/munge/munge.key"
# munged's socket folder must be reachable by clients (0755) but writable only by munged.
chmod 755 "$dir/munge"
as_munge munged --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
  --seed-file="$dir/munge/munged.seed" \
  || { tail -n 20 "$dir/munge/munged.log" >&2 2>/dev/null; echo "slurm: munged failed to start" >&2; exit 1; }
cp "$dir/munge/munged.pid" "$dir/run/munged.pid"

# slurm.conf: the template, with this machine's node line from `slurmd -C`.
node_line="$(slurmd -C | head -n 1)"
node_name="$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$node_line")"
[ -n "$node_name" ] || { echo "slurm: cannot parse 'slurmd -C': $node_line" >&2; exit 1; }
sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$node_name|g" -e "s|@NODE_NAME@|$node_name|g" \
    -e "s|@NODE_LINE@|$node_line|g" -e "s|@CTLD_PORT@|$ctld_port|g" -e "s|@SLURMD_PORT@|$slurmd_port|g" \
    -e "s|@SLURM_USER@|$slurm_user|g" -e "s|@SLURMD_USER@|$slurm_user|g" \
    "$here/slurm.conf.template" > "$dir/etc/slurm.conf"
: > "$dir/etc/plugstack.conf"
export SLURM_CONF="$dir/etc/slurm.conf"
echo "export SLURM_CONF=$SLURM_CONF" > "$dir/env.sh"

fail() {
  echo "slurm: $*" >&2
  for f in "$dir"/log/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done
  exit 1
}
# -c: a clean start (no state from an earlier cluster in this folder).
slurmctld -c -f "$SLURM_CONF" || fail "slurmctld failed to start"
slurmd -f "$SLURM_CONF" -N "$node_name" || fail "slurmd failed to start"

# Wait (up to 30 s) until the node is idle: only then does sbatch get a node at once.
for _ in $(seq 1 60); do
  state="$(sinfo -h -n "$node_name" -o '%T' 2>/dev/null || true)"
  [ "$state" = idle ] && { echo "slurm: node $node_name idle (SLURM_CONF=$SLURM_CONF)"; exit 0; }
  sleep 0.5
done
fail "node $node_name not idle after 30 s (state: '${state:-none}')"
