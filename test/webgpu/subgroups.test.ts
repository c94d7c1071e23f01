// Subgroup reductions (src/backend/webgpu-subgroups.ts): the probe's verdict on layouts the reduction can and
// cannot rely on, the probe on lavapipe (which has subgroups of 8 lanes), the MIDTRAIN_WEBGPU_SUBGROUPS switch,
// and a real training step with either reduction. The kernels' values are checked in fused.test.ts and
// adamw.test.ts in both modes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { lavapipeInfo, releaseWebgpu, tryWebgpuBackend, webgpuErrorCount } from '../../src/backend/webgpu';
import { decideSubgroups, judgeSubgroupProbe, REDUCE_WG, REDUCTIONS, reductionKernel, setSubgroupReductions, subgroupReductions } from '../../src/backend/webgpu-subgroups';
import { batches, train } from './helpers';

const FIELDS = 7;

/**
 * A probe readback as a device would write it, for subgroups of `size` lanes laid out `consecutive`ly
 * (subgroup k = invocations k·n … k·n + n − 1) or `strided` (subgroup k = invocations k, k + 256/n, …):
 * each invocation's size, lane, active lanes, the Σ and max of index over its subgroup's active members, then
 * the workgroup's Σ (as given) and max.
 */
function readback(size: number, layout: 'consecutive' | 'strided', active = size, wgSum = (REDUCE_WG * (REDUCE_WG - 1)) / 2): Float32Array {
  const groups = REDUCE_WG / size;
  const group = (li: number) => (layout === 'consecutive' ? Math.floor(li / size) : li % groups);
  const lane = (li: number) => (layout === 'consecutive' ? li % size : Math.floor(li / groups));
  const o = new Float32Array(REDUCE_WG * FIELDS);
  for (let li = 0; li < REDUCE_WG; li++) {
    const members = Array.from({ length: REDUCE_WG }, (_, j) => j).filter((j) => group(j) === group(li) && lane(j) < active);
    o.set([size, lane(li), active, members.reduce((x, y) => x + y, 0), Math.max(...members), wgSum, REDUCE_WG - 1], li * FIELDS);
  }
  return o;
}

test('the subgroup probe accepts full subgroups of consecutive indices and names what else it sees', () => {
  assert.deepEqual(judgeSubgroupProbe(readback(8, 'consecutive')), { ok: true, size: 8 });
  assert.deepEqual(judgeSubgroupProbe(readback(32, 'consecutive')), { ok: true, size: 32 });
  // Lanes strided across the workgroup: li / n is not the subgroup, so the partials would be misplaced.
  const strided = judgeSubgroupProbe(readback(8, 'strided'));
  assert.ok(!strided.ok && /not consecutive/.test(strided.reason), JSON.stringify(strided));
  // Subgroups not full.
  const partial = judgeSubgroupProbe(readback(8, 'consecutive', 6));
  assert.ok(!partial.ok && /6 active lanes of 8/.test(partial.reason), JSON.stringify(partial));
  // The reduction itself wrong (e.g. partials lost).
  const wrong = judgeSubgroupProbe(readback(8, 'consecutive', 8, 1234));
  assert.ok(!wrong.ok && /workgroup reduction gave 1234/.test(wrong.reason), JSON.stringify(wrong));
  // Sizes the reduction cannot use.
  for (const n of [2, 6, 512]) {
    const r = judgeSubgroupProbe(Float32Array.from({ length: REDUCE_WG * FIELDS }, (_, i) => (i % FIELDS === 0 ? n : 0)));
    assert.ok(!r.ok && /subgroup size/.test(r.reason), `size ${n}: ${JSON.stringify(r)}`);
  }
  // Sizes differing inside the workgroup.
  const mixed = readback(8, 'consecutive');
  mixed[100 * FIELDS] = 16;
  const m = judgeSubgroupProbe(mixed);
  assert.ok(!m.ok && /differ/.test(m.reason), JSON.stringify(m));
});

