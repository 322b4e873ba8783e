#!/usr/bin/env bash
# The original lab's own spec files (test/fixtures/original-specs), run unchanged at their full
# budgets, one after another; prints each trial_metrics line. Logs and run folders land in
# bench/results/original/. Summarise with `uv run python bench/original_table.py`.
#   bash bench/original.sh FILE:SPEC_NAME ...
#   e.g. bash bench/original.sh benchmark_arc/ppo/ppo_classic_arc.yaml:ppo_cartpole_arc
# Set SESSIONS=2 to run 2 sessions instead of the spec's max_session.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=bench/results/original
mkdir -p "$out"
for cell in "$@"; do
  file=$PWD/test/fixtures/original-specs/${cell%%:*}
  name=${cell##*:}
  if [[ -n "${SESSIONS:-}" ]]; then
    file=$(uv run python bench/spec_copy.py "$file" "$name" "$SESSIONS" "$out")
  fi
  start=$(date +%s)
  (cd "$out" && uv run --project "$root" slm-lab run "$file" "$name" train >"$name.log" 2>&1) || echo "$name: exit $?"
  echo "$name ($(($(date +%s) - start)) s): $(grep -o 'trial_metrics: .*' "$out/$name.log" || true)"
done
