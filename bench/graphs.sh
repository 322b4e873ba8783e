#!/usr/bin/env bash
# The graphs of docs/BENCHMARKS.md: `slm-lab plot` over the benchmark run folders (the runs that
# gave each table row), PNGs copied into docs/graphs/. Run folders are named by their start time:
# edit the names below after new benchmark runs. Run folders do not outlive a reset of the work
# machine (one came between work sessions on 2026-12-03 at 15:00 and one at 18:20): the PNGs in
# docs/graphs stay as drawn, and each section below names the folders of one stretch of work
# (`shipped` and `original`: before 15:00; `rerun`: 15:00-18:20; `evening`: since; `dec04`:
# 2026-12-04 morning; `dec04pm`: 2026-12-04 afternoon, after another reset; `dec04eve`: its
# evening; `dec04late`: its late evening; `dec04night`: its night; `dec05`: 2026-12-05;
# EXPLORE=bench/results/explore/data: copies of specs run with `slm-lab run`).
#   bash bench/graphs.sh [SECTION]   (one of the sections above; all by default)
#   RUNS=bench/results/data, ORIGINAL=bench/results/original/data (bench/original.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-bench/results/data}
ORIGINAL=${ORIGINAL:-bench/results/original/data}
OUT=$(mktemp -d)
mkdir -p docs/graphs "$RUNS"  # ORIGINAL is reached through RUNS
o=$(realpath -m --relative-to="$RUNS" "$ORIGINAL")  # the original's runs, as plot names them
x=$(realpath -m --relative-to="$RUNS" "${EXPLORE:-bench/results/explore/data}")  # spec copies' runs

plot() {  # plot TITLE LEGENDS RUN...
  local title=$1 legends=$2
  shift 2
  local folders
  folders=$(printf "$RUNS/%s," "$@")
  SLM_LAB_PNG=1 uv run slm-lab plot -f "${folders%,}" -t "$title" -l "$legends" -o "$OUT"
}

shipped() {
plot "CartPole-v1, value-based" "SARSA,DQN,DDQN+PER" \
  sarsa_cartpole_2026_11_26_065648 dqn_cartpole_2026_11_26_065740 \
  ddqn_per_cartpole_2026_11_26_075941
plot "CartPole-v1, policy gradient" \
  "PPO,PPO RNN,PPO+SIL,REINFORCE,A2C GAE,A2C n-step,A3C,SAC,CrossQ (2 sessions)" \
  ppo_cartpole_2026_11_26_172517 ppo_rnn_cartpole_2026_11_26_090621 \
  ppo_sil_cartpole_2026_11_26_091410 rf_e2_2026_11_26_100024 a2c_g3_2026_11_26_094344 \
  a2c_nstep_cartpole_2026_11_26_093827 a3c_gae_cartpole_2026_11_26_172902 \
  sac_cp_t15lr_2026_11_26_100142 crossq_cartpole_2026_11_26_100420
plot "Acrobot-v1" "PPO,DQN,DDQN+PER,A2C GAE,SAC (stopped at 178k)" \
  ppo_acrobot_2026_11_26_054127 dqn_acrobot_2026_11_26_072047 \
  ddqn_per_acrobot_2026_11_26_073250 a2c_gae_acrobot_2026_11_26_091825 \
  sac_acrobot_2026_11_26_102919
plot "Pendulum-v1" "PPO,A2C GAE,SAC" \
  ppo_pendulum_2026_11_26_092056 a2c_gae_pendulum_2026_11_26_092738 \
  sac_pendulum_2026_11_26_094330
plot "LunarLander-v3" "PPO,DQN,DDQN+PER" \
  ppo_lunar_2026_11_26_055900 dqn_lunar_2026_11_26_082330 ddqn_per_lunar_2026_11_26_074842
plot "LunarLanderContinuous-v3" "PPO" ppo_lunar_continuous_2026_11_26_102332
plot "LunarLander-v3, PPO after search" "ppo_lunar (shipped),best spec of the search" \
  ppo_lunar_2026_11_26_055900 ppo_lunar_best_2026_11_26_202158
plot "HalfCheetah-v5" "PPO (1 session)" ppo_mujoco_halfcheetah_2026_11_26_114715
plot "Pong (CPU, first 350k frames)" "PPO (1 session)" ppo_atari_pong_2026_11_26_121926
}

