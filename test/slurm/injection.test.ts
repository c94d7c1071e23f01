// Strings from sweep files and flags are data, never shell: names and sbatch options carrying line breaks,
// quotes, $(…), backticks and ; go through sweep submission (dry run), and then every generated script is
// EXECUTED by bash with stub `midtrain`/Slurm commands first on PATH and every other command caught by
// bash's command_not_found_handle. The test passes only if the stubbed workbench command ran, once, with
// the task's config file (holding the name unchanged), and nothing else ran or was created. Option values
// that #SBATCH lines cannot carry safely are refused with one line, before anything is written.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { submitSweep } from '../../src/runs/slurm';
import { parseSlurmFlags, readSweepFile } from '../../src/runs/slurm-cli';
import { pre, sft } from './configs';
import { doubleStore } from './double-store';

/** Each payload tries to run `pwned` (a logging stub) or create a file in the working folder. */
const PAYLOADS = [
  'plain',
  'line\npwned\nbreak',
  'cr\rpwned',
  'dq"; pwned; echo "',
  "sq'; pwned; echo '",
  '$(pwned)',
  '`pwned`',
  'semi; pwned',
  '$(touch made-by-name)',
  'x > made-by-redirect',
  '\\"\n pwned #',
];

interface Sandbox {
  dir: string;
  bin: string;
  log: string;
  bashEnv: string;
}

