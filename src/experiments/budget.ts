// Presets sized by a token budget: a data config's `tokenBudget` (training tokens of one full pretraining
// run) sets the preset's total steps = budget / (batch × context). Every protocol step stays a fraction of
// total steps (start fractions, warmup, cosine), so the same experiments run at the new size.
import { chosenDataConfig, resolveDataConfig } from '../data/configs';
import { loadDataConfig } from '../data/local/config';

/** What a token budget changes in an experiment scale (structural, so this file needs nothing from scale.ts). */
interface Budgeted { model: { contextLength: number }; pretrain: { totalSteps: number; evalEvery: number; batchSize: number }; reductions: string[] }

/** The scale with pretraining steps (and eval cadence, proportionally) set by a token budget. */
export function withTokenBudget<S extends Budgeted>(s: S, tokens: number): S {
  const perStep = s.pretrain.batchSize * s.model.contextLength;
  const totalSteps = Math.max(1, Math.round(tokens / perStep));
  const evals = s.pretrain.totalSteps / s.pretrain.evalEvery; // keep the number of evaluations
  const evalEvery = Math.max(1, Math.round(totalSteps / evals));
  return {
    ...s,
    pretrain: { ...s.pretrain, totalSteps, evalEvery },
    reductions: [...s.reductions, `Token budget ${tokens.toLocaleString('en-US')} from the data config: ${totalSteps.toLocaleString('en-US')} pretraining steps of ${s.pretrain.batchSize} × ${s.model.contextLength} tokens (the preset's own: ${s.pretrain.totalSteps.toLocaleString('en-US')}).`],
  };
}

/** The token budget of the chosen data config (MIDTRAIN_DATA_CONFIG) when it is for this preset. */
export function chosenTokenBudget(preset: string): number | undefined {
  const ref = chosenDataConfig();
  if (!ref) return undefined;
  const { file, kind } = resolveDataConfig(ref);
  if (kind === 'builtin') return undefined; // built-in data keeps the preset's own steps
  const { config } = loadDataConfig(file);
  return config.preset === preset ? config.tokenBudget : undefined;
}
