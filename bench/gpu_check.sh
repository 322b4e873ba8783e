#!/usr/bin/env bash
# GPU check: PPO CartPole-v1 (200k frames), DQN CartPole-v1 (50k frames) and SAC Pendulum-v1 (10k
# frames, 256x256 nets) frames/s with their nets on CUDA, and on this machine's CPU for comparison
# (about four minutes in all). Results go to $OUT (or bench/results) with the card's name.
#   bash bench/gpu_check.sh [all|small|pong|compile]   (all: small then pong)
# pong: PPO Pong (the shipped ppo_atari spec, 16 envs, nets on CUDA) for PONG_SECONDS (default
# 400) of training; its run folder (the learning curve) lands in $OUT/data.
# compile: SAC HalfCheetah-v5 (one env, a gradient step per frame, SAC_FRAMES, default 30k) and
# PPO Pong (PONG_FRAMES, default 200k) on CUDA with agent.net.compile off, then on (about seven
# minutes); beside the fastest published PyTorch figures on one H100 (about 725 steps/s SAC
# HalfCheetah, 6,800 PPO Atari).
#
# A machine without the lab's dependencies but with torch (such as the lent GPU machines) takes
# wheels carried in .whl/: see docs/BENCHMARKS.md for the list and the download command.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
export SLM_LAB_PNG=${SLM_LAB_PNG:-0}       # no browser needed for the runs' graphs
export MUJOCO_GL=${MUJOCO_GL:-disable}     # training renders nothing (lent machines have no EGL)
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
fi
py=${PYTHON:-python3}
out=${OUT:-bench/results}
what=${1:-all}
mkdir -p "$out"

small() {
  for device in cuda cpu; do
    fps=$(timeout 300 "$py" bench/speed_ppo.py --frames 200000 --one ours default --device "$device" | tail -n 1)
    echo "ppo_cartpole ($device nets, 4 envs, 200k frames): $fps frames/s"
    fps=$(timeout 300 "$py" bench/speed_dqn.py --frames 50000 --one ours default --device "$device" | tail -n 1)
    echo "dqn_cartpole ($device nets, 1 env, 50k frames): $fps frames/s"
    fps=$(timeout 300 "$py" bench/speed_sac.py --frames 10000 --one ours default --device "$device" | tail -n 1)
    echo "sac_pendulum ($device nets, 1 env, 10k frames): $fps frames/s"
  done
}

pong() {
  # stopped by the time limit on purpose: the rows written so far are the curve and the speed
  timeout "${PONG_SECONDS:-400}" "$py" bench/speed_ppo_pong.py --frames 10000000 --device cuda \
    --data "$out/data" || true
  cp "$out"/data/*/info/*_session_df_train.csv "$out/" || true  # the curve, where it comes back
  "$py" - "$out/data" <<'PY'
import sys
from pathlib import Path

import pandas as pd

(csv,) = Path(sys.argv[1]).glob("*/info/*_session_df_train.csv")
df = pd.read_csv(csv)
last = df.iloc[-1]
print(f"ppo_pong (cuda nets, 16 envs): {last['frame'] / last['wall_t']:,.0f} frames/s over "
      f"{int(last['frame']):,} frames; last return {last['total_reward']}")
PY
}

compiled() {
  for flag in "" --compile; do
    timeout 300 "$py" bench/speed_sac_halfcheetah.py --frames "${SAC_FRAMES:-30000}" \
      --device cuda $flag | grep -v '^[0-9.]*$' || echo "sac_halfcheetah $flag: failed or timed out"
    timeout 300 "$py" bench/speed_ppo_pong.py --frames "${PONG_FRAMES:-200000}" --device cuda \
      $flag | grep ppo_pong || echo "ppo_pong $flag: failed or timed out"
  done
}

{
  date -u +"%Y-%m-%d %H:%M UTC"
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || echo "no nvidia-smi"
  "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  echo "cpu cores: $(nproc)"
  case "$what" in
    small) small ;;
    pong) pong ;;
    compile) compiled ;;
    *) small; pong ;;
  esac
} 2>&1 | tee "$out/gpu_check_$what.txt"
