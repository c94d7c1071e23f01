"""PyTorch side of `npm run bench`: trains the reference GPT (test/reference/gpt_ref.py, same architecture as
the tfjs model) for a fixed number of steps on random windows and prints one JSON line with tokens/s and peak
RSS (also used by native/bench/interleaved.js). Usage: /usr/bin/python3 torch_bench.py '<json: {model, optim, batch, steps, warmup, threads}>'"""
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
    params = {n: t.detach().to(dev).requires_grad_(True) for n, t in gpt_ref.init_params(cfg, seed=1).items()}
    opt = gpt_ref.make_optimizer(params, o)
    data = torch.randint(0, cfg["vocabSize"], (1 << 20,))
    g = torch.Generator().manual_seed(2)

    def batch():
        starts = torch.randint(0, data.numel() - T - 1, (B,), generator=g)
        w = torch.stack([data[s:s + T + 1] for s in starts.tolist()])
        return w[:, :-1].contiguous().to(dev), w[:, 1:].contiguous().to(dev)

    losses = []
    for step in range(job["warmup"] + job["steps"]):
        if step == job["warmup"]:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0, c0 = time.perf_counter(), time.process_time()
        x, y = batch()
        loss, _ = gpt_ref.train_step(params, opt, cfg, o, x, y, o["lr"])
        losses.append(loss)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    print(json.dumps({
        "tokensPerSec": job["steps"] * B * T / dt,
        "secondsPerStep": dt / job["steps"],
        # CPU seconds (all threads) per step: far less sensitive than wall time to other jobs on the machine
        "cpuPerStep": (time.process_time() - c0) / job["steps"],
        "openblasCore": os.environ.get("OPENBLAS_CORETYPE", "auto"),
        "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "lastLoss": losses[-1],
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
    }))


if __name__ == "__main__":
    main()
