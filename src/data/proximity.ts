// The paper's proximity between a (midtraining or general) data distribution P and an SFT distribution Q,
// over unigram token distributions:
//   sim = 0.4 · cosine(P, Q) + 0.3 · Jaccard(top-k(P), top-k(Q)) + 0.3 · 1 / (1 + JSD(P, Q))
// with base-2 logs (JSD ∈ [0, 1]); dist = 1 − sim; advantage(mix) = dist(general, task) − dist(mix, task).
// top-k: the paper takes the top 50k tokens of a ~50k vocabulary, where Jaccard over nearly all tokens
// is uninformative on our small corpora; we use the top vocabSize/8 tokens (256 at 2k, 1024 at 8k).
import { ROLES, SFT_TASKS, type Role, type SftTaskName } from '../config';
import type { DataBundle, SftExample, TokenShard } from './types';

export interface Proximity { sim: number; dist: number; cosine: number; jaccard: number; jsd: number; topK: number }

/** Normalise counts to probabilities (throws on an empty distribution). */
export function normalize(counts: ArrayLike<number>): Float64Array {
  let s = 0;
  for (let i = 0; i < counts.length; i++) s += counts[i];
  if (!(s > 0)) throw new Error('proximity: empty distribution (all counts zero)');
  const p = new Float64Array(counts.length);
  for (let i = 0; i < counts.length; i++) p[i] = counts[i] / s;
  return p;
}

export function cosine(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let pq = 0, pp = 0, qq = 0;
  for (let i = 0; i < p.length; i++) { pq += p[i] * q[i]; pp += p[i] * p[i]; qq += q[i] * q[i]; }
  return pq / Math.sqrt(pp * qq);
}

/** Jensen–Shannon divergence with base-2 logs, in [0, 1]. Inputs are probability vectors. */
export function jsd(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + q[i]) / 2;
    if (p[i] > 0) d += 0.5 * p[i] * Math.log2(p[i] / m);
    if (q[i] > 0) d += 0.5 * q[i] * Math.log2(q[i] / m);
  }
  return Math.min(1, Math.max(0, d));
}

/** The k most frequent ids (ties broken by smaller id), ignoring zero counts. */
export function topK(p: ArrayLike<number>, k: number): Set<number> {
  const ids = Array.from({ length: p.length }, (_, i) => i).filter((i) => p[i] > 0);
  ids.sort((a, b) => p[b] - p[a] || a - b);
  return new Set(ids.slice(0, k));
}

export function jaccard(a: Set<number>, b: Set<number>): number {
  let inter = 0;
  for (const x of a) if (b.has(x)) inter++;
  const union = a.size + b.size - inter;
  return union === 0 ? 0 : inter / union;
}

/** The paper's similarity between two unigram distributions (counts or probabilities of equal length). */
export function proximity(p: ArrayLike<number>, q: ArrayLike<number>, opts: { topK: number }): Proximity {
  if (p.length !== q.length) throw new Error(`proximity: distributions have different lengths (${p.length} vs ${q.length})`);
  const P = normalize(p), Q = normalize(q);
  const c = cosine(P, Q), j = jaccard(topK(P, opts.topK), topK(Q, opts.topK)), d = jsd(P, Q);
  const sim = 0.4 * c + 0.3 * j + 0.3 / (1 + d);
  return { sim, dist: 1 - sim, cosine: c, jaccard: j, jsd: d, topK: opts.topK };
}

/** Unigram counts of a shard, read in chunks; the EOS separator is not counted (it is not content). */
export function shardUnigram(shard: TokenShard, vocabSize: number, eosId: number): Float64Array {
  const counts = new Float64Array(vocabSize);
  const chunk = 1 << 20;
  for (let s = 0; s < shard.numTokens; s += chunk) {
    const ids = shard.read(s, Math.min(chunk, shard.numTokens - s));
    for (let i = 0; i < ids.length; i++) counts[ids[i]]++;
  }
  counts[eosId] = 0;
  return counts;
}

/** Unigram counts of SFT examples (prompt + response text, as the model sees them). */
export function examplesUnigram(examples: SftExample[], encode: (s: string) => number[], vocabSize: number): Float64Array {
  const counts = new Float64Array(vocabSize);
  for (const ex of examples) for (const id of encode(ex.prompt + ex.response)) counts[id]++;
  return counts;
}

/** The paper's midtraining mixtures as (1 − w)·general + w·role, w from the paper (Starcoder 20%, Math 12%, FLAN 5%, KnowledgeQA 20%, DCLM 20%). */
export const PAPER_MIX_WEIGHTS: Record<Exclude<Role, 'general'>, number> = {
  code: 0.2, math: 0.12, instruction: 0.05, knowledge: 0.2, 'web-quality': 0.2,
};

export interface ProximityRow {
  /** A role name, or "mix:<role>@<w>" for a paper mixture. */
  source: string;
  kind: 'role' | 'mixture';
  task: SftTaskName;
  sim: number;
  dist: number;
  /** dist(general, task) − dist(source, task): positive = closer to the task than general alone. */
  advantage: number;
  cosine: number;
  jaccard: number;
  jsd: number;
  topK: number;
}

/** Proximity of every role and every paper mixture to every SFT task (train splits). Plain rows for tables. */
export function proximityTable(b: DataBundle, opts: { topK?: number } = {}): ProximityRow[] {
  const V = b.tokenizer.vocabSize;
  const k = opts.topK ?? Math.round(V / 8);
  const dists = new Map<string, Float64Array>();
  for (const r of ROLES) dists.set(r, normalize(shardUnigram(b.roles[r].train, V, b.tokenizer.eosId)));
  const g = dists.get('general')!;
  for (const [r, w] of Object.entries(PAPER_MIX_WEIGHTS)) {
    const p = dists.get(r)!;
    const mix = new Float64Array(V);
    for (let i = 0; i < V; i++) mix[i] = (1 - w) * g[i] + w * p[i];
    dists.set(`mix:${r}@${w}`, mix);
  }
  const rows: ProximityRow[] = [];
  for (const task of SFT_TASKS) {
    const q = examplesUnigram(b.sft[task].train, (s) => b.tokenizer.encode(s), V);
    const base = proximity(g, q, { topK: k }).dist;
    for (const [source, p] of dists) {
      const x = proximity(p, q, { topK: k });
      rows.push({ source, kind: source.startsWith('mix:') ? 'mixture' : 'role', task, sim: x.sim, dist: x.dist, advantage: base - x.dist, cosine: x.cosine, jaccard: x.jaccard, jsd: x.jsd, topK: k });
    }
  }
  return rows;
}
