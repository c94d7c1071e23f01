// Whether a training step's largest buffers fit the WebGPU device. A binding beyond the device's
// maxStorageBufferBindingSize is reported once, as an uncaptured error, after which the kernels read zeros:
// a run would train on garbage or stall. So the step's biggest float32 tensors are checked against the limit:
// training computes a batch that does not fit in pieces that do (batchPieces in train/pretrain.ts), and where
// not even one row fits, or a tool cannot split, one line names the tensor and the micro-batch that would fit.
import type { ModelConfig } from '../runs/types';
import { webgpuAdapter, webgpuDevice } from './webgpu';

export interface StepBuffer { name: string; bytes: number }

/** The largest float32 tensors one step of B×T tokens binds whole (each scales with B). */
export function largestStepBuffers(cfg: ModelConfig, B: number, T: number): StepBuffer[] {
  return [
    { name: `logits [${B}·${T}, ${cfg.vocabSize}]`, bytes: 4 * B * T * cfg.vocabSize },
    { name: `attention scores [${B}·${cfg.nHeads}, ${T}, ${T}]`, bytes: 4 * B * cfg.nHeads * T * T },
    { name: `MLP hidden [${B}·${T}, ${cfg.mlpRatio * cfg.dModel}]`, bytes: 4 * B * T * cfg.mlpRatio * cfg.dModel },
  ];
}

const gb = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`);

/**
 * Throws one line when a step of B×T tokens would bind a tensor larger than `limit` bytes (default: the
 * active WebGPU device's maxStorageBufferBindingSize; nothing to check on other backends).
 */
export function assertStepFits(cfg: ModelConfig, B: number, T: number, what: string, limit = webgpuDevice()?.limits.maxStorageBufferBindingSize): void {
  if (!limit) return;
  for (const b of largestStepBuffers(cfg, B, T)) {
    if (b.bytes <= limit) continue;
    const fits = Math.floor(limit / (b.bytes / B));
    const on = webgpuAdapter()?.name ?? 'this WebGPU device';
    throw new Error(`${what}: a micro-batch of ${B} × ${T} tokens needs the ${b.name} in one buffer of ${gb(b.bytes)}, beyond the ${gb(limit)} that ${on} can bind; ${fits >= 1 ? `use a micro-batch of at most ${fits}` : 'no micro-batch fits: shorten the context'}`);
  }
}

/**
 * How many of a batch's `batchRows` rows of T tokens this device computes at once: all when they fit, else the
 * largest divisor of `batchRows` that does (training then splits the batch into equal pieces, batchPieces in
 * train/pretrain.ts, with the same loss and gradient; evaluations and decoding take that many rows a batch).
 * Throws when not even one row fits.
 */
export function rowsThatFit(cfg: ModelConfig, batchRows: number, T: number, what: string, limit = webgpuDevice()?.limits.maxStorageBufferBindingSize): number {
  if (!limit) return batchRows;
  for (let rows = batchRows; rows >= 1; rows--) {
    if (batchRows % rows === 0 && largestStepBuffers(cfg, rows, T).every((b) => b.bytes <= limit)) return rows;
  }
  assertStepFits(cfg, 1, T, what, limit);
  return 1;
}
