"""The kit's anchor: LoRA training speed of the same models and shapes in PyTorch + PEFT, fp32 and bf16, on the
device's GPU. Same recipe as bench/train.ts: LoRA r=8, alpha 16, dropout 0.05 on q_proj/v_proj, AdamW lr 3e-4,
gradient clipping at 1, random ids with the first quarter of each sequence masked out of the loss; one warm-up
step, then the mean of the timed steps. fp32 means fp32: TF32 matmuls are turned off.

    python3 torch_anchor.py WORK        (reads WORK/models/plan.json, writes WORK/fig-anchor.json after each run)
"""
import json
import os
import sys
import time

from kit_torch import device_name, import_stack, random_model, save, skip, versions

work = sys.argv[1]
try:
    torch = import_stack(need_peft=True)
    from peft import LoraConfig, get_peft_model
except Exception as e:  # noqa: BLE001
    skip(work, "anchor", "the PyTorch + PEFT anchor", e)
    sys.exit(0)

with open(os.path.join(work, "models", "plan.json")) as f:
    plan = json.load(f)

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev, name = device_name()
out = {"device": name, "versions": versions(), "lora": {"r": 8, "alpha": 16, "dropout": 0.05, "targets": ["q_proj", "v_proj"]}, "runs": [], "errors": []}


def sync():
    if dev == "cuda":
        torch.cuda.synchronize()


def bench(model_dir, model_name, shapes, steps, dtype):
    model, cfg = random_model(model_dir, dtype, dev)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=3e-4, weight_decay=0.0)
    g = torch.Generator(device="cpu").manual_seed(1)
    for shape in shapes:
        b, t = (int(x) for x in shape.split("x"))
        ids = torch.randint(0, cfg.vocab_size, (b, t), generator=g).to(dev)
        labels = ids.clone()
        labels[:, : t - max(1, round(t * 0.75))] = -100

        def step():
            loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss

        step()
        sync()
        t0 = time.time()
        for _ in range(steps):
            loss = step()
        sync()
        secs = (time.time() - t0) / steps
        run = {"model": model_name, "shape": shape, "dtype": str(dtype).replace("torch.", ""), "tokensPerSec": b * t / secs, "secondsPerStep": secs, "loss": float(loss)}
        if dev == "cuda":
            run["maxMemoryBytes"] = torch.cuda.max_memory_allocated()
        out["runs"].append(run)
        print(f"anchor: {model_name} {shape} {run['dtype']}: {run['tokensPerSec']:.1f} tokens/s", file=sys.stderr, flush=True)
        save(work, "anchor", out)
    del model, opt, params
    if dev == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


# Each model once, with the shapes of every run on it; fp32 first: it is what the goal compares with.
for m in plan["models"]:
    runs = [r for r in plan["runs"] if r["model"] == m["name"]]
    shapes = sorted({s for r in runs for s in r["shapes"].split(",")}, key=lambda s: [int(x) for x in s.split("x")])
    steps = max(r["steps"] for r in runs) if runs else 2
    for dtype in (torch.float32, torch.bfloat16):
        try:
            bench(m["dir"], m["name"], shapes, steps, dtype)
        except Exception as e:  # noqa: BLE001 - one model's failure (out of memory, say) must not lose the others
            out["errors"].append({"model": m["name"], "dtype": str(dtype), "error": f"{type(e).__name__}: {e}".splitlines()[0]})
            print(f"anchor: {m['name']} {dtype}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            if dev == "cuda":
                torch.cuda.empty_cache()
        save(work, "anchor", out)
