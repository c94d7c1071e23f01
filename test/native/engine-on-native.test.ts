// The engine's numerics tests, re-run on the native backend: the same finite-difference gradient checks
// (ops, whole model), causality/KV-cache checks and the PyTorch parity test (logits, loss, every gradient,
// three AdamW steps) that the wasm path passes, and the training/store/resume tests (the native AdamW updates
// parameters in place, so checkpoints and SIGKILL-resume must still give identical runs). The engine's tests pick their backend from MIDTRAIN_BACKEND,
// so this file runs them in a child process with MIDTRAIN_BACKEND=native rather than copying them.
// Also checks the install-time fallback: a failed native build prints one line and does not fail `npm install`.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { loadNativeAddon } from '../../src/backend/native-addon';
import { projectRoot } from '../../src/config';

const load = loadNativeAddon();
const skip = load.ok ? false : load.reason;
const root = projectRoot();

for (const file of ['ops', 'model', 'parity', 'train', 'resume', 'store']) {
  test(`engine ${file} tests pass on the native backend`, { skip }, () => {
    const compiled = path.join(root, 'dist', 'test', 'engine', `${file}.test.js`);
    assert.ok(fs.existsSync(compiled), `${compiled} missing: build with npx tsc -p .`);
    // NODE_TEST_CONTEXT would make the child's runner think it is nested in ours and skip every file
    const { NODE_TEST_CONTEXT: _nested, ...env } = process.env;
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', compiled], {
      cwd: root, encoding: 'utf8', env: { ...env, MIDTRAIN_BACKEND: 'native' }, timeout: 300_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, out.split('\n').filter((l) => /✖|Error|not ok/.test(l)).slice(0, 20).join('\n'));
    assert.match(out, /pass [1-9]/, 'no engine test ran');
  });
}

// The same kernel tests on the narrower code paths a user's CPU may pick (the addon holds all three).
for (const isa of ['avx2', 'generic']) {
  test(`native kernel tests pass on the ${isa} code path`, { skip }, () => {
    const { NODE_TEST_CONTEXT: _nested, ...env } = process.env;
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', path.join(root, 'dist', 'test', 'native', 'kernels.test.js')], {
      cwd: root, encoding: 'utf8', env: { ...env, MIDTRAIN_NATIVE_ISA: isa }, timeout: 120_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, out.split('\n').filter((l) => /✖|Error/.test(l)).slice(0, 20).join('\n'));
    assert.match(out, new RegExp(`code path in use: ${isa}`));
  });
}

test('a native build that cannot compile prints one line and exits 0 under --postinstall', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'native', 'build.js'), '--postinstall', '--force'], {
    cwd: root, encoding: 'utf8', env: { ...process.env, CXX: '/nonexistent/c++' }, timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stdout);
  assert.match(lines[0], /native CPU kernels not built \(C\+\+ compiler '\/nonexistent\/c\+\+' not found.*wasm backend/);
  // and without --postinstall the same failure is an error
  const strict = spawnSync(process.execPath, [path.join(root, 'native', 'build.js'), '--force'], {
    cwd: root, encoding: 'utf8', env: { ...process.env, CXX: '/nonexistent/c++' }, timeout: 60_000,
  });
  assert.equal(strict.status, 1);
});
