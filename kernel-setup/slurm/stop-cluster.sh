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

stop_pid() {  # stop_pid NAME PIDFILE: SIGTERM, wait up to 10 s, then SIGKILL
  local pid
  [ -f "$2" ] || return 0
  pid="$(cat "$2")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  echo "slurm: $1 ($pid) ignored SIGTERM; killing" >&2
  kill -KILL "$pid" 2>/dev/null || true
}
stop_pid slurmd "$dir/run/slurmd.pid"
stop_pid slurmctld "$dir/run/slurmctld.pid"
stop_pid munged "$dir/run/munged.pid"
exit 0
