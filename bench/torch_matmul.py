"""PyTorch's side of `webgpu-profile --matmul-bench --torch`: times torch.matmul on CUDA at the given shapes
(the matmuls of one training step, bench/matmul-shapes.ts) in strict fp32 (TF32 off), TF32, bf16 and fp16,
and prints one JSON line: {case name: {mode: ms}} (median of `reps` runs, CUDA events).
Usage: python3 torch_matmul.py '<json: {cases: [{name, a, b, transA, transB}], reps}>'"""
import json
import sys

import torch


def main():
    job = json.loads(sys.argv[1])
    if not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA device for PyTorch"}))
        return
    dev = torch.device("cuda")
    out = {"device": torch.cuda.get_device_name(dev), "torch": torch.__version__, "ms": {}}
    for c in job["cases"]:
        row = {}
        for mode in ("fp32", "tf32", "bf16", "fp16"):
            torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
            dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mode, torch.float32)
            a = torch.randn(c["a"], device=dev, dtype=dtype)
            b = torch.randn(c["b"], device=dev, dtype=dtype)
            op_a = a.transpose(-1, -2) if c["transA"] else a
            op_b = b.transpose(-1, -2) if c["transB"] else b
            torch.matmul(op_a, op_b)
            times = []
            for _ in range(job["reps"]):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                torch.matmul(op_a, op_b)
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
            row[mode] = sorted(times)[len(times) // 2]
        out["ms"][c["name"]] = row
    torch.backends.cuda.matmul.allow_tf32 = False
    print(json.dumps(out))


if __name__ == "__main__":
    main()
