// Named model shapes (GPT-NeoX / Pythia family) as typed data, and the parameter count of a shape.
// Pythia shapes follow EleutherAI's configs (hidden 512/768/1024, layers 6/12/24, heads 8/12/16, context 2048,
// rotary_pct 0.25, vocab padded to 50304); tiny/small are ours, for CPU work (see RESEARCH.md "Scaling down").
import type { ModelConfig } from '../runs/types';
import type { PresetName } from '../config';

/** The fields every Pythia shape shares; only width, depth, heads, vocab and context vary. */
const NEOX_DEFAULTS = { rotaryPct: 0.25, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5 } as const;

export const MODEL_PRESETS: Record<PresetName, ModelConfig> = {
  // CI and notebook smoke runs: trains a few hundred steps in minutes on one wasm thread.
  tiny: { vocabSize: 2048, dModel: 128, nLayers: 4, nHeads: 4, contextLength: 128, ...NEOX_DEFAULTS },
  // Laptop study: big enough for mixtures to matter, about an hour per family of runs on 2 cores.
  small: { vocabSize: 8192, dModel: 256, nLayers: 6, nHeads: 8, contextLength: 256, ...NEOX_DEFAULTS },
  // The paper's shapes (GPU only in practice).
  'pythia-70m': { vocabSize: 50304, dModel: 512, nLayers: 6, nHeads: 8, contextLength: 2048, ...NEOX_DEFAULTS },
  'pythia-160m': { vocabSize: 50304, dModel: 768, nLayers: 12, nHeads: 12, contextLength: 2048, ...NEOX_DEFAULTS },
  'pythia-410m': { vocabSize: 50304, dModel: 1024, nLayers: 24, nHeads: 16, contextLength: 2048, ...NEOX_DEFAULTS },
};

/** Shape of every parameter tensor, in a fixed order (the order of checkpoints and of the PyTorch reference). */
export function paramShapes(cfg: ModelConfig): [string, number[]][] {
  const d = cfg.dModel;
  const f = mlpHidden(cfg);
  const shapes: [string, number[]][] = [['wte', [cfg.vocabSize, d]]];
  for (let i = 0; i < cfg.nLayers; i++) {
    const p = `h${i}.`;
    shapes.push(
      [p + 'ln1.w', [d]], [p + 'ln1.b', [d]],
      [p + 'ln2.w', [d]], [p + 'ln2.b', [d]],
      // Linear weights are stored [in, out] so the forward matmul needs no transpose (see ops.ts).
      [p + 'attn.qkv.w', [d, 3 * d]], [p + 'attn.qkv.b', [3 * d]],
      [p + 'attn.proj.w', [d, d]], [p + 'attn.proj.b', [d]],
      [p + 'mlp.fc.w', [d, f]], [p + 'mlp.fc.b', [f]],
      [p + 'mlp.proj.w', [f, d]], [p + 'mlp.proj.b', [d]],
    );
  }
  // Untied output embedding (GPT-NeoX embed_out has no bias).
  shapes.push(['lnf.w', [d]], ['lnf.b', [d]], ['head.w', [d, cfg.vocabSize]]);
  return shapes;
}

export function mlpHidden(cfg: ModelConfig): number {
  return Math.round(cfg.mlpRatio * cfg.dModel);
}

/** Total parameters including both embeddings: per layer 12d² + 13d (at mlpRatio 4), plus 2Vd + 2d. */
export function countParams(cfg: ModelConfig): number {
  return paramShapes(cfg).reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
}

/** Head size and the number of its dims that get rotary embeddings (GPT-NeoX: int(headSize * rotaryPct)). */
export function headDims(cfg: ModelConfig): { headSize: number; rotaryDims: number } {
  const headSize = cfg.dModel / cfg.nHeads;
  return { headSize, rotaryDims: Math.floor(headSize * cfg.rotaryPct) };
}

/** Throws one line naming the field when a model config cannot describe a valid GPT. */
export function validateModelConfig(cfg: ModelConfig, where = 'model'): void {
  const ints: (keyof ModelConfig)[] = ['vocabSize', 'dModel', 'nLayers', 'nHeads', 'contextLength'];
  for (const k of ints) {
    if (!Number.isInteger(cfg[k]) || (cfg[k] as number) <= 0) throw new Error(`${where}.${k}: expected a positive integer, got ${JSON.stringify(cfg[k])}`);
  }
  if (cfg.dModel % cfg.nHeads !== 0) throw new Error(`${where}.nHeads: dModel ${cfg.dModel} is not divisible by nHeads ${cfg.nHeads}`);
  const { rotaryDims } = headDims(cfg);
  if (!(cfg.rotaryPct >= 0 && cfg.rotaryPct <= 1)) throw new Error(`${where}.rotaryPct: expected a number in [0, 1], got ${cfg.rotaryPct}`);
  if (rotaryDims % 2 !== 0) throw new Error(`${where}.rotaryPct: rotary dims ${rotaryDims} (headSize·rotaryPct) must be even`);
  if (!(cfg.rotaryBase > 0)) throw new Error(`${where}.rotaryBase: expected a positive number, got ${cfg.rotaryBase}`);
  if (!(cfg.mlpRatio > 0)) throw new Error(`${where}.mlpRatio: expected a positive number, got ${cfg.mlpRatio}`);
  if (!(cfg.layerNormEps > 0)) throw new Error(`${where}.layerNormEps: expected a positive number, got ${cfg.layerNormEps}`);
}
