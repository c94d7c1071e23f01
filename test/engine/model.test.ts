// The GPT as a whole: parameter counts of the paper's shapes, causality, KV-cache equivalence, and a
// finite-difference check of the full model's gradient at micro size.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { MODEL_PRESETS, countParams, validateModelConfig } from '../../src/model/presets';
import { initParams, forward, batchLoss, disposeParams, type Params, type LayerCache } from '../../src/model/gpt';
import { setupBackend, gradCheck, MICRO } from './helpers';

before(setupBackend);

test('parameter counts match Pythia (GPT-NeoX formula, HF published sizes)', () => {
  assert.equal(countParams(MODEL_PRESETS['pythia-70m']), 70_426_624);
  assert.equal(countParams(MODEL_PRESETS['pythia-160m']), 162_322_944);
  assert.equal(countParams(MODEL_PRESETS['pythia-410m']), 405_334_016);
  for (const [name, cfg] of Object.entries(MODEL_PRESETS)) {
    validateModelConfig(cfg, name);
    console.log(`${name}: ${countParams(cfg).toLocaleString('en-US')} parameters`);
  }
  assert.throws(() => validateModelConfig({ ...MICRO, nHeads: 3 }), /model\.nHeads/);
});

function ids(rows: number[][]): tf.Tensor2D {
  return tf.tensor2d(rows, [rows.length, rows[0].length], 'int32');
}

test('causal: logits at position t do not depend on later tokens', () => {
  const p = initParams(MICRO, 1);
  const a = forward(p, MICRO, ids([[1, 2, 3, 4, 5, 6]])).logits.arraySync();
  const b = forward(p, MICRO, ids([[1, 2, 3, 9, 9, 9]])).logits.arraySync();
  for (let t = 0; t < 3; t++) a[t].forEach((v, j) => assert.ok(Math.abs(v - b[t][j]) < 1e-5));
  assert.ok(Math.abs(a[3][0] - b[3][0]) > 1e-6, 'a changed token must change its own logits');
  disposeParams(p);
});

test('KV cache: decoding token by token gives the same logits as one full forward', () => {
  const p = initParams(MICRO, 2);
  const seq = [[5, 1, 7, 7, 2, 30, 11]];
  const full = forward(p, MICRO, ids(seq)).logits.arraySync();
  let cache: LayerCache[] | undefined;
  // prefill 3 tokens, then one at a time
  const chunks = [seq[0].slice(0, 3), ...seq[0].slice(3).map((t) => [t])];
  let pos = 0;
  for (const c of chunks) {
    const r = forward(p, MICRO, ids([c]), { cache });
    const got = r.logits.arraySync();
    got.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - full[pos + i][j]) < 1e-4, `pos ${pos + i}`)));
    pos += c.length;
    cache = r.cache;
  }
  disposeParams(p);
});

test('whole-model gradient matches finite differences for every parameter (micro model)', () => {
  const p: Params = initParams(MICRO, 3);
  const names = Object.keys(p);
  const batch = {
    inputs: Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3]),
    targets: Int32Array.from([1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2]),
    B: 2, T: 8,
  };
  // Bigger weights than init so every path carries signal well above float32 noise.
  const tensors = names.map((n) => tf.mul(p[n], n.endsWith('.b') ? 1 : 8));
  const loss = (...xs: tf.Tensor[]) => {
    const q: Params = {};
    names.forEach((n, i) => (q[n] = xs[i] as tf.Variable));
    return batchLoss(q, MICRO, batch);
  };
  const { rel, pairs } = gradCheck(loss, tensors, 1e-3);
  const worst = pairs.map(([a, n], i) => ({ name: names[i], a, n, err: Math.abs(a - n) / Math.max(0.1, Math.abs(n)) })).sort((x, y) => y.err - x.err)[0];
  assert.ok(rel < 3e-2, `worst ${JSON.stringify(worst)} all ${JSON.stringify(pairs.map((q, i) => [names[i], ...q.map((v) => +v.toFixed(4))]))}`);
  disposeParams(p);
});
