// Statistics for the report layer: means with Student-t 95% confidence intervals over seeds,
// Pearson correlation with a Fisher-z interval, and the paper's relative improvement.
// Wilson intervals for accuracy, Spearman, cluster bootstrap for correlations, nested-seed intervals.
// Written from the textbook definitions (no stats package: one small, tested file beats a dependency).

import { Rng } from '../rng';

/** Arithmetic mean; NaN for an empty sample. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1 denominator); NaN when n < 2. */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (xs.length - 1));
}

/** log Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; ~15 significant digits). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x); // reflection
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction for the incomplete beta function (modified Lentz; Numerical Recipes' betacf). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d; h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d; if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

/** CDF of Student's t with `df` degrees of freedom (df may be fractional). */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new Error(`studentTCdf: degrees of freedom must be > 0, got ${df}`);
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** Quantile of Student's t: the t with P(T ≤ t) = p. E.g. studentTQuantile(0.975, 2) ≈ 4.303. */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`studentTQuantile: p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new Error(`studentTQuantile: degrees of freedom must be > 0, got ${df}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  // Bracket then bisect: the CDF is monotone, and 200 halvings reach double precision for any df.
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-13 * Math.max(1, hi); i++) {
    const mid = 0.5 * (lo + hi);
    if (studentTCdf(mid, df) < p) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - pLow) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** Mean with a two-sided confidence interval over seeds. halfWidth is NaN when n < 2 (no spread to estimate). */
export interface MeanCi {
  n: number;
  mean: number;
  sd: number;
  halfWidth: number;
  lo: number;
  hi: number;
}

/** mean ± t(1 − α/2, n − 1) · sd / √n, the usual small-sample interval for a mean over seeds. */
export function meanCi(xs: readonly number[], level = 0.95): MeanCi {
  const finite = xs.filter((x) => Number.isFinite(x));
  const n = finite.length;
  const m = mean(finite);
  const s = sd(finite);
  const halfWidth = n >= 2 ? studentTQuantile(1 - (1 - level) / 2, n - 1) * (s / Math.sqrt(n)) : NaN;
  return { n, mean: m, sd: s, halfWidth, lo: m - halfWidth, hi: m + halfWidth };
}

/** Pearson correlation with a Fisher-z confidence interval (NaN interval when n < 4). */
export interface Correlation {
  n: number;
  r: number;
  lo: number;
  hi: number;
}

export function pearson(xs: readonly number[], ys: readonly number[], level = 0.95): Correlation {
  if (xs.length !== ys.length) throw new Error(`pearson: x and y differ in length (${xs.length} vs ${ys.length})`);
  const pairs = xs.map((x, i) => [x, ys[i]]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const n = pairs.length;
  if (n < 2) return { n, r: NaN, lo: NaN, hi: NaN };
  const mx = mean(pairs.map((p) => p[0]));
  const my = mean(pairs.map((p) => p[1]));
  let sxy = 0, sxx = 0, syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) * (x - mx);
    syy += (y - my) * (y - my);
  }
  const r = sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
  if (n < 4 || !Number.isFinite(r)) return { n, r, lo: NaN, hi: NaN };
  // z = atanh(r) is approximately normal with sd 1/√(n − 3).
  const z = Math.atanh(Math.max(-0.999999999999, Math.min(0.999999999999, r)));
  const half = normalQuantile(1 - (1 - level) / 2) / Math.sqrt(n - 3);
  return { n, r, lo: Math.tanh(z - half), hi: Math.tanh(z + half) };
}

/** The paper's relative improvement over the baseline: (L_baseline − L_mid) / L_baseline (positive = better). */
export function relativeImprovement(baselineLoss: number, loss: number): number {
  return (baselineLoss - loss) / baselineLoss;
}

/** A binomial proportion with its Wilson score interval. */
export interface Proportion {
  correct: number;
  n: number;
  p: number;
  lo: number;
  hi: number;
}

/**
 * Wilson score interval for `correct` successes in `n` trials (Wilson 1927): well behaved at 0 and n,
 * where the normal (Wald) interval collapses to a point. E.g. 0 of 10 → [0, 0.2775]; 5 of 10 → [0.2366, 0.7634].
 */
