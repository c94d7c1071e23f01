// --jobs auto: how many workers a study runs, from the machine's cores and memory or the GPU's memory.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { chooseJobs, runMemory, workerBackend } from '../../src/experiments/jobs';
import { scaleFor } from '../../src/experiments/scale';
import { countParams } from '../../src/model/presets';

const GB = 1e9;
const small = scaleFor('small');
const smallRun = runMemory(small.model, Math.max(small.pretrain.microBatch, small.sft.batchSize));

test('run memory: 16 bytes a parameter plus activations that grow with the micro-batch', () => {
  const P = countParams(small.model);
  assert.equal(runMemory(small.model, 0).device, Math.ceil(1.5 * 16 * P));
  assert.ok(runMemory(small.model, 16).device > runMemory(small.model, 8).device);
  // The small preset's CPU workers measured ~1.1 GB RSS each while the study ran: the estimate is that size.
  assert.ok(smallRun.host > 0.7 * GB && smallRun.host < 2 * GB, `small run host estimate ${smallRun.host}`);
});

test('CPU: one worker per core while memory holds them, fewer when it does not', () => {
  assert.deepEqual(chooseJobs({ cpus: 2, hostMemoryBytes: 24 * GB, run: smallRun }).jobs, 2);
  const tight = chooseJobs({ cpus: 64, hostMemoryBytes: 8 * GB, run: smallRun });
  assert.equal(tight.jobs, Math.floor(0.8 * 8 * GB / smallRun.host));
  assert.match(tight.why, /memory holds/);
  assert.equal(chooseJobs({ cpus: 4, hostMemoryBytes: 0.5 * GB, run: smallRun }).jobs, 1, 'never fewer than one');
});

test('GPU: as many as 80% of its memory holds, at most one per core; unknown memory caps at 4', () => {
  const h200 = { name: 'H200', memoryBytes: 141 * 1024 ** 3 };
  const s = chooseJobs({ cpus: 16, hostMemoryBytes: 128 * GB, run: smallRun, gpu: h200 });
  assert.equal(s.jobs, 16);
  assert.match(s.why, /one per core \(16\); the GPU's .* would hold \d+/);
  const p70 = scaleFor('pythia-70m');
  const big = runMemory(p70.model, p70.pretrain.microBatch);
  const b = chooseJobs({ cpus: 16, hostMemoryBytes: 1024 * GB, run: big, gpu: h200 });
  assert.equal(b.jobs, Math.max(1, Math.floor(0.8 * h200.memoryBytes / big.device)));
  assert.match(b.why, /80% of its/);
  const unknown = chooseJobs({ cpus: 16, hostMemoryBytes: 128 * GB, run: smallRun, gpu: { name: 'some adapter' } });
  assert.equal(unknown.jobs, 4);
  assert.match(unknown.why, /unknown .* pass --jobs N/);
});

test('the workers\' backend is asked of a worker process, with this process\'s environment', () => {
  const previous = process.env.MIDTRAIN_BACKEND;
  process.env.MIDTRAIN_BACKEND = 'cpu';
  try {
    const b = workerBackend();
    assert.equal(b.name, 'cpu');
    assert.equal(typeof b.detail, 'string');
  } finally {
    if (previous === undefined) delete process.env.MIDTRAIN_BACKEND; else process.env.MIDTRAIN_BACKEND = previous;
  }
});
