// Crash consistency in CI: 10 SIGKILLs (5 inside durable writes via the writer's test hook, 5 at random
// moments), resuming each time; the final weights and Adam moments must equal an uninterrupted run's bit
// for bit. The full count (30 kills) runs as a script: node dist/test/engine/crash.js 30 (see crash.ts).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { crashAndResume, describeReport } from './crash';

const CI_KILLS = 10;

test(`SIGKILL a run ${CI_KILLS} times (half inside writes), resuming each time: final weights bit-identical`, { timeout: 600_000 }, async () => {
  process.env.MIDTRAIN_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-crash-'));
  try {
    const r = await crashAndResume(CI_KILLS);
    assert.equal(r.kills, CI_KILLS);
    assert.ok(r.inWrite >= CI_KILLS / 2 - 1, `kills inside writes: ${r.inWrite}`);
    console.log(describeReport(r));
  } finally {
    fs.rmSync(process.env.MIDTRAIN_CACHE!, { recursive: true, force: true });
  }
});
