"""PyTorch side of native/bench/interleaved.js: trains the reference GPT (test/reference/gpt_ref.py) for
`warmup + steps` steps like bench/torch_bench.py and prints one JSON line with wall and CPU seconds (all threads)
per timed step and peak RSS. CPU time depends far less than wall time on other jobs sharing the machine."""
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "reference"))
import torch  # noqa: E402
import gpt_ref  # noqa: E402

job = json.loads(sys.argv[1])
torch.set_num_threads(job["threads"])
torch.manual_seed(0)
cfg, o, B, T = job["model"], job["optim"], job["batch"], job["model"]["contextLength"]
params = {n: t.detach().requires_grad_(True) for n, t in gpt_ref.init_params(cfg, seed=1).items()}
opt = gpt_ref.make_optimizer(params, o)
data = torch.randint(0, cfg["vocabSize"], (1 << 20,))
g = torch.Generator().manual_seed(2)


def batch():
    starts = torch.randint(0, data.numel() - T - 1, (B,), generator=g)
    w = torch.stack([data[s:s + T + 1] for s in starts.tolist()])
    return w[:, :-1].contiguous(), w[:, 1:].contiguous()


for step in range(job["warmup"] + job["steps"]):
    if step == job["warmup"]:
        c0, t0 = time.process_time(), time.perf_counter()
    x, y = batch()
    gpt_ref.train_step(params, opt, cfg, o, x, y, o["lr"])
n = job["steps"]
print(json.dumps({"wallPerStep": (time.perf_counter() - t0) / n, "cpuPerStep": (time.process_time() - c0) / n,
                  "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "openblasCore": os.environ.get("OPENBLAS_CORETYPE", "auto")}))
