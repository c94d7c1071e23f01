// In-memory data for engine tests: token shards drawn from fixed random bigram tables (so a model can
// learn something and roles differ), a character tokenizer and a copy-style SFT task.
import type { Role } from '../../src/config';
import type { SftExample, SftTask, TokenShard, Tokenizer } from '../../src/data/types';
import type { PretrainConfig, SftConfig } from '../../src/runs/types';
import type { StoreData } from '../../src/runs/store';
import { Rng } from '../../src/rng';
import { MICRO } from './helpers';

export function memoryShard(name: string, tokens: Uint16Array): TokenShard {
  return {
    path: `memory:${name}`,
    numTokens: tokens.length,
    read(start, length) {
      if (start < 0 || start + length > tokens.length) throw new Error(`memory:${name}: read [${start}, ${start + length}) out of range ${tokens.length}`);
      return tokens.slice(start, start + length);
    },
  };
}

/** A token stream from a sparse random bigram table over `vocab` ids (each id has 3 likely successors). */
export function bigramTokens(n: number, vocab: number, tableSeed: number, streamSeed: number): Uint16Array {
  const t = new Rng(tableSeed);
  const next = Array.from({ length: vocab }, () => [t.int(vocab), t.int(vocab), t.int(vocab)]);
  const r = new Rng(streamSeed);
  const out = new Uint16Array(n);
  let cur = r.int(vocab);
  for (let i = 0; i < n; i++) {
    out[i] = cur;
    cur = r.next() < 0.9 ? next[cur][r.int(3)] : r.int(vocab);
  }
  return out;
}

const CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789 =';

/** One id per character; eos is the id after them (39 ids, fits MICRO's vocabulary of 40). */
export const charTokenizer: Tokenizer = {
  vocabSize: CHARS.length + 1,
  hash: 'chars-v1',
  eosId: CHARS.length,
  encode: (s) => [...s].map((c) => CHARS.indexOf(c)).filter((i) => i >= 0),
  decode: (ids) => Array.from(ids).map((i) => CHARS[i] ?? '').join(''),
};

/** "copy abc =" → " abc": learnable by a micro model in a few dozen steps. */
export function copyTask(n = 48, seed = 5): SftTask {
  const r = new Rng(seed);
  const word = () => Array.from({ length: 3 }, () => CHARS[r.int(6)]).join('');
  const ex = (i: number): SftExample => {
    const w = word();
    return { id: `copy-${i}`, prompt: `copy ${w} =`, response: ` ${w}`, answer: w };
  };
  return {
    name: 'pycode',
    description: 'copy a three-letter word (engine test task)',
    train: Array.from({ length: n }, (_, i) => ex(i)),
    val: Array.from({ length: 8 }, (_, i) => ex(1000 + i)),
    test: Array.from({ length: 6 }, (_, i) => ex(2000 + i)),
    check: (generated, e) => generated.trim() === e.answer,
    maxNewTokens: 5,
  };
}

/** Two roles with different bigram tables; general and code, train and val. */
export function microData(hash = 'test-data-1'): StoreData {
  const V = MICRO.vocabSize;
  const roles: StoreData['roles'] = {};
  ([['general', 11], ['code', 22]] as [Role, number][]).forEach(([role, table]) => {
    roles[role] = { train: memoryShard(`${role}/train`, bigramTokens(20000, V, table, 1)), val: memoryShard(`${role}/val`, bigramTokens(2000, V, table, 2)) };
  });
  return { manifestHash: hash, roles, sft: { pycode: copyTask() }, tokenizer: charTokenizer };
}

export const OPTIM = { lr: 3e-3, minLr: 3e-4, warmupFraction: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1.0 };

export function microPretrain(over: Partial<PretrainConfig> = {}): PretrainConfig {
  return {
    kind: 'pretrain', name: 'micro/baseline', preset: 'tiny', model: MICRO, optim: OPTIM,
    totalSteps: 12, batchSize: 4, microBatch: 2, mixture: [{ fromFraction: 0, weights: { general: 1 } }],
    evalEvery: 4, evalTokens: 256, seed: 1, ...over,
  };
}

export function microSft(parentRunId: string, over: Partial<SftConfig> = {}): SftConfig {
  return {
    kind: 'sft', name: 'micro/sft-copy', preset: 'tiny', task: 'pycode', parent: { runId: parentRunId, atFraction: 1 },
    optim: { ...OPTIM, lr: 1e-2 }, epochs: 2, batchSize: 8, evalEvery: 3, evalTokens: 256, accuracyExamples: 4, seed: 3, ...over,
  };
}