test('the reduction mode: off when asked, not offered, or the probe fails; not on the null device or a software adapter unless forced', async () => {
  const gpu = { offered: true, nullDevice: false, software: false };
  const passed = { ok: true as const, size: 32 };
  assert.deepEqual(decideSubgroups(gpu, passed), { used: true, available: true, size: 32, why: 'probe passed (subgroup size 32)' });
  assert.deepEqual(decideSubgroups({ ...gpu, mode: '0' }), { used: false, available: false, why: 'off (MIDTRAIN_WEBGPU_SUBGROUPS=0)' });
  assert.deepEqual(decideSubgroups({ ...gpu, offered: false }), { used: false, available: false, why: 'the adapter has no subgroups' });
  assert.match(decideSubgroups({ ...gpu, offered: false, mode: '1' }).refuse ?? '', /^subgroup reductions asked for \(MIDTRAIN_WEBGPU_SUBGROUPS=1\) but the adapter has no subgroups$/);
  const failed = decideSubgroups(gpu, { ok: false, reason: 'invocation 8 is lane 1, not 0: subgroups are not consecutive indices' });
  assert.deepEqual(failed, { used: false, available: false, why: 'probe failed: invocation 8 is lane 1, not 0: subgroups are not consecutive indices' });
  assert.ok(decideSubgroups({ ...gpu, mode: '1' }, { ok: false, reason: 'x' }).refuse);
  // Software adapter: available (tests and profiles switch them on) but not used unless asked for.
  const lvp = decideSubgroups({ ...gpu, software: true }, { ok: true, size: 8 });
  assert.ok(lvp.available && !lvp.used && /off on a software adapter/.test(lvp.why), JSON.stringify(lvp));
  assert.equal(decideSubgroups({ ...gpu, software: true, mode: '1' }, { ok: true, size: 8 }).used, true);
  // Null device: nothing runs, so no probe; forced, the subgroup kernels are compiled and recorded.
  assert.deepEqual(decideSubgroups({ ...gpu, nullDevice: true }), { used: false, available: false, why: 'not probed on the null device (its readbacks are zeros)' });
  assert.deepEqual(decideSubgroups({ ...gpu, nullDevice: true, mode: '1' }), { used: true, available: true, why: 'forced on the null device (not probed: nothing runs)' });
  assert.throws(() => decideSubgroups({ ...gpu, mode: 'yes' }), /MIDTRAIN_WEBGPU_SUBGROUPS must be 0 or 1, got 'yes'/);
  // A bad value is refused before any device starts.
  const prev = process.env.MIDTRAIN_WEBGPU_SUBGROUPS;
  process.env.MIDTRAIN_WEBGPU_SUBGROUPS = 'yes';
  try {
    const bad = await tryWebgpuBackend({ lavapipe: true });
    assert.ok(!bad.ok && bad.reason === "MIDTRAIN_WEBGPU_SUBGROUPS must be 0 or 1, got 'yes'", JSON.stringify(bad));
  } finally {
    if (prev === undefined) delete process.env.MIDTRAIN_WEBGPU_SUBGROUPS;
    else process.env.MIDTRAIN_WEBGPU_SUBGROUPS = prev;
  }
});

const skip = lavapipeInfo() ? false : 'lavapipe not fetched (run kernel-setup/lavapipe.sh)';

test('on lavapipe the probe passes (8 lanes), subgroups stay off by default, and a training step agrees with either reduction', { skip, timeout: 240_000 }, async () => {
  const prev = process.env.MIDTRAIN_WEBGPU_SUBGROUPS;
  delete process.env.MIDTRAIN_WEBGPU_SUBGROUPS;
  try {
    const r = await tryWebgpuBackend({ lavapipe: true });
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.ok(r.adapter.subgroups && !r.adapter.subgroups.used && r.adapter.subgroups.size === 8, JSON.stringify(r.adapter.subgroups));
    assert.match(r.adapter.subgroups.why, /^probe passed \(subgroup size 8\); off on a software adapter/);
    assert.doesNotMatch(reductionKernel('t', REDUCTIONS)[1], /subgroup/);
    const data = batches();
    const withTree = await train(data);
    setSubgroupReductions(true);
    assert.equal(subgroupReductions().used, true);
    assert.match(reductionKernel('t', REDUCTIONS)[1], /^enable subgroups;[^]*subgroupAdd/);
    const withSubgroups = await train(data);
    withSubgroups.losses.forEach((l, i) => assert.ok(Math.abs(l - withTree.losses[i]) <= 1e-5 * Math.abs(withTree.losses[i]), `step ${i + 1}: loss ${l} with subgroups, ${withTree.losses[i]} with the tree`));
    withSubgroups.gradNorms.forEach((g, i) => assert.ok(Math.abs(g - withTree.gradNorms[i]) <= 1e-4 * withTree.gradNorms[i], `step ${i + 1}: grad norm ${g} vs ${withTree.gradNorms[i]}`));
    assert.ok(withTree.losses[3] < withTree.losses[0], `the step must learn: ${withTree.losses}`);
    assert.equal(webgpuErrorCount(), 0, 'Dawn reported WebGPU errors');
  } finally {
    if (prev === undefined) delete process.env.MIDTRAIN_WEBGPU_SUBGROUPS;
    else process.env.MIDTRAIN_WEBGPU_SUBGROUPS = prev;
    releaseWebgpu();
  }
});
