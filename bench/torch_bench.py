"""PyTorch side of `npm run bench`: trains the reference GPT (test/reference/gpt_ref.py, same architecture as
the tfjs model) for a fixed number of steps on random windows and prints one JSON line with tokens/s and peak
RSS (also used by native/bench/interleaved.js). Usage: /usr/bin/python3 torch_bench.py '<json: {model, optim, batch, steps, warmup, threads}>'
On CUDA, job["precisions"] (e.g. ["fp32", "tf32", "bf16", "fp16"]) times the same loop again in each mode, from
fresh weights: fp32 is strict (TF32 off for matmuls and cuDNN), tf32 allows TF32 tensor cores, bf16/fp16 run
forward and backward under torch.autocast (fp16 without a GradScaler: a speed measurement, not a recipe).
The first mode's numbers are the top-level fields; all modes' tokens/s are in "byPrecision"."""
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))
import torch  # noqa: E402
import gpt_ref  # noqa: E402


def main():
    job = json.loads(sys.argv[1])
    torch.set_num_threads(job["threads"])
    torch.manual_seed(0)
    cfg, o, B, T = job["model"], job["optim"], job["batch"], job["model"]["contextLength"]
    # "cuda" when the tfjs side runs on a GPU (bench.ts --backend webgpu): same device class on both sides.
    dev = torch.device("cuda" if job.get("device") == "cuda" and torch.cuda.is_available() else "cpu")
    data = torch.randint(0, cfg["vocabSize"], (1 << 20,))
    g = torch.Generator().manual_seed(2)

    def batch():
        starts = torch.randint(0, data.numel() - T - 1, (B,), generator=g)
        w = torch.stack([data[s:s + T + 1] for s in starts.tolist()])
        return w[:, :-1].contiguous().to(dev), w[:, 1:].contiguous().to(dev)

    def timed(mode):
        if dev.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
            torch.backends.cudnn.allow_tf32 = mode == "tf32"
        autocast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mode)
        params = {n: t.detach().to(dev).requires_grad_(True) for n, t in gpt_ref.init_params(cfg, seed=1).items()}
        opt = gpt_ref.make_optimizer(params, o)
        losses = []
        for step in range(job["warmup"] + job["steps"]):
            if step == job["warmup"]:
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                t0, c0 = time.perf_counter(), time.process_time()
            x, y = batch()
            if autocast is not None:
                with torch.autocast(device_type="cuda", dtype=autocast):
                    loss, _ = gpt_ref.train_step(params, opt, cfg, o, x, y, o["lr"])
            else:
                loss, _ = gpt_ref.train_step(params, opt, cfg, o, x, y, o["lr"])
            losses.append(loss)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, time.process_time() - c0, losses

    modes = (job.get("precisions") or ["fp32"]) if dev.type == "cuda" else ["fp32"]
    results = {m: timed(m) for m in modes}
    dt, cpu, losses = results[modes[0]]
    print(json.dumps({
        "tokensPerSec": job["steps"] * B * T / dt,
        "secondsPerStep": dt / job["steps"],
        # CPU seconds (all threads) per step: far less sensitive than wall time to other jobs on the machine
        "cpuPerStep": cpu / job["steps"],
        "precision": modes[0],
        "byPrecision": {m: {"tokensPerSec": job["steps"] * B * T / r[0], "lastLoss": r[2][-1]} for m, r in results.items()},
        "openblasCore": os.environ.get("OPENBLAS_CORETYPE", "auto"),
        "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "lastLoss": losses[-1],
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
    }))


if __name__ == "__main__":
    main()
