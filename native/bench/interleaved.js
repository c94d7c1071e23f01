#!/usr/bin/env node
// Interleaved tfjs-vs-PyTorch comparison for a loaded machine: A, B, A, B, … rounds of a few training steps
// each, reporting wall and CPU seconds per step (user + sys, all threads) and peak RSS per side. Each side runs
// in a fresh process (peak RSS is per process). `npm run bench` is the single-shot version of this.
//
//   node native/bench/interleaved.js [--config small] [--batch 16] [--backend native] [--steps 2] [--rounds 3]
//   OPENBLAS_CORETYPE=SkylakeX node native/bench/interleaved.js   # PyTorch with OpenBLAS' AVX-512 kernels too
// Needs `npx tsc -p .` (uses dist/) and /usr/bin/python3 with torch.
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..', '..');
const args = { config: 'small', batch: 16, backend: 'native', steps: 2, rounds: 3, child: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i].replace(/^--/, '');
  if (a === 'child') args.child = true;
  else if (a in args) args[a] = typeof args[a] === 'number' ? Number(process.argv[++i]) : process.argv[++i];
  else throw new Error(`interleaved: unknown argument --${a}`);
}

const OPTIM = { lr: 3e-4, minLr: 3e-4, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 };

async function tfjsSide() {
  const { initBackend } = require(path.join(root, 'dist/src/backend/choose'));
  await initBackend({ backend: args.backend, quiet: true });
  const { MODEL_PRESETS } = require(path.join(root, 'dist/src/model/presets'));
  const { pretrain } = require(path.join(root, 'dist/src/train/pretrain'));
  const { Rng } = require(path.join(root, 'dist/src/rng'));
  const model = MODEL_PRESETS[args.config];
  const r = new Rng(3);
  const tokens = Uint16Array.from({ length: 1 << 20 }, () => r.int(model.vocabSize));
  const shard = { path: 'memory:bench', numTokens: tokens.length, read: (s, l) => tokens.subarray(s, s + l) };
  const config = {
    kind: 'pretrain', name: 'bench', preset: 'tiny', model, optim: OPTIM, totalSteps: 1 + args.steps,
    batchSize: args.batch, microBatch: args.batch, mixture: [{ fromFraction: 0, weights: { general: 1 } }],
    evalEvery: 1 << 30, evalTokens: 1, seed: 1,
  };
  let c0, t0;
  for await (const log of pretrain(config, { shards: { general: { train: shard, val: shard } }, skipEval: true })) {
    if (log.step === 1) { c0 = process.cpuUsage(); t0 = performance.now(); }
  }
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ wallPerStep: (performance.now() - t0) / 1000 / args.steps,
    cpuPerStep: (c.user + c.system) / 1e6 / args.steps, peakRssMB: process.resourceUsage().maxRSS / 1024 }));
}

function lastJson(r, who) {
  if (r.status !== 0) throw new Error(`${who} failed: ${(r.stderr || '').trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function main() {
  const { MODEL_PRESETS } = require(path.join(root, 'dist/src/model/presets'));
  const model = MODEL_PRESETS[args.config];
  if (!model) throw new Error(`interleaved: --config ${args.config} is not a preset`);
  const job = JSON.stringify({ model, optim: OPTIM, batch: args.batch, steps: args.steps, warmup: 1, threads: require('os').availableParallelism() });
  const tokens = args.batch * model.contextLength;
  const rows = { tfjs: [], torch: [] };
  const fmt = (x) => `${x.wallPerStep.toFixed(2)} s/step wall (${(tokens / x.wallPerStep).toFixed(0)} tok/s), ${x.cpuPerStep.toFixed(2)} CPU s/step, peak RSS ${x.peakRssMB.toFixed(0)} MB`;
  for (let i = 0; i < args.rounds; i++) {
    const t = lastJson(spawnSync(process.execPath, [__filename, '--child', '--config', args.config, '--batch', String(args.batch), '--backend', args.backend, '--steps', String(args.steps)], { encoding: 'utf8' }), 'tfjs side');
    const pt = lastJson(spawnSync('/usr/bin/python3', [path.join(__dirname, '..', '..', 'bench', 'torch_bench.py'), job], { encoding: 'utf8' }), 'PyTorch side');
    const p = { ...pt, wallPerStep: pt.secondsPerStep };
    rows.tfjs.push(t);
    rows.torch.push(p);
    console.log(`round ${i + 1} (load ${require('os').loadavg()[0].toFixed(1)}): tfjs ${args.backend}: ${fmt(t)} | pytorch (OpenBLAS core ${p.openblasCore}): ${fmt(p)}`);
  }
  const med = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const m = (side, k) => med(rows[side].map((x) => x[k]));
  console.log(`median tokens/s ratio (tfjs/pytorch): wall ${(m('torch', 'wallPerStep') / m('tfjs', 'wallPerStep')).toFixed(2)}, ` +
    `CPU time ${(m('torch', 'cpuPerStep') / m('tfjs', 'cpuPerStep')).toFixed(2)}; peak RSS ratio ${(m('tfjs', 'peakRssMB') / m('torch', 'peakRssMB')).toFixed(2)}`);
}

if (args.child) tfjsSide().catch((e) => { console.error(e.message); process.exit(1); });
else main();
