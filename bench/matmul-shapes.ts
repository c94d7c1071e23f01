// The matmuls of one training step of a GPT config (src/model/gpt.ts) as tfjs's BatchMatMul sees them: each
// linear layer's forward x·W, its input gradient dY·Wᵀ and weight gradient Xᵀ·dY, and the attention's
// batched q·kᵀ and P·v (whose gradients have the same shapes and transpositions).
import type { ModelConfig } from '../src/runs/types';

export interface MatmulCase { name: string; a: number[]; b: number[]; transA: boolean; transB: boolean; flop: number }

export function stepMatmuls(cfg: ModelConfig, B: number, T: number): MatmulCase[] {
  const N = B * T, d = cfg.dModel, H = cfg.nHeads, hs = d / H, ff = cfg.mlpRatio * d, V = cfg.vocabSize;
  const out: MatmulCase[] = [];
  const linear = (name: string, i: number, o: number) => {
    out.push({ name: `${name} x·W`, a: [N, i], b: [i, o], transA: false, transB: false, flop: 2 * N * i * o });
    out.push({ name: `${name} dY·Wᵀ`, a: [N, o], b: [i, o], transA: false, transB: true, flop: 2 * N * i * o });
    out.push({ name: `${name} Xᵀ·dY`, a: [N, i], b: [N, o], transA: true, transB: false, flop: 2 * N * i * o });
  };
  linear('qkv', d, 3 * d);
  linear('attn proj', d, d);
  linear('mlp fc', d, ff);
  linear('mlp proj', ff, d);
  linear('head', d, V);
  out.push({ name: 'q·kᵀ', a: [B, H, T, hs], b: [B, H, T, hs], transA: false, transB: true, flop: 2 * B * H * T * T * hs });
  out.push({ name: 'P·v', a: [B, H, T, T], b: [B, H, T, hs], transA: false, transB: false, flop: 2 * B * H * T * T * hs });
  out.push({ name: 'Pᵀ·dO', a: [B, H, T, T], b: [B, H, T, hs], transA: true, transB: false, flop: 2 * B * H * T * T * hs });
  return out;
}
