#!/bin/bash
# Submit a run of run_fmi.py split over N Slurm tasks, and the job that collects it once every
# task has succeeded (afterok):
#
#   slurm/submit.sh 16 --config configs/fig3_sweep.yaml [run_fmi.py options] [-- sbatch options]
#
# Prints the two job ids. Run it from the repository's folder.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: slurm/submit.sh N [run_fmi.py options] [-- sbatch options]" >&2
  exit 2
fi
shards="$1"
shift
# a count of tasks, checked as text before bash does any arithmetic with it
if ! [[ "$shards" =~ ^[1-9][0-9]{0,5}$ ]]; then
  echo "error: N must be a whole number of tasks from 1 to 999999, got '$shards'; usage: slurm/submit.sh N [run_fmi.py options] [-- sbatch options]" >&2
  exit 2
fi
options=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do options+=("$1"); shift; done
[ $# -gt 0 ] && shift
here="$(cd "$(dirname "$0")" && pwd)"
array=$(sbatch --parsable "$@" --array="0-$((shards - 1))" "$here/sweep.sbatch" "$shards" "${options[@]}")
collect=$(sbatch --parsable "$@" --dependency="afterok:${array%%;*}" "$here/collect.sbatch" "${options[@]}")
echo "shards: job ${array%%;*} (array 0-$((shards - 1))); collect: job ${collect%%;*} (runs when every shard has succeeded)"
