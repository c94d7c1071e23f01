// Numerical parity with the PyTorch reference (test/reference/gpt_ref.py): same weights and batch in,
// logits, loss and every gradient out within float32 tolerance, then three AdamW steps (torch's own
// AdamW and clip_grad_norm_) against ours. Skips with a reason when /usr/bin/python3 has no torch.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { initParams, paramsToArrays, forward, batchLoss, disposeParams } from '../../src/model/gpt';
import { AdamW, clipByGlobalNorm, lrAt } from '../../src/train/optim';
import { projectRoot } from '../../src/config';
import type { ModelConfig } from '../../src/runs/types';
import { setupBackend } from './helpers';
import { OPTIM } from './fixtures';
import { Rng } from '../../src/rng';

const PY = '/usr/bin/python3';
const torchMissing = (() => {
  const r = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0 ? false : `PyTorch not importable by ${PY} (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`;
})();

before(setupBackend);

/** Slightly wider than MICRO so attention has several heads and rotary covers part of each head. */
const CFG: ModelConfig = { vocabSize: 64, dModel: 32, nLayers: 2, nHeads: 4, contextLength: 16, rotaryPct: 0.25, rotaryBase: 10000, mlpRatio: 4, layerNormEps: 1e-5 };

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-12);
}

test('parity with PyTorch: logits, loss, gradients and three AdamW steps', { skip: torchMissing }, () => {
  const p = initParams(CFG, 123);
  // Non-trivial norms and biases so their gradients are exercised too.
  const r = new Rng(5);
  for (const [n, v] of Object.entries(p)) if (n.endsWith('.b') || n.includes('ln')) v.assign(tf.tidy(() => tf.add(v, tf.tensor(Array.from({ length: v.size }, () => 0.1 * r.normal()), v.shape))));
  const B = 3, T = 16;
  const inputs = Int32Array.from({ length: B * T }, () => r.int(CFG.vocabSize));
  const targets = Int32Array.from({ length: B * T }, () => r.int(CFG.vocabSize));
  const optim = { ...OPTIM, lr: 1e-2, gradClip: 0.5 };
  const lrs = [0, 1, 2].map((s) => lrAt(s, 10, optim));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-parity-'));
  const inFile = path.join(dir, 'in.json'), outFile = path.join(dir, 'out.json');
  const arrays = paramsToArrays(p);
  fs.writeFileSync(inFile, JSON.stringify({
    model: CFG, optim, B, T, inputs: Array.from(inputs), targets: Array.from(targets), lrs,
    params: Object.fromEntries(Object.entries(arrays).map(([k, a]) => [k, Array.from(a)])),
  }));
  const run = spawnSync(PY, [path.join(projectRoot(), 'test/reference/gpt_ref.py'), 'parity', inFile, outFile], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.equal(run.status, 0, run.stderr);
  const ref = JSON.parse(fs.readFileSync(outFile, 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });

  const batch = { inputs, targets, B, T };
  const logits = tf.tidy(() => forward(p, CFG, tf.tensor2d(inputs, [B, T], 'int32')).logits.dataSync());
  assert.ok(maxRelErr(logits, ref.logits) < 1e-5, `logits rel err ${maxRelErr(logits, ref.logits)}`);
  const names = Object.keys(p);
  const { value, grads } = tf.variableGrads(() => batchLoss(p, CFG, batch), names.map((n) => p[n]));
  assert.ok(Math.abs(value.dataSync()[0] - ref.loss) < 1e-5, `loss ${value.dataSync()[0]} vs ${ref.loss}`);
  for (const n of names) {
    const g = grads[p[n].name].dataSync();
    assert.ok(maxRelErr(g, ref.grads[n]) < 1e-4, `grad ${n}: rel err ${maxRelErr(g, ref.grads[n])}`);
  }
  value.dispose();
  Object.values(grads).forEach((g) => g.dispose());

  const opt = new AdamW(p, optim);
  const losses: number[] = [];
  for (const lr of lrs) {
    const { value: v, grads: gs } = tf.variableGrads(() => batchLoss(p, CFG, batch), names.map((n) => p[n]));
    losses.push(v.dataSync()[0]);
    v.dispose();
    const byName = Object.fromEntries(names.map((n) => [n, gs[p[n].name]]));
    const c = clipByGlobalNorm(byName, optim.gradClip);
    opt.step(c.grads, lr);
    Object.values(c.grads).forEach((g) => g.dispose());
  }
  losses.forEach((l, i) => assert.ok(Math.abs(l - ref.stepLosses[i]) < 1e-4, `step ${i} loss ${l} vs ${ref.stepLosses[i]}`));
  const after = paramsToArrays(p);
  // Adam moves each weight by at most ~lr per step (m/√v ≈ ±1), and for weights whose gradient is at float32
  // noise level that sign is noise in both implementations; so compare against the largest possible move.
  const maxMove = lrs.reduce((a, b) => a + b, 0);
  for (const n of names) {
    let diff = 0;
    after[n].forEach((v, i) => (diff = Math.max(diff, Math.abs(v - ref.paramsAfter[n][i]))));
    assert.ok(diff < 1e-3 * maxMove, `${n} after 3 AdamW steps: max |Δ| ${diff} vs 0.1% of Σlr = ${1e-3 * maxMove}`);
  }
  opt.dispose();
  disposeParams(p);
});
