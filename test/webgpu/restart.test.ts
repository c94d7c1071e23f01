// Starting and releasing webgpu several times in one process (a notebook switching backends, a test file with
// several tests). Each start used to create a new Dawn instance, and such a process then crashed inside Dawn
// or hung: this test's sequence on that code failed 5 runs of 5 (SIGSEGV, SIGABRT, or a hang until the
// timeout). Run in a child process, so that a crash fails this test rather than the test runner.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { lavapipeInfo } from '../../src/backend/webgpu';

const skip = lavapipeInfo() ? false : 'lavapipe not fetched (run kernel-setup/lavapipe.sh)';

test('webgpu started and released eight times in one process (lavapipe twice, the null device, and so on): no crash, lavapipe trains each time', { skip, timeout: 240_000 }, () => {
  const webgpu = JSON.stringify(path.join(__dirname, '..', '..', 'src', 'backend', 'webgpu.js'));
  const helpers = JSON.stringify(path.join(__dirname, 'helpers.js'));
  const child = spawnSync(process.execPath, ['-e', `
    const w = require(${webgpu}), h = require(${helpers});
    (async () => {
      for (const kind of ['lavapipe', 'lavapipe', 'null', 'lavapipe', 'null', 'lavapipe', 'lavapipe', 'null']) {
        const r = await w.tryWebgpuBackend(kind === 'null' ? { nullDevice: true } : { lavapipe: true });
        if (!r.ok) throw new Error(kind + ': ' + r.reason);
        if (kind === 'null') console.log('null started');
        else console.log(kind, 'trained, loss', (await h.train(h.batches().slice(0, 1))).losses[0]);
        w.releaseWebgpu();
        await new Promise((res) => setTimeout(res, 200));
      }
      console.log('all done');
    })().catch((e) => { console.error(e); process.exit(2); });
  `], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, MIDTRAIN_WEBGPU_SUBGROUPS: '0' } });
  const out = `${child.stdout}${child.stderr}`.split('\n').filter((l) => !/^Warning: /.test(l)).join('\n');
  assert.equal(child.signal, null, `the process was killed by ${child.signal}:\n${out}`);
  assert.equal(child.status, 0, out);
  assert.match(child.stdout, /all done/);
  // ln 97 ≈ 4.57 for the helpers' GPT at its first step.
  assert.equal((child.stdout.match(/^lavapipe trained, loss 4\.\d/gm) ?? []).length, 5, `five lavapipe runs with a real loss:\n${out}`);
  assert.equal((child.stdout.match(/^null started$/gm) ?? []).length, 3, `three null-device starts:\n${out}`);
});
