"""Fills the kit's device checkpoints (config.json + tokenizer, written by `kit.mjs models`) with random BF16 weights
made by transformers from each config on the GPU, saved as one safetensors file under Hugging Face's tensor names.
Our JS writer would take minutes for the 1.5B and 7B shapes; this takes seconds.

    python3 make_weights.py WORK        (writes WORK/fig-weights.json)
"""
import json
import os
import sys
import time

from kit_torch import device_name, import_stack, random_model, save, skip, versions

work = sys.argv[1]
try:
    torch = import_stack(need_peft=False)
    from safetensors.torch import save_file
except Exception as e:  # noqa: BLE001 - any import failure means: skip, loudly
    skip(work, "weights", "random weights for the device models", e)
    sys.exit(0)

with open(os.path.join(work, "models", "plan.json")) as f:
    plan = json.load(f)

dev, name = device_name()
out = {"device": name, "versions": versions(), "models": []}
for m in plan["models"]:
    path = os.path.join(m["dir"], "model.safetensors")
    if m["weights"] != "pytorch" or os.path.exists(path):
        continue
    t0 = time.time()
    model, cfg = random_model(m["dir"], torch.bfloat16, dev)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if getattr(cfg, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # tied: the embedding is the head, as published checkpoints store it
    n = sum(v.numel() for v in state.values())
    del model
    save_file(state, path + ".part", metadata={"format": "pt"})
    os.replace(path + ".part", path)
    del state
    if dev == "cuda":
        torch.cuda.empty_cache()
    out["models"].append({"name": m["name"], "params": n, "seconds": time.time() - t0})
    print(f"weights: {m['name']}: {n / 1e6:.0f}M parameters in {time.time() - t0:.1f} s", file=sys.stderr, flush=True)
    save(work, "weights", out)
save(work, "weights", out)
