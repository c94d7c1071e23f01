// The backend chooser: order, fallback reasons, overrides, idempotence (src/backend/choose.ts).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  BACKEND_NAMES, BackendName, Probe, chooseBackend, currentBackend, formatBackendReport, initBackend, parseBackendName,
} from '../../src/backend/choose';

const fail = (reason: string): Probe => async () => ({ ok: false, reason });
const ok = (detail: string): Probe => async () => ({ ok: true, detail });

test('falls through failing backends to the first that works, recording each reason', async () => {
  const calls: string[] = [];
  const spy = (name: BackendName, p: Probe): Probe => async (forced) => { calls.push(name); return p(forced); };
  const report = await chooseBackend({
    tensorflow: spy('tensorflow', fail('@tensorflow/tfjs-node-gpu not installed')),
    webgpu: spy('webgpu', async () => { throw new Error('dawn exploded\nstack…'); }),
    native: spy('native', fail('native kernels not built')),
    wasm: spy('wasm', ok('SIMD, 1 thread')),
    cpu: spy('cpu', ok('pure JS')),
  });
  assert.deepEqual(calls, ['tensorflow', 'webgpu', 'native', 'wasm'], 'cpu must not be tried once wasm works');
  assert.equal(report.name, 'wasm');
  assert.equal(report.detail, 'SIMD, 1 thread');
  assert.deepEqual(report.skipped, [
    { name: 'tensorflow', reason: '@tensorflow/tfjs-node-gpu not installed' },
    { name: 'webgpu', reason: 'dawn exploded' },
    { name: 'native', reason: 'native kernels not built' },
  ]);
  assert.match(formatBackendReport(report), /^backend: wasm \(SIMD, 1 thread\) — skipped tensorflow: .*; webgpu: dawn exploded; native: /);
});

test('a forced backend is the only one tried, and its failure is an error, not a fallback', async () => {
  const probes = { tensorflow: ok('x'), webgpu: fail('no adapter'), native: ok('x'), wasm: ok('x'), cpu: ok('x') };
  await assert.rejects(chooseBackend(probes, { name: 'webgpu', source: 'MIDTRAIN_BACKEND=webgpu' }),
    /backend webgpu \(MIDTRAIN_BACKEND=webgpu\) could not start: no adapter/);
  const r = await chooseBackend(probes, { name: 'native', source: 'test' });
  assert.equal(r.name, 'native');
  assert.equal(r.skipped.length, BACKEND_NAMES.length - 1);
});

test('the forced probe is told it is forced (webgpu accepts a software adapter only then)', async () => {
  let seen: boolean | undefined;
  const probes = { tensorflow: fail('-'), webgpu: (async (f: boolean) => { seen = f; return { ok: true as const, detail: 'lavapipe' }; }), native: fail('-'), wasm: fail('-'), cpu: fail('-') };
  await chooseBackend(probes, { name: 'webgpu', source: 'test' });
  assert.equal(seen, true);
  await chooseBackend(probes);
  assert.equal(seen, false);
});

test('no working backend at all is an error listing every reason', async () => {
  const probes = Object.fromEntries(BACKEND_NAMES.map((n) => [n, fail(`${n} broken`)])) as Record<BackendName, Probe>;
  await assert.rejects(chooseBackend(probes), /no tfjs backend could start: tensorflow: tensorflow broken; .*cpu: cpu broken/);
});

test('backend names are validated with the source in the message', () => {
  assert.equal(parseBackendName(' WASM ', 'MIDTRAIN_BACKEND'), 'wasm');
  assert.throws(() => parseBackendName('gpu', 'MIDTRAIN_BACKEND'), /MIDTRAIN_BACKEND="gpu" is not a backend; use one of tensorflow, webgpu/);
});

test('initBackend on this machine: picks a working backend, skips only better ones, is idempotent', async () => {
  const saved = process.env.MIDTRAIN_BACKEND;
  delete process.env.MIDTRAIN_BACKEND;
  try {
    const r = await initBackend({ quiet: true });
    assert.ok(BACKEND_NAMES.includes(r.name));
    assert.equal(tf.getBackend(), r.name);
    const rank = (n: BackendName) => BACKEND_NAMES.indexOf(n);
    for (const s of r.skipped) {
      assert.ok(rank(s.name) < rank(r.name), `${s.name} listed as skipped but it ranks below ${r.name}`);
      assert.ok(s.reason.length > 0);
    }
    assert.equal(await initBackend({ quiet: true }), r, 'second call must return the same report');
    assert.equal(currentBackend(), r);
    // A computation actually runs on it.
    assert.deepEqual(Array.from(tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync()), [3, 3, 3, 3]);

    const cpu = await initBackend({ backend: 'cpu', quiet: true });
    assert.equal(cpu.name, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');

    process.env.MIDTRAIN_BACKEND = 'nonsense';
    await assert.rejects(initBackend({ quiet: true }), /MIDTRAIN_BACKEND="nonsense" is not a backend/);
  } finally {
    if (saved === undefined) delete process.env.MIDTRAIN_BACKEND; else process.env.MIDTRAIN_BACKEND = saved;
  }
});
