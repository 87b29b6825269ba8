#!/usr/bin/env bash
# The device kit: every GPU figure issue 20 asks for, in one command, within ~8 minutes.
#
#   On a GPU machine with no npm and no internet (after `bench/device/pack.sh` here, with .device-pack copied along):
#     bench/device/run.sh
#   Here, on the CPU through SwiftShader, with tiny shapes (what CI runs, so the kit cannot rot):
#     bench/device/run.sh --local --small
#
# Stages, each under its own timeout inside the budget (KIT_BUDGET_S, default 480 s):
#   probe     the WebGPU adapter, and the matMul peak (GFLOP/s) at several sizes
#   models    checkpoints of SmolLM2-135M, Qwen2.5-0.5B, Qwen2.5-1.5B and Llama-2-7B shapes (--small: one tiny
#             Llama); make_weights.py fills the big ones with random weights through transformers (no download)
#   peft      one adapter of each type our trainer writes, our logits and NLL; peft_check.py loads each with
#             PeftModel.from_pretrained and compares
#   train     bench/train.ts's measurement on each model (the 7B shape with --base-weights int8)
#   anchor    torch_anchor.py: PyTorch + PEFT on the same models and shapes, fp32 and bf16
# Output: $OUT/figures.json (every figure, the goals worked out) and $OUT/log. OUT defaults to ./kit-out.
# Python stages run with $PYTHON (default python3) and are skipped with one loud line without torch/transformers/peft.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
local_run=0
small=0
for a in "$@"; do
  case "$a" in
    --local) local_run=1 ;;
    --small) small=1 ;;
    *) echo "usage: bench/device/run.sh [--local] [--small]" >&2; exit 2 ;;
  esac
done
OUT="${OUT:-$root/kit-out}"
mkdir -p "$OUT"
: >"$OUT/log"
work="${KIT_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/alpaca-forge-kit.XXXXXX")}"
mkdir -p "$work"
budget="${KIT_BUDGET_S:-480}"
PYTHON="${PYTHON:-python3}"
started=$(date +%s)

# A stage: name, its own cap in seconds, the command. It gets the smaller of its cap and what the budget has left;
# its exit status and time go to stages.jsonl (figures.json's "stages").
stage() {
  local name=$1 cap=$2
  shift 2
  local left=$((budget - ($(date +%s) - started)))
  local limit=$((cap < left ? cap : left))
  if [ "$limit" -lt 5 ]; then
    echo "!!! stage $name not run: the kit's ${budget} s budget is spent !!!"
    echo "{\"stage\":\"$name\",\"rc\":124,\"seconds\":0}" >>"$work/stages.jsonl"
    return
  fi
  echo "=== $name (at most ${limit} s)"
  local t0 rc
  t0=$(date +%s)
  timeout -k 10 "$limit" "$@"
  rc=$?
  echo "{\"stage\":\"$name\",\"rc\":$rc,\"seconds\":$(($(date +%s) - t0))}" >>"$work/stages.jsonl"
  [ "$rc" = 0 ] || echo "!!! stage $name failed (exit $rc$([ "$rc" = 124 ] && echo ': timed out')) !!!"
}

