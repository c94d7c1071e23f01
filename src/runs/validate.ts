// Run configs arrive as JSON (CLI, sweep files, Slurm tasks): check every field against the contract in
// types.ts and fail with one line naming the first bad one (unknown fields included), before any work starts.
import { PRESETS, ROLE_PARTS, ROLES, SFT_TASKS } from '../config';
import type { RunConfig } from './types';
import { validateModelConfig } from '../model/presets';
import { validateMixture } from '../train/sampler';

type Check = (v: unknown, at: string) => void;

const fail = (at: string, want: string, v: unknown): never => {
  throw new Error(`${at}: expected ${want}, got ${JSON.stringify(v)}`);
};
const num: Check = (v, at) => (typeof v === 'number' && Number.isFinite(v) ? undefined : fail(at, 'a finite number', v));
const posInt: Check = (v, at) => (Number.isInteger(v) && (v as number) > 0 ? undefined : fail(at, 'a positive integer', v));
const nonNegInt: Check = (v, at) => (Number.isInteger(v) && (v as number) >= 0 ? undefined : fail(at, 'an integer ≥ 0', v));
const str: Check = (v, at) => (typeof v === 'string' && v.length > 0 ? undefined : fail(at, 'a non-empty string', v));
const fraction: Check = (v, at) => (typeof v === 'number' && v >= 0 && v <= 1 ? undefined : fail(at, 'a number in [0, 1]', v));
const oneOf = (values: readonly string[]): Check => (v, at) => (values.includes(v as string) ? undefined : fail(at, `one of ${values.join(', ')}`, v));
const arrayOf = (item: Check): Check => (v, at) => {
  if (!Array.isArray(v)) fail(at, 'an array', v);
  (v as unknown[]).forEach((x, i) => item(x, `${at}[${i}]`));
};
const recordOf = (keys: readonly string[], value: Check): Check => (v, at) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(at, 'an object', v);
  for (const [k, x] of Object.entries(v as object)) {
    if (!keys.includes(k)) throw new Error(`${at}.${k}: unknown key (known: ${keys.join(', ')})`);
    value(x, `${at}.${k}`);
  }
};
/** An object with exactly these fields ([check, optional]); any other field is an error naming it. */
const object = (fields: Record<string, [Check, boolean?]>): Check => (v, at) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(at, 'an object', v);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(k in fields)) throw new Error(`${at}.${k}: unknown field (known: ${Object.keys(fields).join(', ')})`);
  for (const [k, [check, optional]] of Object.entries(fields)) {
    if (o[k] === undefined) {
      if (!optional) throw new Error(`${at}.${k}: missing required field`);
      continue;
    }
    check(o[k], `${at}.${k}`);
  }
};

const model = object({
  vocabSize: [posInt], dModel: [posInt], nLayers: [posInt], nHeads: [posInt], contextLength: [posInt],
  rotaryPct: [fraction], rotaryBase: [num], mlpRatio: [num], layerNormEps: [num],
});
const optim = object({
  lr: [num], minLr: [num], warmupFraction: [fraction], beta1: [fraction], beta2: [fraction], eps: [num], weightDecay: [num], gradClip: [num],
});
const parent = object({ runId: [str], atFraction: [fraction] });
const mixture = arrayOf(object({ fromFraction: [fraction], weights: [recordOf([...ROLES, ...ROLE_PARTS], num)] }));

const pretrain = object({
  kind: [oneOf(['pretrain'])], name: [str], preset: [oneOf(PRESETS)], model: [model], optim: [optim],
  totalSteps: [posInt], batchSize: [posInt], microBatch: [posInt], mixture: [mixture], evalEvery: [posInt],
  evalTokens: [posInt], seed: [nonNegInt], parent: [parent, true], keepCheckpointsAt: [arrayOf(fraction), true],
  checkpointEvery: [posInt, true],
});
const sft = object({
  kind: [oneOf(['sft'])], name: [str], preset: [oneOf(PRESETS)], task: [oneOf(SFT_TASKS)], parent: [parent], optim: [optim],
  epochs: [posInt], batchSize: [posInt], maxExamples: [posInt, true], evalEvery: [posInt], valExamples: [posInt, true], evalTokens: [posInt],
  accuracyExamples: [nonNegInt], testExamples: [nonNegInt, true], seed: [nonNegInt], checkpointEvery: [posInt, true],
});

/** The config, checked; throws one line naming the first bad field (`source` prefixes it, e.g. the file name). */
export function validateRunConfig(v: unknown, source = 'config'): RunConfig {
  if (typeof v !== 'object' || v === null) fail(source, 'a run config object', v);
  const kind = (v as { kind?: unknown }).kind;
  if (kind === 'pretrain') {
    pretrain(v, source);
    const c = v as Extract<RunConfig, { kind: 'pretrain' }>;
    validateModelConfig(c.model, `${source}.model`);
    validateMixture(c.mixture, `${source}.mixture`);
    if (c.batchSize % c.microBatch !== 0) throw new Error(`${source}.microBatch: ${c.microBatch} does not divide batchSize ${c.batchSize}`);
    if (c.parent && c.parent.atFraction >= 1) throw new Error(`${source}.parent.atFraction: a pretraining branch must start before the parent's end (< 1)`);
  } else if (kind === 'sft') {
    sft(v, source);
  } else {
    fail(`${source}.kind`, '"pretrain" or "sft"', kind);
  }
  return v as RunConfig;
}
