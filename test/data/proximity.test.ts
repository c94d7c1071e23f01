// The paper's proximity on hand-computed cases.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cosine, jaccard, jsd, proximity, topK } from '../../src/data/proximity';

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) < eps, `${a} ≠ ${b}`);

test('identical distributions: cosine 1, Jaccard 1, JSD 0 → sim 1, dist 0', () => {
  const p = [3, 1, 0, 4];
  const r = proximity(p, p, { topK: 2 });
  close(r.cosine, 1); close(r.jaccard, 1); close(r.jsd, 0); close(r.sim, 1); close(r.dist, 0);
});

test('disjoint supports: cosine 0, Jaccard 0, JSD 1 (base 2) → sim 0.15', () => {
  const r = proximity([1, 1, 0, 0], [0, 0, 1, 1], { topK: 2 });
  close(r.cosine, 0); close(r.jaccard, 0); close(r.jsd, 1);
  close(r.sim, 0.3 * 0.5); close(r.dist, 0.85);
});

test('a hand-computed mixed case', () => {
  // P = (1/2, 1/2, 0), Q = (1/2, 0, 1/2); M = (1/2, 1/4, 1/4).
  // KL(P||M) = 1/2·log2(1) + 1/2·log2(2) = 1/2; same for Q → JSD = 1/2.
  // cosine = (1/4) / (√(1/2)·√(1/2)) = 1/2. top-2: {0,1} vs {0,2} → Jaccard 1/3.
  const r = proximity([1, 1, 0], [2, 0, 2], { topK: 2 });
  close(r.jsd, 0.5); close(r.cosine, 0.5); close(r.jaccard, 1 / 3);
  close(r.sim, 0.4 * 0.5 + 0.3 / 3 + 0.3 / 1.5);
});

test('counts and probabilities give the same answer; top-k ties break toward the smaller id', () => {
  const a = proximity([2, 4, 6, 0], [1, 1, 1, 1], { topK: 3 });
  const b = proximity([1 / 6, 2 / 6, 3 / 6, 0], [0.25, 0.25, 0.25, 0.25], { topK: 3 });
  close(a.sim, b.sim);
  assert.deepEqual([...topK([1, 1, 1, 1], 3)], [0, 1, 2]);
  close(jaccard(new Set([1, 2]), new Set([2, 3])), 1 / 3);
  close(cosine([1, 0], [1, 1]), 1 / Math.SQRT2);
  close(jsd([1, 0], [0.5, 0.5]), 0.5 * Math.log2(4 / 3) + 0.25 * Math.log2(2 / 3) + 0.25 * Math.log2(2));
});

test('bad input is refused with a clear error', () => {
  assert.throws(() => proximity([1, 2], [1, 2, 3], { topK: 1 }), /different lengths/);
  assert.throws(() => proximity([0, 0], [1, 2], { topK: 1 }), /empty distribution/);
});
