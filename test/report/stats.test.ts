// Statistics against published table values (Student-t tables, standard normal table) and hand-computed cases.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mean, sd, meanCi, studentTQuantile, studentTCdf, normalQuantile, pearson, relativeImprovement, wilson, ranks, spearman, clusterBootstrapCorrelation, seedCi, seedCoverage } from '../../src/report/stats';
import { Rng } from '../../src/rng';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: got ${a}, expected ${b} ± ${tol}`);

test('Student-t quantiles match the table', () => {
  close(studentTQuantile(0.975, 1), 12.7062, 1e-4, 't(0.975, 1)');
  close(studentTQuantile(0.975, 2), 4.3027, 1e-4, 't(0.975, 2)');
  close(studentTQuantile(0.975, 4), 2.7764, 1e-4, 't(0.975, 4)');
  close(studentTQuantile(0.975, 10), 2.2281, 1e-4, 't(0.975, 10)');
  close(studentTQuantile(0.95, 5), 2.0150, 1e-4, 't(0.95, 5)');
  close(studentTQuantile(0.995, 30), 2.7500, 1e-4, 't(0.995, 30)');
  close(studentTQuantile(0.025, 4), -2.7764, 1e-4, 't(0.025, 4)');
  close(studentTCdf(0, 3), 0.5, 1e-12, 'cdf(0)');
  assert.throws(() => studentTQuantile(1, 3), /p must be in \(0, 1\)/);
});

test('normal quantile', () => {
  close(normalQuantile(0.975), 1.959964, 1e-6, 'z(0.975)');
  close(normalQuantile(0.5), 0, 1e-9, 'z(0.5)');
  close(normalQuantile(0.001), -3.090232, 1e-6, 'z(0.001)');
});

test('mean, sd and the 95% CI over seeds', () => {
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  close(sd([2, 4, 4, 4, 5, 5, 7, 9]), 2.13809, 1e-5, 'sd');
  const ci = meanCi([1, 2, 3]); // mean 2, sd 1, t(0.975,2)=4.3027 → half 4.3027/√3
  assert.equal(ci.n, 3);
  close(ci.halfWidth, 4.302653 / Math.sqrt(3), 1e-5, 'half width');
  close(ci.lo, 2 - 2.48414, 1e-4, 'lo');
  const one = meanCi([5]);
  assert.equal(one.mean, 5);
  assert.ok(Number.isNaN(one.halfWidth), 'one seed has no interval');
  assert.equal(meanCi([1, NaN, 3]).n, 2, 'non-finite values are dropped');
});

test('Pearson r with a Fisher-z interval', () => {
  const c = pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]);
  close(c.r, 0.7745967, 1e-6, 'r');
  // z = atanh(0.7746) = 1.0317, se = 1/√2 → [tanh(1.0317 − 1.3859), tanh(1.0317 + 1.3859)]
  close(c.lo, Math.tanh(Math.atanh(0.7745967) - 1.959964 / Math.sqrt(2)), 1e-5, 'lo');
  close(c.hi, 0.98417, 1e-4, 'hi');
  assert.equal(pearson([1, 2, 3], [3, 2, 1]).r, -1);
  assert.ok(Number.isNaN(pearson([1, 2, 3], [3, 2, 1]).lo), 'n < 4 has no interval');
  assert.throws(() => pearson([1], [1, 2]), /differ in length/);
});

test('relative improvement is the paper’s (L_base − L_mid) / L_base', () => {
  // Paper, 410M Pycode: C4-only 2.264 vs Starcoder mix 2.091 → 7.6%.
  close(relativeImprovement(2.264, 2.091), 0.07641, 1e-4, 'pycode');
  assert.ok(relativeImprovement(1, 1.1) < 0);
});

test('Wilson interval matches published values (R binom.confint, method "wilson")', () => {
  const w0 = wilson(0, 10);
  close(w0.lo, 0, 1e-12, '0/10 lo');
  close(w0.hi, 0.2775328, 1e-6, '0/10 hi');
  const w5 = wilson(5, 10);
  close(w5.lo, 0.2365931, 1e-6, '5/10 lo');
  close(w5.hi, 0.7634069, 1e-6, '5/10 hi');
  close(wilson(10, 10).lo, 0.7224672, 1e-6, '10/10 lo');
  close(wilson(81, 263).lo, 0.2553, 1e-4, '81/263 lo'); // Newcombe (1998), Table I
  assert.ok(Number.isNaN(wilson(0, 0).p), 'no examples: no estimate');
  assert.throws(() => wilson(3, 2), /0 ≤ correct ≤ n/);
});

test('Wilson covers the true accuracy ~95% of the time at a 25% chance level (200 examples)', () => {
  const rng = new Rng(7);
  let covered = 0;
  const sims = 2000;
  for (let s = 0; s < sims; s++) {
    let k = 0;
    for (let i = 0; i < 200; i++) if (rng.next() < 0.25) k++;
    const w = wilson(k, 200);
    if (w.lo <= 0.25 && 0.25 <= w.hi) covered++;
  }
  close(covered / sims, 0.95, 0.015, 'coverage');
});

test('Spearman is Pearson on average ranks: 1 for any monotone relation', () => {
  assert.deepEqual(ranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4]);
  const x = [1, 2, 3, 4, 5, 6];
  close(spearman(x, x.map((v) => v ** 5)), 1, 1e-12, 'monotone');
  assert.ok(pearson(x, x.map((v) => v ** 5)).r < 0.95, 'Pearson is below 1 there');
  // x 1..5, y [5, 6, 7, 8, 7]: ranks of y [1, 2, 3.5, 5, 3.5] → rho = 0.8208 (hand-computed)
  close(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), 0.820783, 1e-5, 'ties');
});

/** 5 clusters (mixtures) × 4 points (tasks): x has a cluster part and a point part; y = slope·x + noise. */
function clustered(rng: Rng, slope: number) {
  const xs: number[] = [], ys: number[] = [], cs: string[] = [];
  for (let c = 0; c < 5; c++) {
    const cx = rng.normal();
    for (let t = 0; t < 4; t++) {
      const x = cx + 0.5 * rng.normal();
      xs.push(x); ys.push(slope * x + 0.5 * rng.normal()); cs.push(`m${c}`);
    }
  }
  return { xs, ys, cs };
}

test('cluster bootstrap: a planted correlation is found, a shuffled one is not (resampling unit = cluster)', () => {
  const rng = new Rng(11);
  const planted = clustered(rng, 1.5);
  const c = clusterBootstrapCorrelation(planted.xs, planted.ys, planted.cs, { resamples: 500 });
  assert.equal(c.clusters, 5);
  assert.equal(c.n, 20);
  assert.ok(c.pearson.lo > 0 && c.spearman.lo > 0, `planted: ${JSON.stringify(c)}`);
  assert.ok(c.pearson.lo <= c.pearson.r && c.pearson.r <= c.pearson.hi);
  let excluded = 0;
  const sims = 100;
  for (let s = 0; s < sims; s++) {
    const d = clustered(rng, 0);
    const shuffled = new Rng(s).shuffle([...d.ys]);
    const r = clusterBootstrapCorrelation(d.xs, shuffled, d.cs, { resamples: 200, seed: s });
    if (r.pearson.lo > 0 || r.pearson.hi < 0) excluded++;
  }
  // Percentile bootstrap over 5 clusters is somewhat anti-conservative; still near the nominal 5%.
  assert.ok(excluded <= 15, `shuffled: interval excluded zero in ${excluded} of ${sims}`);
  assert.ok(Number.isNaN(clusterBootstrapCorrelation([1, 2, 3, 4], [1, 2, 3, 4], ['a', 'a', 'b', 'b']).pearson.lo), 'two clusters: no interval');
});

test('null differences are inconclusive at the nominal rate; a planted one is found', () => {
  const rng = new Rng(3);
  let excluded = 0;
  const sims = 2000;
  for (let s = 0; s < sims; s++) {
    const c = meanCi(Array.from({ length: 5 }, () => rng.normal()));
    if (c.lo > 0 || c.hi < 0) excluded++;
  }
  close(excluded / sims, 0.05, 0.015, 'null rate');
  const planted = meanCi(Array.from({ length: 5 }, () => 2 + 0.3 * rng.normal()));
  assert.ok(planted.lo > 0, 'a difference of 2 with noise 0.3 is found');
});

test('nested seeds: the interval is over pretraining seeds, and it covers where the naive one does not', () => {
  const c = seedCi([
    { pretrainSeed: 0, sftSeed: 0, value: 1 }, { pretrainSeed: 0, sftSeed: 1, value: 3 },
    { pretrainSeed: 1, sftSeed: 0, value: 4 }, { pretrainSeed: 1, sftSeed: 1, value: 4 },
    { pretrainSeed: 2, sftSeed: 0, value: 6 }, { pretrainSeed: 2, sftSeed: 1, value: 6 },
  ]);
  assert.equal(c.unit, 'pretraining');
  assert.equal(c.n, 3);
  assert.equal(c.sftSeeds, 2);
  close(c.mean, 4, 1e-12, 'mean of pretraining-seed means (2, 4, 6)');
  close(c.halfWidth, 4.302653 * 2 / Math.sqrt(3), 1e-5, 'sd 2 over 3 units');
  assert.match(seedCoverage(c), /over 3 pretraining seeds \(each the mean of 2 SFT seeds\)/);
  const one = seedCi([0, 1, 2].map((s) => ({ pretrainSeed: 0, sftSeed: s, value: s })));
  assert.equal(one.unit, 'sft');
  assert.match(seedCoverage(one), /3 SFT seeds of one pretrained model/);
  // A pretraining effect (sd 1) dominates SFT noise (sd 0.3): 3 × 5 seeds around a true mean 0.
  const rng = new Rng(5);
  let nested = 0, naive = 0;
  const sims = 1000;
  for (let s = 0; s < sims; s++) {
    const vs: { pretrainSeed: number; sftSeed: number; value: number }[] = [];
    for (let p = 0; p < 3; p++) { const u = rng.normal(); for (let q = 0; q < 5; q++) vs.push({ pretrainSeed: p, sftSeed: q, value: u + 0.3 * rng.normal() }); }
    const a = seedCi(vs);
    const b = meanCi(vs.map((v) => v.value));
    if (a.lo <= 0 && 0 <= a.hi) nested++;
    if (b.lo <= 0 && 0 <= b.hi) naive++;
  }
  close(nested / sims, 0.95, 0.02, 'nested coverage');
  assert.ok(naive / sims < 0.75, `treating 15 nested seeds as independent covers only ${naive / sims}`);
});

test('points that share a cluster: the cluster bootstrap keeps false positives near nominal, Fisher z does not', () => {
  // x and y each have an independent per-cluster level (true correlation 0) shared by the cluster's 4 points:
  // 20 points carry about 5 points' worth of evidence.
  const rng = new Rng(13);
  let cluster = 0, fisher = 0;
  const sims = 100;
  for (let s = 0; s < sims; s++) {
    const xs: number[] = [], ys: number[] = [], cs: string[] = [];
    for (let c = 0; c < 5; c++) {
      const cx = rng.normal(), cy = rng.normal();
      for (let t = 0; t < 4; t++) { xs.push(cx + 0.3 * rng.normal()); ys.push(cy + 0.3 * rng.normal()); cs.push(`m${c}`); }
    }
    const b = clusterBootstrapCorrelation(xs, ys, cs, { resamples: 200, seed: s });
    if (b.pearson.lo > 0 || b.pearson.hi < 0) cluster++;
    const f = pearson(xs, ys);
    if (f.lo > 0 || f.hi < 0) fisher++;
  }
  assert.ok(cluster <= 18, `cluster bootstrap excluded zero in ${cluster} of ${sims}`);
  assert.ok(fisher >= 25, `Fisher z (20 independent points) excluded zero in ${fisher} of ${sims}`);
});
