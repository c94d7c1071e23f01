// Statistics against published table values (Student-t tables, standard normal table) and hand-computed cases.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mean, sd, meanCi, studentTQuantile, studentTCdf, normalQuantile, pearson, relativeImprovement } from '../../src/report/stats';

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