function sandbox(): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'midtrain-inject-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const log = path.join(dir, 'commands.log');
  // Stubs log themselves (args bracketed, so a line break inside one stays visible) using shell builtins only.
  const stub = (name: string) =>
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\nprintf '%s' ${name} >> "$STUB_LOG"; for a; do printf ' [%s]' "$a" >> "$STUB_LOG"; done; printf '\\n' >> "$STUB_LOG"\n`, { mode: 0o755 });
  for (const name of ['midtrain', 'pwned', 'sbatch', 'scontrol', 'scancel', 'squeue', 'srun', 'touch', 'hostname', 'date']) stub(name);
  const bashEnv = path.join(dir, 'bash-env.sh');
  fs.writeFileSync(bashEnv, `command_not_found_handle() { printf 'UNKNOWN %s\\n' "$*" >> "$STUB_LOG"; return 127; }\n`);
  return { dir, bin, log, bashEnv };
}

/** Run a generated script as a Slurm array task would (task `task`), in an empty folder; returns what ran. */
function execute(sb: Sandbox, script: string, task: number): { status: number | null; ran: string[]; created: string[]; stderr: string } {
  fs.writeFileSync(sb.log, '');
  const cwd = fs.mkdtempSync(path.join(sb.dir, 'cwd-'));
  const r = spawnSync('/bin/bash', [script], {
    cwd, encoding: 'utf8', timeout: 20_000,
    env: { PATH: sb.bin, BASH_ENV: sb.bashEnv, STUB_LOG: sb.log, SLURM_ARRAY_JOB_ID: '7', SLURM_ARRAY_TASK_ID: String(task), HOME: sb.dir },
  });
  const ran = fs.readFileSync(sb.log, 'utf8').split('\n').filter((l) => l && !/^(hostname|date)( |$)/.test(l));
  return { status: r.status, ran, created: fs.readdirSync(cwd), stderr: r.stderr };
}

test('names with line breaks, quotes, $(…), backticks and ; reach the scripts as data: executing them runs only the workbench', async () => {
  const sb = sandbox();
  try {
    const cache = path.join(sb.dir, 'cache');
    let executed = 0;
    for (const [k, payload] of PAYLOADS.entries()) {
      // The payload names the sweep, a parent and its child (the child's group has a dependency line too).
      const sweepFile = path.join(sb.dir, `sweep-${k}.json`);
      fs.writeFileSync(sweepFile, JSON.stringify({ name: `sweep ${payload}`, runs: [pre(`A ${payload}`), sft(`a1 ${payload}`, `A ${payload}`)] }));
      const flags = parseSlurmFlags([sweepFile, '--slurm', '--dry-run', '--partition', 'gpu,debug', '--time', '1:00:00', '--mem', '16G', '--sbatch=--constraint=a100|h100']);
      const sweep = readSweepFile(flags.positional[0]);
      const { dryRun, wait: _w, json: _j, pollSeconds: _p, positional: _pos, ...resources } = flags;
      // doubleStore's ids replace odd characters, so the child's parent id matches `id-A_<payload>`.
      sweep.runs[1] = { ...sweep.runs[1], parent: { runId: doubleStore(cache).idOf(sweep.runs[0]), atFraction: 1 } };
      const res = await submitSweep(sweep, { ...resources, dryRun, store: doubleStore(cache), cacheRoot: cache, runCommand: ['midtrain', 'run'] });
      assert.equal(res.jobs.length, 2, `payload ${JSON.stringify(payload)}: two groups (parent, then child)`);
      for (const job of res.jobs) {
        const out = execute(sb, job.script, 0);
        const config = path.join(path.dirname(job.script), `${job.group}.0.json`);
        assert.deepEqual(out.ran, [`midtrain [run] [${config}]`], `payload ${JSON.stringify(payload)}, ${job.group}: only the workbench ran\n${out.stderr}`);
        assert.deepEqual(out.created, [], `payload ${JSON.stringify(payload)}: no file created`);
        assert.equal(out.status, 0, out.stderr);
        assert.equal(JSON.parse(fs.readFileSync(config, 'utf8')).name, job.names[0], 'the name arrives unchanged');
        assert.ok(job.names[0].endsWith(payload));
        executed++;
      }
    }
    console.log(`executed ${executed} generated scripts for ${PAYLOADS.length} name payloads: each ran only the stub workbench command`);
  } finally {
    fs.rmSync(sb.dir, { recursive: true, force: true });
  }
});

test('sbatch options that a #SBATCH line cannot carry are refused with one line, before anything is written', async () => {
  const sb = sandbox();
  try {
    const cache = path.join(sb.dir, 'cache');
    const sweepFile = path.join(sb.dir, 'sweep.json');
    fs.writeFileSync(sweepFile, JSON.stringify({ name: 'opts', runs: [pre('A')] }));
    const bad: [string, string][] = [];
    for (const flag of ['partition', 'account', 'qos', 'mem', 'time']) {
      for (const v of ['gpu\npwned', 'gpu"; pwned; "', "gpu' pwned", 'gpu $(pwned)', 'gpu`pwned`', 'gpu;pwned', 'gpu pwned', '1:00\n']) bad.push([flag, v]);
    }
    for (const v of ['--constraint=a100\npwned', '--comment="x"', '--comment=$(pwned)', '--comment=`pwned`', '--comment=a;pwned', '--comment=a b', 'pwned', '-C a100', '--wrap=pwned\n']) bad.push(['sbatch', v]);
    for (const [flag, v] of bad) {
      const flags = parseSlurmFlags([sweepFile, '--dry-run', `--${flag}`, v]);
      const { dryRun, wait: _w, json: _j, pollSeconds: _p, positional: _pos, ...resources } = flags;
      await assert.rejects(
        submitSweep(readSweepFile(sweepFile), { ...resources, dryRun, store: doubleStore(cache), cacheRoot: cache, runCommand: ['midtrain', 'run'] }),
        (e: Error) => {
          assert.match(e.message, new RegExp(`^slurm: --${flag} `), `--${flag} ${JSON.stringify(v)}`);
          assert.equal(e.message.split('\n').length, 1, `one line: ${e.message}`);
          return true;
        },
      );
      assert.equal(fs.existsSync(path.join(cache, 'slurm', 'submissions')), false, `--${flag} ${JSON.stringify(v)}: nothing written`);
    }
    // The well-formed counterparts are accepted, and their script runs only the workbench.
    const good = parseSlurmFlags([sweepFile, '--dry-run', '--partition', 'gpu', '--account', 'proj-1', '--qos', 'high', '--mem', '500M', '--time', '2-00:00:00', '--sbatch', '--constraint=a100&ib', '--sbatch', '--exclusive']);
    const { dryRun, wait: _w, json: _j, pollSeconds: _p, positional: _pos, ...resources } = good;
    const res = await submitSweep(readSweepFile(sweepFile), { ...resources, dryRun, store: doubleStore(cache), cacheRoot: cache, runCommand: ['midtrain', 'run'] });
    const text = fs.readFileSync(res.jobs[0].script, 'utf8');
    for (const line of ['--partition=gpu', '--account=proj-1', '--qos=high', '--mem=500M', '--time=2-00:00:00', '--constraint=a100&ib', '--exclusive']) {
      assert.ok(text.split('\n').includes(`#SBATCH ${line}`), line);
    }
    const out = execute(sb, res.jobs[0].script, 0);
    assert.deepEqual(out.ran, [`midtrain [run] [${path.join(path.dirname(res.jobs[0].script), 'g0.0.json')}]`], out.stderr);
    console.log(`refused ${bad.length} malformed option values, each with one line`);
  } finally {
    fs.rmSync(sb.dir, { recursive: true, force: true });
  }
});
