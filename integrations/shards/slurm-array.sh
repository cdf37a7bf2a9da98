#!/usr/bin/env bash
# Grade one shard of a class per Slurm array task.
#   sbatch --array=1-N slurm-array.sh SUBMISSIONS_DIR OUT_DIR
# Each task K writes OUT_DIR/shard-K; merge them afterwards (printed below).
#SBATCH --job-name=nn-grader
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=01:00:00
set -euo pipefail

submissions="${1:?usage: sbatch --array=1-N slurm-array.sh SUBMISSIONS_DIR OUT_DIR}"
out="${2:?usage: sbatch --array=1-N slurm-array.sh SUBMISSIONS_DIR OUT_DIR}"
index="${SLURM_ARRAY_TASK_ID:?run this with sbatch --array=1-N}"
count="${SLURM_ARRAY_TASK_COUNT:?run this with sbatch --array=1-N}"
grader="${GRADER:-grader}"

"$grader" batch "$submissions" --shard "$index/$count" -o "$out/shard-$index" -j "${SLURM_CPUS_PER_TASK:-2}" --require-sandbox
if [ "$index" = "$count" ]; then
    echo "when every task has finished: $grader merge $out/merged $out/shard-*"
fi
