"""What the kit's Python scripts share: the fragment writer, the loud skip line, and a model built from a config.json
with transformers (random weights, no download) in a chosen dtype."""
import json
import os
import sys


def save(work, name, figures):
    with open(os.path.join(work, f"fig-{name}.json"), "w") as f:
        json.dump(figures, f, indent=2)


def skip(work, name, what, err):
    reason = f"{type(err).__name__}: {err}".splitlines()[0]
    print(f"\n!!! SKIPPING {what}: {reason} !!!\n", file=sys.stderr, flush=True)
    save(work, name, {"skipped": reason})


def import_stack(need_peft):
    """torch, transformers (and peft): raises ImportError naming what is missing."""
    import torch  # noqa: F401
    import transformers  # noqa: F401
    if need_peft:
        import peft  # noqa: F401
    return torch


def versions():
    out = {}
    for name in ("torch", "transformers", "peft"):
        try:
            out[name] = __import__(name).__version__
        except Exception:
            pass
    return out


def random_model(model_dir, dtype, device):
    """A causal LM with random weights from model_dir's config.json, on `device` in `dtype` (transformers 5 names the
    argument dtype; config.json's torch_dtype would otherwise decide)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    cfg = AutoConfig.from_pretrained(model_dir)
    torch.manual_seed(0)
    with torch.device(device):
        try:
            model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
        except TypeError:
            model = AutoModelForCausalLM.from_config(cfg, torch_dtype=dtype)
    return model.to(device=device, dtype=dtype), cfg


def device_name():
    import torch
    if torch.cuda.is_available():
        return "cuda", torch.cuda.get_device_name(0)
    return "cpu", "CPU"
