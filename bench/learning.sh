#!/usr/bin/env bash
# Learning benchmark: shipped benchmark specs at their full budgets (4 sessions each), run one
# after another; prints each trial_metrics line. Logs and run folders land in bench/results/.
#   bash bench/learning.sh [SPEC_NAME ...]      (default: ppo_cartpole ppo_acrobot ppo_lunar)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
specs=("${@:-ppo_cartpole ppo_acrobot ppo_lunar}")
for name in ${specs[@]}; do
  file=$(ls slm_lab/spec/benchmark/*/"$name".json)
  start=$(date +%s)
  (cd bench/results && uv run --project ../.. slm-lab run "../../$file" "$name" train >"$name.log" 2>&1)
  echo "$name ($(($(date +%s) - start)) s): $(grep -o 'trial_metrics: .*' "bench/results/$name.log")"
done
