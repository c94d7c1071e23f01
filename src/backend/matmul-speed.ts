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
    rows.push({ n, ms, gflops: (2 * n ** 3) / (ms * 1e6) });
    a.dispose();
    b.dispose();
    bar.update(i + 1, { n, 'GFLOP/s': rows[rows.length - 1].gflops });
  }
  bar.done();
  return rows;
}
