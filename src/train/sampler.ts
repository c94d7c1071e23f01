// Mixture sampling of pretraining windows, and the fixed validation windows.
// Each training sequence picks a role by the active phase's normalised weights, then a uniformly random
// window of contextLength+1 tokens from that role's train shard. Every draw for optimizer step s comes
// from a generator seeded by (seed, s, micro-batch), so the stream is a pure function of the step:
// resuming at step s or branching at step k continues exactly, and the sampler's checkpoint state is
// just (seed, step) — nothing hidden to save or lose.
import type { Mixture, Role, RolePart } from '../config';
import { ROLE_PARTS, ROLES } from '../config';
import type { TokenShard } from '../data/types';
import type { Batch } from '../model/gpt';
import { Rng, mixSeed } from '../rng';

/** What the sampler needs from a data bundle: a train and val shard per role (or part of a role) it draws from. */
export type RoleShards = Partial<Record<Role | RolePart, { train: TokenShard; val: TokenShard }>>;

/** Throws one line naming the field when a mixture is malformed. */
export function validateMixture(mixture: Mixture, where = 'mixture'): void {
  if (!Array.isArray(mixture) || mixture.length === 0) throw new Error(`${where}: expected a non-empty array of phases`);
  mixture.forEach((ph, i) => {
    if (!(ph.fromFraction >= 0 && ph.fromFraction < 1)) throw new Error(`${where}[${i}].fromFraction: expected a number in [0, 1), got ${ph.fromFraction}`);
    if (i === 0 && ph.fromFraction !== 0) throw new Error(`${where}[0].fromFraction: the first phase must start at 0`);
    if (i > 0 && ph.fromFraction <= mixture[i - 1].fromFraction) throw new Error(`${where}[${i}].fromFraction: phases must start in increasing order`);
    let total = 0;
    for (const [role, w] of Object.entries(ph.weights ?? {})) {
      if (![...ROLES, ...ROLE_PARTS].includes(role as Role)) throw new Error(`${where}[${i}].weights.${role}: unknown role (known: ${ROLES.join(', ')}; parts: ${ROLE_PARTS.join(', ')})`);
      if (typeof w !== 'number' || !(w >= 0)) throw new Error(`${where}[${i}].weights.${role}: expected a weight ≥ 0, got ${JSON.stringify(w)}`);
      total += w;
    }
    if (!(total > 0)) throw new Error(`${where}[${i}].weights: weights must sum to more than 0`);
  });
}

/** First step of each phase: phase i covers steps [round(fromFraction_i · total), next phase's start). */
export function phaseStartStep(fromFraction: number, totalSteps: number): number {
  return Math.round(fromFraction * totalSteps);
}

/** Normalised weights of the phase active at optimizer step `step` (0-based). */
export function weightsAt(mixture: Mixture, step: number, totalSteps: number): Partial<Record<Role | RolePart, number>> {
  let active = mixture[0];
  for (const ph of mixture) if (step >= phaseStartStep(ph.fromFraction, totalSteps)) active = ph;
  const entries = Object.entries(active.weights).filter(([, w]) => (w as number) > 0) as [Role | RolePart, number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  return Object.fromEntries(entries.map(([r, w]) => [r, w / total]));
}

export class MixtureSampler {
  constructor(
    private mixture: Mixture,
    private totalSteps: number,
    private shards: RoleShards,
    private contextLength: number,
    private seed: number,
  ) {
    validateMixture(mixture);
    for (const ph of mixture) {
      for (const role of Object.keys(ph.weights) as (Role | RolePart)[]) {
        if ((ph.weights[role] ?? 0) <= 0) continue;
        const s = shards[role];
        if (!s) throw new Error(`mixture: ${(ROLE_PARTS as readonly string[]).includes(role) ? 'part' : 'role'} "${role}" has no data in this bundle${(ROLE_PARTS as readonly string[]).includes(role) ? ' (the run store adds a part to the shards of a run whose mixture samples it: build the data with parts)' : ''}`);
        if (s.train.numTokens < contextLength + 1) throw new Error(`${s.train.path}: ${s.train.numTokens} tokens, fewer than one window of ${contextLength + 1}`);
      }
    }
  }

  /** Micro-batch `micro` (of `rows` sequences) of optimizer step `step`; also returns the role of each row. */
  batch(step: number, micro: number, rows: number): Batch & { roles: (Role | RolePart)[] } {
    const T = this.contextLength;
    const rng = new Rng(mixSeed(this.seed, step, micro));
    const weights = Object.entries(weightsAt(this.mixture, step, this.totalSteps)) as [Role | RolePart, number][];
    const inputs = new Int32Array(rows * T);
    const targets = new Int32Array(rows * T);
    const roles: (Role | RolePart)[] = [];
    for (let r = 0; r < rows; r++) {
      let u = rng.next();
      let role = weights[weights.length - 1][0];
      for (const [name, w] of weights) {
        if (u < w) { role = name; break; }
        u -= w;
      }
      const shard = this.shards[role]!.train;
      const start = rng.int(shard.numTokens - T);
      const win = shard.read(start, T + 1);
      for (let t = 0; t < T; t++) {
        inputs[r * T + t] = win[t];
        targets[r * T + t] = win[t + 1];
      }
      roles.push(role);
    }
    return { inputs, targets, B: rows, T, roles };
  }
}

/** Start offsets of n windows of T+1 tokens spread evenly over a shard of numTokens: first at 0, last ending at the shard's end. */
export function valWindowStarts(numTokens: number, T: number, n: number): number[] {
  const last = numTokens - (T + 1);
  if (n === 1) return [0];
  return Array.from({ length: n }, (_, i) => Math.round((i * last) / (n - 1)));
}

/**
 * The fixed validation windows of one shard: floor(min(evalTokens, tokens − 1) / T) windows of T+1 tokens,
 * spread evenly over the whole shard (deterministic, never overlapping), so the loss covers every part of
 * the split rather than its first documents, and every run evaluates on exactly the same tokens.
 */
export function valWindows(shard: TokenShard, T: number, evalTokens: number, rowsPerBatch: number): Batch[] {
  const usable = Math.min(evalTokens, shard.numTokens - 1);
  const n = Math.floor(usable / T);
  if (n < 1) throw new Error(`${shard.path}: ${shard.numTokens} tokens, fewer than one validation window of ${T + 1}`);
  const starts = valWindowStarts(shard.numTokens, T, n);
  const batches: Batch[] = [];
  for (let b0 = 0; b0 < n; b0 += rowsPerBatch) {
    const rows = Math.min(rowsPerBatch, n - b0);
    const inputs = new Int32Array(rows * T);
    const targets = new Int32Array(rows * T);
    for (let r = 0; r < rows; r++) {
      const win = shard.read(starts[b0 + r], T + 1);
      for (let t = 0; t < T; t++) {
        inputs[r * T + t] = win[t];
        targets[r * T + t] = win[t + 1];
      }
    }
    batches.push({ inputs, targets, B: rows, T });
  }
  return batches;
}
