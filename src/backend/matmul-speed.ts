// A quick look at how fast the active backend multiplies matrices: the first thing to check on a new
// machine (00-setup shows it). Square n×n float32 matmuls, a warm-up, then the median of `reps` timed runs.
// A sanity check of the setup, not a benchmark: bench/ has the real ones.
import * as tf from '@tensorflow/tfjs';
import { progress } from '../report/display';

export interface MatmulSpeed {
  n: number;
  /** Median wall time of one matmul, including reading the result back (so async backends are counted). */
  ms: number;
  gflops: number;
  /** The fastest timed run: what the backend can do when nothing else wants the cores. */
  bestGflops: number;
}

export async function matmulSpeed(sizes: number[] = [64, 128, 256, 512], reps = 5): Promise<MatmulSpeed[]> {
  const bar = progress(sizes.length, `matmul on ${tf.getBackend()}`);
  const rows: MatmulSpeed[] = [];
  for (const [i, n] of sizes.entries()) {
    const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
    const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
    const once = async () => {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
      return performance.now() - t0;
    };
    await once(); // warm-up: kernel compilation / first allocation
    const times: number[] = [];
    for (let r = 0; r < reps; r++) times.push(await once());
    times.sort((x, y) => x - y);
    const ms = times[Math.floor(times.length / 2)];
    rows.push({ n, ms, gflops: (2 * n ** 3) / (ms * 1e6), bestGflops: (2 * n ** 3) / (times[0] * 1e6) });
    a.dispose();
    b.dispose();
    bar.update(i + 1, { n, 'GFLOP/s': rows[rows.length - 1].gflops });
  }
  bar.done();
  return rows;
}

/**
 * What a reader should take from the measurement, in words: where the median falls well below the fastest
 * run, other processes were on the cores (timing noise, not the backend); where the fastest run itself
 * dips below a smaller size, the backend is slower at that size (a real effect this check does not explain).
 */
export function describeMatmulSpeed(rows: MatmulSpeed[]): string {
  const noisy = rows.filter((r) => r.gflops < 0.7 * r.bestGflops);
  const dips = rows.filter((r, i) => i > 0 && r.bestGflops < 0.8 * Math.max(...rows.slice(0, i).map((p) => p.bestGflops)));
  const at = (rs: MatmulSpeed[]) => rs.map((r) => `n = ${r.n}`).join(', ');
  const parts = ['Higher is better; solid: median run, dotted: fastest run.'];
  parts.push(noisy.length
    ? `${at(noisy)}: median under 70% of the fastest, so other processes were on the cores (timing noise, not the backend).`
    : 'Median within 30% of the fastest everywhere: no sign of other processes on the cores.');
  if (dips.length) parts.push(`${at(dips)}: even the fastest run is slower than at a smaller size, a real slowdown this check does not explain.`);
  return parts.join(' ');
}
