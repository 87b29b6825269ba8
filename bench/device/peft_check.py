"""The real-PEFT check: every adapter `kit.mjs peft` wrote (one of each type our trainer writes, on tiny Llama and
Qwen2 checkpoints) is loaded with PeftModel.from_pretrained onto transformers' model of the same checkpoint, and
its logits at the real positions and its per-example NLL (labels = ids, PEFT's own -100 for virtual tokens) are
compared with the ones our `score` path computed. float32 on the CPU: no TF32, no kernel differences to explain.

    python3 peft_check.py WORK          (reads WORK/peft/cases.json, writes WORK/fig-peft.json)
"""
import json
import os
import sys

from kit_torch import import_stack, save, skip, versions

work = sys.argv[1]
try:
    torch = import_stack(need_peft=True)
    import torch.nn.functional as F
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
except Exception as e:  # noqa: BLE001
    skip(work, "peft", "the real-PEFT check", e)
    sys.exit(0)

# Logits of a 2-layer random model are O(1); float32 on two implementations agrees to ~1e-5.
LOGIT_TOL = 1e-3
NLL_TOL = 1e-4

with open(os.path.join(work, "peft", "cases.json")) as f:
    cases = json.load(f)["cases"]
out = {"versions": versions(), "tolerance": {"logits": LOGIT_TOL, "nll": NLL_TOL}, "checks": []}
torch.set_grad_enabled(False)
for c in cases:
    check = {"arch": c["arch"], "adapter": c["adapter"]}
    try:
        try:
            base = AutoModelForCausalLM.from_pretrained(c["modelDir"], dtype=torch.float32)
        except TypeError:
            base = AutoModelForCausalLM.from_pretrained(c["modelDir"], torch_dtype=torch.float32)
        model = PeftModel.from_pretrained(base.float(), c["adapterDir"]).eval()
        ids = torch.tensor(c["ids"], dtype=torch.long)
        b, t = ids.shape
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits.float()
        # Prompt tuning and P-tuning return the virtual positions too; prefix tuning does not.
        extra = logits.shape[1] - t
        labels = torch.cat([torch.full((b, extra), -100, dtype=torch.long), ids], 1)
        nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100, reduction="none").view(b, -1)
        counted = (labels[:, 1:] != -100).sum(1)
        peft_nll = (nll.sum(1) / counted).tolist()
        ours = torch.tensor(c["logits"], dtype=torch.float32).view(b, t, c["vocab"])
        theirs = logits[:, extra:, : c["vocab"]]
        check["maxAbsLogitDiff"] = float((ours - theirs).abs().max())
        check["nllOurs"] = c["nll"]
        check["nllPeft"] = peft_nll
        check["maxNllDiff"] = max(abs(a - p) for a, p in zip(c["nll"], peft_nll))
        check["ok"] = check["maxAbsLogitDiff"] <= LOGIT_TOL and check["maxNllDiff"] <= NLL_TOL
    except Exception as e:  # noqa: BLE001 - a file PEFT refuses is a finding, not a crash
        check["ok"] = False
        check["error"] = f"{type(e).__name__}: {e}".splitlines()[0]
    out["checks"].append(check)
    print(f"peft: {c['arch']} {c['adapter']}: {'ok' if check['ok'] else 'DIFFERS'} {json.dumps({k: v for k, v in check.items() if k not in ('arch', 'adapter', 'nllOurs', 'nllPeft')})}", file=sys.stderr, flush=True)
    save(work, "peft", out)
save(work, "peft", out)
