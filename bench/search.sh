#!/usr/bin/env bash
# Search benchmark: PPO LunarLander, lr x gamma x lam (12 trials of 2 sessions, ASHA), then the
# validation train run of the best spec with 4 new seeds. Logs and run folders: bench/results/.
#   bash bench/search.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
cd bench/results
spec=../../slm_lab/spec/benchmark/ppo/ppo_lunar_search.json
start=$(date +%s)
uv run --project ../.. slm-lab search "$spec" ppo_lunar_search >ppo_lunar_search.log 2>&1
echo "search ($(($(date +%s) - start)) s): $(grep -o 'experiment: .*' ppo_lunar_search.log)"
best=$(ls -d data/ppo_lunar_search_*/ | tail -1)ppo_lunar_search_best_spec.json
uv run --project ../.. python -c "
import json, sys
spec = json.load(open(sys.argv[1]))['ppo_lunar_search']
spec['meta']['max_session'] = 4
json.dump({'ppo_lunar_best': spec}, open('ppo_lunar_best.json', 'w'), indent=2)
" "$best"
start=$(date +%s)
uv run --project ../.. slm-lab run ppo_lunar_best.json ppo_lunar_best train >ppo_lunar_best.log 2>&1
echo "validation ($(($(date +%s) - start)) s): $(grep -o 'trial_metrics: .*' ppo_lunar_best.log)"