original() {  # the original's spec files run here (bench/original.sh) beside our shipped specs
  plot "CartPole-v1, the original's specs" "REINFORCE,SARSA,DQN,DDQN+PER,A2C,PPO" \
    "$o/reinforce_cartpole_arc_2026_12_02_132722" "$o/sarsa_boltzmann_cartpole_arc_2026_12_02_132756" \
    "$o/dqn_boltzmann_cartpole_arc_2026_12_02_145413" \
    "$o/ddqn_per_boltzmann_cartpole_arc_2026_12_02_182038" \
    "$o/a2c_gae_cartpole_arc_2026_12_02_132824" "$o/ppo_cartpole_arc_2026_12_02_132553"
  plot "CartPole-v1, DDQN+PER, the original's spec and ours" \
    "original's spec (no PER weights),original's spec (PER weights),ddqn_per_cartpole (ours)" \
    "$o/ddqn_per_boltzmann_cartpole_arc_2026_12_02_182038" \
    "$o/../is_weights/ddqn_per_boltzmann_cartpole_arc_2026_12_02_163945" \
    ddqn_per_cartpole_2026_12_02_165014
  plot "CartPole-v1, SAC and CrossQ, the original's specs and ours" \
    "SAC (original's spec; 2 sessions),CrossQ (original's spec),CrossQ (ours)" \
    "$o/sac_cartpole_arc_2026_12_03_004556" "$o/crossq_cartpole_2026_12_03_004307" \
    crossq_cartpole_2026_12_02_183800
  plot "Acrobot-v1, the original's specs and ours" \
    "DQN,DDQN+PER,A2C,PPO,SAC (ours before; 64x64),SAC (original's spec = ours; 2 sessions),CrossQ (original's spec = ours; 2 sessions)" \
    "$o/dqn_boltzmann_acrobot_arc_2026_12_02_143332" "$o/ddqn_per_acrobot_arc_2026_12_02_173202" \
    "$o/a2c_gae_acrobot_arc_2026_12_02_133338" "$o/ppo_acrobot_arc_2026_12_02_132929" \
    sac_acrobot_2026_12_02_195728 "$o/sac_acrobot_arc_2026_12_03_115709" \
    "$o/crossq_acrobot_2026_12_03_013923"
  plot "LunarLander-v3, DQN family, the original's specs and ours" \
    "DQN (original's spec),DQN (ours),DDQN+PER (original's spec),DDQN+PER (ours)" \
    "$o/dqn_concat_lunar_arc_2026_12_02_170253" dqn_lunar_2026_12_02_173249 \
    "$o/ddqn_per_concat_lunar_arc_2026_12_02_181258" ddqn_per_lunar_2026_12_02_175036
  plot "Pendulum-v1, the original's specs and ours" \
    "A2C (original's spec),PPO (original's spec),PPO (ours),CrossQ (ours),CrossQ (original's spec; 2 sessions),SAC (original's spec; 2 sessions)" \
    "$o/a2c_gae_pendulum_arc_2026_12_02_134158" "$o/ppo_pendulum_arc_2026_12_02_133606" \
    ppo_pendulum_2026_12_02_135640 crossq_pendulum_2026_12_02_195727 \
    "$o/crossq_pendulum_2026_12_03_103503" "$o/sac_pendulum_arc_2026_12_03_074743"
  plot "LunarLander-v3, the original's specs and ours" \
    "A2C (original's spec),A2C (ours),PPO (original's spec),PPO (ours),SAC (original's spec = ours; 2 sessions),CrossQ (original's spec = ours; 2 sessions)" \
    "$o/a2c_gae_lunar_arc_2026_12_02_134833" a2c_gae_lunar_2026_12_02_142544 \
    "$o/ppo_lunar_arc_2026_12_02_134425" ppo_lunar_2026_12_02_141823 \
    "$o/sac_lunar_arc_2026_12_03_085902" "$o/crossq_lunar_2026_12_03_085904"
  plot "LunarLanderContinuous-v3, the original's specs and ours" \
    "A2C (original's spec),A2C (ours),PPO (original's spec),PPO (ours),CrossQ (original's spec = ours; 2 sessions),SAC (original's spec = ours; 2 sessions)" \
    "$o/a2c_gae_lunar_continuous_arc_2026_12_02_135406" a2c_gae_lunar_continuous_2026_12_02_143003 \
    "$o/ppo_lunar_continuous_arc_2026_12_02_135056" ppo_lunar_continuous_2026_12_02_141216 \
    "$o/crossq_lunar_continuous_2026_12_03_062805" "$o/sac_lunar_continuous_arc_2026_12_03_071140"
  plot "HalfCheetah-v5, PPO one env" "ppo_mujoco_1env (2 sessions)" \
    ppo_mujoco_1env_halfcheetah_2026_12_02_140512
  plot "Hopper-v5, PPO one env" "ppo_mujoco_1env (2 sessions)" \
    ppo_mujoco_1env_hopper_2026_12_02_142309
  plot "HalfCheetah-v5, SAC 300k frames" "sac_mujoco (1 session)" \
    sac_mujoco_halfcheetah_2026_12_02_210657
  plot "Hopper-v5, SAC 300k frames" "sac_mujoco (1 session)" \
    sac_mujoco_hopper_2026_12_03_062805
}

