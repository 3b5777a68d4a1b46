#!/bin/bash
# tools/slurm/*.sbatch: each parses (bash -n), has #SBATCH directives and starts karman through
# srun; the four documented scripts exist; the resubmission script asks for a signal before the
# limit and resumes. (Slurm itself is not needed.)
set -u
dir=${1:?usage: check_sbatch.sh TOOLS_SLURM_DIR}
status=0
fail() { echo "FAIL: $*" >&2; status=1; }
for name in one_node several_nodes array_sets resubmit; do
  [[ -f $dir/$name.sbatch ]] || fail "$dir/$name.sbatch is missing"
done
shopt -s nullglob
for f in "$dir"/*.sbatch; do
  bash -n "$f" || fail "$f: bash -n"
  grep -q '^#SBATCH ' "$f" || fail "$f: no #SBATCH directive"
  grep -q 'srun .*"\$karman" run' "$f" || fail "$f: no 'srun ... karman run'"
done
grep -q '^#SBATCH --signal=\(B:\)\?USR1@' "$dir/resubmit.sbatch" || fail "resubmit: no --signal=USR1@"
grep -q -- '--resume' "$dir/resubmit.sbatch" || fail "resubmit: no --resume"
grep -q 'interrupted' "$dir/resubmit.sbatch" || fail "resubmit: does not check for 'interrupted'"
grep -q 'SLURM_ARRAY_TASK_ID' "$dir/array_sets.sbatch" || fail "array_sets: no SLURM_ARRAY_TASK_ID"
exit $status
