#!/usr/bin/env bash
# Stop the one-node cluster started by start-cluster.sh DIR: cancel its jobs, then end the
# daemons by the PIDs in DIR/run (never by name: other Slurm or munge daemons may be running).
set -uo pipefail
dir="${1:?usage: stop-cluster.sh DIR}"
export PATH="$PATH:/usr/sbin"
export SLURM_CONF="$dir/etc/slurm.conf"

# Cancel every job first so no slurmstepd (and no job's process) outlives the daemons.
if [ -f "$dir/run/slurmctld.pid" ] && kill -0 "$(cat "$dir/run/slurmctld.pid")" 2>/dev/null; then
  scancel --full --quiet -u "$(id -un)" 2>/dev/null || true
  for _ in $(seq 1 40); do
    [ -z "$(squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null)" ] && break
    sleep 0.25
  done
fi

# SIGTERM to all three at once (each takes ~2 s to exit), wait up to 10 s for each, then SIGKILL.
pids=()
for name in slurmd slurmctld munged; do
  f="$dir/run/$name.pid"
  [ -f "$f" ] || continue
  pid="$(cat "$f")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || continue
  kill -TERM "$pid" 2>/dev/null && pids+=("$name:$pid")
done
for entry in "${pids[@]}"; do
  name="${entry%%:*}" pid="${entry#*:}"
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || continue 2; sleep 0.25; done
  echo "slurm: $name ($pid) ignored SIGTERM; killing" >&2
  kill -KILL "$pid" 2>/dev/null || true
done
exit 0