setup_device() {
  pack="$root/.device-pack"
  [ -f "$pack/kit.mjs" ] || { echo "run.sh: $pack/kit.mjs is missing: run bench/device/pack.sh first and copy .device-pack along"; exit 1; }
  # Unpacked outside the tree, which may have been copied read-only.
  local dir=/tmp/alpaca-forge-kit-pack
  rm -rf "$dir" && mkdir -p "$dir/bin" && cp -r "$pack/kit.mjs" "$pack/node_modules" "$dir/"
  unxz_to() { if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else "$PYTHON" -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi; }
  unxz_to "$pack/node.xz" "$dir/bin/node" && chmod +x "$dir/bin/node"
  unxz_to "$pack/dawn.node.xz" "$dir/node_modules/webgpu/dist/linux-x64/dawn.node"
  NODE="$dir/bin/node"
  KIT="$dir/kit.mjs"
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
    if ls "$pack"/debs/*.deb >/dev/null 2>&1; then
      for f in "$pack"/debs/*.deb; do dpkg -x "$f" /; done
      ldconfig
    elif [ -f "$pack/lib/libvulkan.so.1" ]; then
      export LD_LIBRARY_PATH="$pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
  fi
  # The driver's ICD file sits in the mounted driver folder, where the loader does not look by itself.
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -f "$icd" ] && ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1; then
    export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
  fi
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
}

setup_local() {
  export KIT_PACK="$work/pack"
  bash "$root/bench/device/pack.sh" --local || exit 1
  NODE="$(command -v node)"
  KIT="$KIT_PACK/kit.mjs"
  local swiftshader=/usr/lib/chromium/vk_swiftshader_icd.json
  if [ -f "$swiftshader" ] && ls /usr/lib/*/libvulkan.so.1 >/dev/null 2>&1; then
    export VK_ICD_FILENAMES="${VK_ICD_FILENAMES:-$swiftshader}"
  else
    echo "!!! no SwiftShader Vulkan driver or loader (apt-get install chromium-common libvulkan1): the kit runs on wasm instead of webgpu !!!"
    export KIT_BACKEND="${KIT_BACKEND:-wasm}"
  fi
}

main() {
  echo "alpaca-forge device kit: $([ $local_run = 1 ] && echo local || echo device)$([ $small = 1 ] && echo ', small shapes'); work in $work; budget ${budget} s"
  if [ $local_run = 1 ]; then setup_local; else setup_device; fi
  local flags=(--work "$work" --backend "${KIT_BACKEND:-webgpu}")
  [ $small = 1 ] && flags+=(--small)
  printf '{"mode":"%s","small":%s,"node":"%s","budgetSeconds":%s,"started":"%s","host":"%s"}\n' \
    "$([ $local_run = 1 ] && echo local || echo device)" "$([ $small = 1 ] && echo true || echo false)" "$("$NODE" --version)" \
    "$budget" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -m)" >"$work/kit.json"
  if [ $small = 1 ]; then
    # One Node process for every Node stage: a software adapter then compiles each kernel once.
    stage node 240 "$NODE" "$KIT" probe,models,peft,train "${flags[@]}"
  else
    stage probe 60 "$NODE" "$KIT" probe "${flags[@]}"
    stage models 30 "$NODE" "$KIT" models "${flags[@]}"
    stage weights 150 "$PYTHON" bench/device/make_weights.py "$work"
    stage peft 60 "$NODE" "$KIT" peft "${flags[@]}"
  fi
  stage peft-check 90 "$PYTHON" bench/device/peft_check.py "$work"
  if [ $small = 0 ]; then
    stage train-smollm2-135m 90 "$NODE" "$KIT" train=smollm2-135m/f32 "${flags[@]}"
    stage train-qwen2.5-0.5b 90 "$NODE" "$KIT" train=qwen2.5-0.5b/f32 "${flags[@]}"
    stage train-qwen2.5-1.5b 120 "$NODE" "$KIT" train=qwen2.5-1.5b/f32 "${flags[@]}"
  fi
  stage anchor 180 "$PYTHON" bench/device/torch_anchor.py "$work"
  [ $small = 0 ] && stage train-llama2-7b-int8 180 "$NODE" "$KIT" train=llama2-7b/int8 "${flags[@]}"
  # Not under the budget: the figures must be written whatever happened before.
  "$NODE" "$KIT" merge "${flags[@]}" --out "$OUT/figures.json" || { echo "!!! merge failed: no figures.json !!!"; return 1; }
  echo "figures: $OUT/figures.json (in $(($(date +%s) - started)) s)"
}

main 2>&1 | tee -a "$OUT/log"
rc=${PIPESTATUS[0]}
[ -n "${KIT_WORK:-}" ] || [ $local_run = 0 ] || rm -rf "$work"
exit "$rc"
