// One worker process of trainAll (workers.ts): `node worker-main.js <preset> [experiment,experiment…] [--max-runs N]`.
// Exit 0 when every run finished, 1 when some failed or could not start because a parent failed.
// `node worker-main.js --probe-backend`: print the backend a worker starts ({"name", "detail"} as JSON) and exit
// (jobs.ts asks this way, so that the asking process never starts a GPU device of its own).
import { parsePreset } from '../notebooks/run';
import { initBackend } from '../backend/choose';
import { EXPERIMENT_NAMES, type ExperimentName } from './definitions';
import { workLoop } from './workers';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--probe-backend') {
    const b = await initBackend({ quiet: true });
    console.log(JSON.stringify({ name: b.name, detail: b.detail }));
    return 0;
  }
  // trainAll keeps this pipe open: when it dies (killed, crashed) the worker stops instead of training on alone.
  if (process.env.MIDTRAIN_WORKER_PARENT_PIPE === '1') {
    process.stdin.on('end', () => { console.error('worker: trainAll is gone: stopping'); process.exit(3); });
    process.stdin.resume();
  }
  const flag = argv.indexOf('--max-runs');
  const maxRuns = flag >= 0 ? Number(argv[flag + 1]) : undefined;
  if (maxRuns !== undefined && !(Number.isInteger(maxRuns) && maxRuns >= 1)) throw new Error(`worker: --max-runs expects a whole number ≥ 1, got "${argv[flag + 1]}"`);
  const positional = flag >= 0 ? [...argv.slice(0, flag), ...argv.slice(flag + 2)] : argv;
  const preset = parsePreset(positional[0] ?? '', 'preset');
  const experiments = positional[1]?.split(',') as ExperimentName[] | undefined;
  for (const e of experiments ?? []) {
    if (!EXPERIMENT_NAMES.includes(e)) throw new Error(`worker: unknown experiment "${e}" (known: ${EXPERIMENT_NAMES.join(', ')})`);
  }
  const r = await workLoop(preset, { experiments, maxRuns });
  if (r.blocked.length) console.log(`blocked by failed runs: ${r.blocked.join(', ')}`);
  console.log(`trained ${r.trained.length} runs${r.failed.length ? `, ${r.failed.length} failed` : ''}`);
  return r.failed.length || r.blocked.length ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  console.error((e as Error).message);
  process.exit(2);
});