export function wilson(correct: number, n: number, level = 0.95): Proportion {
  if (!(n >= 0) || !(correct >= 0) || correct > n) throw new Error(`wilson: expected 0 ≤ correct ≤ n, got ${correct} of ${n}`);
  if (n === 0) return { correct, n, p: NaN, lo: NaN, hi: NaN };
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = correct / n;
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n));
  return { correct, n, p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/** Ranks from 1, ties given their average rank (as Spearman's rho needs). */
export function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) out[order[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

/** Spearman's rank correlation: Pearson r of the ranks (ties averaged). */
export function spearman(xs: readonly number[], ys: readonly number[]): number {
  if (xs.length !== ys.length) throw new Error(`spearman: x and y differ in length (${xs.length} vs ${ys.length})`);
  const keep = xs.map((x, i) => Number.isFinite(x) && Number.isFinite(ys[i]));
  return pearson(ranks(xs.filter((_, i) => keep[i])), ranks(ys.filter((_, i) => keep[i]))).r;
}

/** A correlation whose interval resamples whole clusters (points that share a mixture are not independent). */
export interface ClusterCorrelation {
  /** Points and clusters (e.g. 20 mixture × task cells over 5 mixtures). */
  n: number;
  clusters: number;
  pearson: { r: number; lo: number; hi: number };
  spearman: { r: number; lo: number; hi: number };
  /** Bootstrap resamples behind the percentile intervals (those where r was defined). */
  resamples: number;
  level: number;
}

/**
 * Pearson and Spearman correlation with percentile-bootstrap intervals that resample clusters, not points:
 * each resample draws as many clusters as there are, with replacement, and keeps all points of each. With
 * few clusters the interval is wide — which is the honest answer when 20 points come from 5 mixtures.
 * Seeded, so a report re-renders to the same interval.
 */
export function clusterBootstrapCorrelation(xs: readonly number[], ys: readonly number[], clusters: readonly string[], opts: { resamples?: number; seed?: number; level?: number } = {}): ClusterCorrelation {
  if (xs.length !== ys.length || xs.length !== clusters.length) throw new Error(`clusterBootstrapCorrelation: x, y and clusters differ in length (${xs.length}, ${ys.length}, ${clusters.length})`);
  const level = opts.level ?? 0.95;
  const B = opts.resamples ?? 2000;
  const idx = xs.map((_, i) => i).filter((i) => Number.isFinite(xs[i]) && Number.isFinite(ys[i]));
  const groups = new Map<string, number[]>();
  for (const i of idx) {
    if (!groups.has(clusters[i])) groups.set(clusters[i], []);
    groups.get(clusters[i])!.push(i);
  }
  const members = [...groups.values()];
  const pick = (is: number[]) => [is.map((i) => xs[i]), is.map((i) => ys[i])] as const;
  const [x0, y0] = pick(idx);
  const rP = pearson(x0, y0).r;
  const rS = spearman(x0, y0);
  const bootP: number[] = [];
  const bootS: number[] = [];
  if (members.length >= 3) {
    const rng = new Rng(opts.seed ?? 0x5eed);
    for (let b = 0; b < B; b++) {
      const is: number[] = [];
      for (let k = 0; k < members.length; k++) is.push(...members[rng.int(members.length)]);
      const [x, y] = pick(is);
      const p = pearson(x, y).r;
      const s = spearman(x, y);
      if (Number.isFinite(p)) bootP.push(p);
      if (Number.isFinite(s)) bootS.push(s);
    }
  }
  const interval = (rs: number[]) => rs.length >= B / 2 ? [quantile(rs, (1 - level) / 2), quantile(rs, 1 - (1 - level) / 2)] : [NaN, NaN];
  const [pLo, pHi] = interval(bootP);
  const [sLo, sHi] = interval(bootS);
  return { n: idx.length, clusters: members.length, pearson: { r: rP, lo: pLo, hi: pHi }, spearman: { r: rS, lo: sLo, hi: sHi }, resamples: bootP.length, level };
}

/** The q-quantile of a sample (linear interpolation between order statistics, R's type 7). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo] + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)]) - s[lo]);
}

/** A mean over seeds that says which seeds it is over (the unit of its interval). */
export interface SeedCi extends MeanCi {
  /** "pretraining": t over pretraining seeds, each the mean of its SFT seeds; "sft": t over SFT seeds of one pretrained model. */
  unit: 'pretraining' | 'sft';
  pretrainSeeds: number;
  /** SFT seeds per pretraining seed (the smallest count when they differ). */
  sftSeeds: number;
}

/**
 * Mean ± 95% t-interval over seeds of a two-level design: SFT seeds nested in pretraining seeds. SFT seeds
 * of one pretrained model share it, so they are not independent draws of "a pretrained and fine-tuned
 * model": with ≥ 2 pretraining seeds the unit is the pretraining seed (its SFT seeds averaged first, the
 * classic test of a nested design's top level, df = pretraining seeds − 1); with one, the interval is over
 * SFT seeds and covers only SFT data order and sampling — the caption says which.
 */
export function seedCi(values: readonly { pretrainSeed: number; sftSeed: number; value: number }[], level = 0.95): SeedCi {
  const byPre = new Map<number, number[]>();
  for (const v of values) {
    if (!Number.isFinite(v.value)) continue;
    if (!byPre.has(v.pretrainSeed)) byPre.set(v.pretrainSeed, []);
    byPre.get(v.pretrainSeed)!.push(v.value);
  }
  const groups = [...byPre.values()];
  const sftSeeds = groups.length ? Math.min(...groups.map((g) => g.length)) : 0;
  if (groups.length >= 2) return { ...meanCi(groups.map((g) => mean(g)), level), unit: 'pretraining', pretrainSeeds: groups.length, sftSeeds };
  return { ...meanCi(groups[0] ?? [], level), unit: 'sft', pretrainSeeds: groups.length, sftSeeds };
}

/** What a SeedCi's interval covers, in words for a caption or a table cell. */
export function seedCoverage(c: Pick<SeedCi, 'unit' | 'pretrainSeeds' | 'sftSeeds' | 'n'>): string {
  if (c.n === 0) return 'no finished runs';
  if (c.unit === 'pretraining') return `95% t-interval over ${c.pretrainSeeds} pretraining seeds (each the mean of ${c.sftSeeds} SFT seeds)`;
  return c.n >= 2 ? `95% t-interval over ${c.n} SFT seeds of one pretrained model (covers SFT data order, not pretraining)` : 'one seed: no interval';
}