rerun() {  # discrete CrossQ rerun after its actor took the original's rule (2026-12-03)
  plot "LunarLander-v3, CrossQ, the original's actor rule" \
    "CrossQ (original's spec = ours; 2 sessions)" "$o/crossq_lunar_2026_12_03_152306"
}

evening() {  # discrete CrossQ on the original's actor rule, 2026-12-03 evening
  plot "CartPole-v1, CrossQ, the original's actor rule" \
    "CrossQ (original's spec)" "$o/crossq_cartpole_2026_12_03_182413"
  plot "Acrobot-v1, CrossQ, the original's actor rule" \
    "CrossQ (original's spec = ours; 2 sessions)" "$o/crossq_acrobot_2026_12_03_193143"
}

dec04() {  # A2C and DQN LunarLander's new batches; discrete SAC and CrossQ on the new actor rule
  plot "LunarLander-v3, A2C, 16-step batches and RMSprop" "a2c_gae_lunar" \
    a2c_gae_lunar_2026_12_04_111850
  plot "CartPole-v1, SAC and CrossQ, the original's actor rule" "sac_cartpole,crossq_cartpole" \
    sac_cartpole_2026_12_04_112231 crossq_cartpole_2026_12_04_105337
  plot "LunarLander-v3, DQN, batches of 64" "dqn_lunar" dqn_lunar_2026_12_04_120031
}

dec04pm() {  # discrete SAC LunarLander (the original's spec) on the original's actor rule
  plot "LunarLander-v3, SAC, the original's actor rule" "sac_lunar_arc (2 sessions)" \
    "$o/sac_lunar_arc_2026_12_04_134525"
}

dec04eve() {  # SAC Acrobot (the original's spec) on the original's actor rule; crossq_lunar's new steps
  plot "Acrobot-v1, SAC, the original's actor rule" "sac_acrobot_arc (2 sessions)" \
    "$o/sac_acrobot_arc_2026_12_04_154726"
  plot "LunarLander-v3, CrossQ, a step per 4 frames" "crossq_lunar (ours)" \
    "$x/crossq_lunar_it2b_2026_12_04_154725"
}

dec04late() {  # ddqn_per_lunar at 5e-4; one-env PPO on 1,000-frame checkpoints; crossq_pendulum
  plot "LunarLander-v3, DDQN+PER, AdamW 5e-4" "ddqn_per_lunar (ours)" \
    "$x/ddqn_per_lunar_lr5e4_2026_12_04_182507"
  plot "HalfCheetah-v5, PPO one env, 4 sessions" "ppo_mujoco_1env" \
    ppo_mujoco_1env_halfcheetah_2026_12_04_193119
  plot "Hopper-v5, PPO one env, 4 sessions" "ppo_mujoco_1env" \
    ppo_mujoco_1env_hopper_2026_12_04_184516
  plot "Pendulum-v1, CrossQ tries" \
    "256x256 actor (ours),64x64 actor a step per 2 frames,original's spec a step per 4 frames betas 0.5,256x256 actor target entropy -2" \
    "$x/crossq_pendulum_a256_2026_12_04_182508" "$x/crossq_pendulum_it2_2026_12_04_130916" \
    "$x/crossq_pendulum_it1b_2026_12_04_171648" "$x/crossq_pendulum_a256e2_2026_12_04_194027"
}

dec04night() {  # sac_pendulum on the original's spec
  plot "Pendulum-v1, SAC, the original's spec" "sac_pendulum (the original's spec = ours)" \
    sac_pendulum_2026_12_04_210848
}

dec05() {  # crossq_pendulum and crossq_cartpole with an actor step at every critic step
  plot "CartPole-v1, CrossQ, an actor step per critic step" \
    "policy_delay 1 (ours),policy_delay 1 (try on a copy)" \
    crossq_cartpole_2026_12_05_014352 "$x/crossq_cartpole_pd1_2026_12_05_012110"
  plot "Pendulum-v1, CrossQ, an actor step per critic step" \
    "policy_delay 1 (ours),policy_delay 1 (try on a copy),policy_delay 3 (before)" \
    crossq_pendulum_2026_12_05_004131 "$x/crossq_pendulum_pd1_2026_12_05_000459" \
    "$x/crossq_pendulum_a256_2026_12_04_182508"
}

sections=(shipped original rerun evening dec04 dec04pm dec04eve dec04late dec04night dec05)
if [[ " ${sections[*]} " == *" ${1:-all} "* ]]; then
  "$1"
else  # all of them
  for section in "${sections[@]}"; do "$section"; done
fi

cp "$OUT"/*.png docs/graphs/
rm -rf "$OUT"
ls -la docs/graphs
