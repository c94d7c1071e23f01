"""PyTorch reference of the workbench GPT (src/model/gpt.ts): same architecture, same parameter names and
layouts (Linear weights stored [in, out]), same rotary tables, AdamW and clipping from torch itself.

Used by test/engine/parity.test.ts (logits, loss, gradients and AdamW steps must agree in float32) and by
bench/torch_bench.py (speed on the same machine). Run with Debian's /usr/bin/python3 (python3-torch 1.13).

  parity mode:  python3 gpt_ref.py parity IN.json OUT.json
"""
import json
import math
import sys

import torch
import torch.nn.functional as F


def param_shapes(cfg):
    d, V = cfg["dModel"], cfg["vocabSize"]
    f = round(cfg["mlpRatio"] * d)
    shapes = [("wte", (V, d))]
    for i in range(cfg["nLayers"]):
        p = f"h{i}."
        shapes += [
            (p + "ln1.w", (d,)), (p + "ln1.b", (d,)), (p + "ln2.w", (d,)), (p + "ln2.b", (d,)),
            (p + "attn.qkv.w", (d, 3 * d)), (p + "attn.qkv.b", (3 * d,)),
            (p + "attn.proj.w", (d, d)), (p + "attn.proj.b", (d,)),
            (p + "mlp.fc.w", (d, f)), (p + "mlp.fc.b", (f,)),
            (p + "mlp.proj.w", (f, d)), (p + "mlp.proj.b", (d,)),
        ]
    shapes += [("lnf.w", (d,)), ("lnf.b", (d,)), ("head.w", (d, V))]
    return shapes


def init_params(cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in param_shapes(cfg):
        if name.endswith(".b"):
            t = torch.zeros(shape)
        elif name.startswith("ln") or ".ln" in name:
            t = torch.ones(shape)
        else:
            std = 0.02 / math.sqrt(2 * cfg["nLayers"]) if name.endswith("proj.w") else 0.02
            t = torch.randn(shape, generator=g) * std
        params[name] = t.requires_grad_(True)
    return params


def decays(name):
    return name == "wte" or (name.endswith(".w") and "ln" not in name)


def rotary_tables(cfg, T):
    hs = cfg["dModel"] // cfg["nHeads"]
    r = int(math.floor(hs * cfg["rotaryPct"]))
    pos = torch.arange(T, dtype=torch.float64)
    inv = 1.0 / (cfg["rotaryBase"] ** (torch.arange(0, r, 2, dtype=torch.float64) / r))
    ang = torch.outer(pos, inv)
    ang = torch.cat([ang, ang], dim=-1)
    return torch.cos(ang).float(), torch.sin(ang).float(), r


def apply_rotary(x, cos, sin, r):
    if r == 0:
        return x
    xr, xp = x[..., :r], x[..., r:]
    x1, x2 = xr[..., : r // 2], xr[..., r // 2:]
    rot = xr * cos + torch.cat([-x2, x1], dim=-1) * sin
    return torch.cat([rot, xp], dim=-1)


def forward(params, cfg, ids):
    """ids: int64 [B, T] -> logits [B*T, V]"""
    B, T = ids.shape
    d, H, eps = cfg["dModel"], cfg["nHeads"], cfg["layerNormEps"]
    hs = d // H
    cos, sin, r = rotary_tables(cfg, T)
    cos, sin = cos.to(ids.device), sin.to(ids.device)  # CUDA when bench/torch_bench.py runs on a GPU
    mask = torch.triu(torch.full((T, T), -1e9, device=ids.device), diagonal=1)
    x = params["wte"][ids.reshape(-1)]
    for i in range(cfg["nLayers"]):
        p = lambda n: params[f"h{i}.{n}"]
        h1 = F.layer_norm(x, (d,), p("ln1.w"), p("ln1.b"), eps)
        qkv = (h1 @ p("attn.qkv.w") + p("attn.qkv.b")).view(B, T, H, 3 * hs)
        q, k, v = (qkv[..., j * hs:(j + 1) * hs].permute(0, 2, 1, 3) for j in range(3))
        q, k = apply_rotary(q, cos, sin, r), apply_rotary(k, cos, sin, r)
        att = torch.softmax(q @ k.transpose(-1, -2) * (1.0 / math.sqrt(hs)) + mask, dim=-1)
        a = (att @ v).permute(0, 2, 1, 3).reshape(B * T, d) @ p("attn.proj.w") + p("attn.proj.b")
        h2 = F.layer_norm(x, (d,), p("ln2.w"), p("ln2.b"), eps)
        m = F.gelu(h2 @ p("mlp.fc.w") + p("mlp.fc.b")) @ p("mlp.proj.w") + p("mlp.proj.b")
        x = x + a + m
    return F.layer_norm(x, (d,), params["lnf.w"], params["lnf.b"], eps) @ params["head.w"]


def make_optimizer(params, o):
    decay = [t for n, t in params.items() if decays(n)]
    no_decay = [t for n, t in params.items() if not decays(n)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": o["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"],
    )


def train_step(params, opt, cfg, o, ids, targets, lr):
    for g in opt.param_groups:
        g["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(forward(params, cfg, ids), targets.reshape(-1))
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(list(params.values()), o["gradClip"]) if o["gradClip"] > 0 else None
    opt.step()
    return loss.item(), (norm.item() if norm is not None else None)


def parity(inp, out):
    with open(inp) as f:
        job = json.load(f)
    cfg, o = job["model"], job["optim"]
    params = {n: torch.tensor(job["params"][n], dtype=torch.float32).reshape(s).requires_grad_(True) for n, s in param_shapes(cfg)}
    B, T = job["B"], job["T"]
    ids = torch.tensor(job["inputs"], dtype=torch.int64).reshape(B, T)
    targets = torch.tensor(job["targets"], dtype=torch.int64)
    logits = forward(params, cfg, ids)
    loss = F.cross_entropy(logits, targets)
    loss.backward()
    result = {
        "logits": logits.detach().reshape(-1).tolist(),
        "loss": loss.item(),
        "grads": {n: params[n].grad.reshape(-1).tolist() for n in params},
    }
    for t in params.values():
        t.grad = None
    opt = make_optimizer(params, o)
    losses, norms = [], []
    for lr in job["lrs"]:
        l, n = train_step(params, opt, cfg, o, ids, targets, lr)
        losses.append(l)
        norms.append(n)
    result["stepLosses"] = losses
    result["stepNorms"] = norms
    result["paramsAfter"] = {n: params[n].detach().reshape(-1).tolist() for n in params}
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "parity":
        parity(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: gpt_ref.py parity IN.json OUT.json")
