// A file-backed stand-in for the run store and for `midtrain run`, so the Slurm submission logic
// (plan → sbatch → ledger → squeue → status → resubmit) is tested on a real cluster without training
// anything. Run as a script it is the array task's command: `node double-store.js <config.json>`.
// A run whose name contains "flaky" fails until `<root>/fixed` exists (a bug fixed between submissions);
// one whose name contains "slow" waits on its first attempt (for a requeue) and finishes on the next.
import * as fs from 'fs';
import * as path from 'path';
import type { RunConfig, RunStatus } from '../../src/runs/types';
import type { SlurmStore } from '../../src/runs/slurm';

export function doubleIdOf(config: RunConfig): string {
  return `id-${config.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export function doubleStore(root: string): SlurmStore {
  const file = (id: string) => path.join(root, 'double-store', `${id}.json`);
  const read = (id: string) => (fs.existsSync(file(id)) ? JSON.parse(fs.readFileSync(file(id), 'utf8')) : undefined);
  return {
    idOf: doubleIdOf,
    statusOf: (id) => read(id)?.status as RunStatus | undefined,
    errorOf: (id) => read(id)?.error,
  };
}

function write(root: string, id: string, record: { status: RunStatus; error?: string }): void {
  const f = path.join(root, 'double-store', `${id}.json`);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(`${f}.tmp`, JSON.stringify(record));
  fs.renameSync(`${f}.tmp`, f);
}

if (require.main === module) {
  const root = process.env.MIDTRAIN_CACHE!;
  const config: RunConfig = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const id = doubleIdOf(config);
  write(root, id, { status: 'running' });
  console.log(`double-store: running ${config.name} (${id})`);
  if (config.parent && doubleStore(root).statusOf(config.parent.runId) !== 'finished') {
    write(root, id, { status: 'failed', error: `parent ${config.parent.runId} is not finished` });
    process.exit(1);
  }
  // "slow": the first attempt waits (to be stopped and requeued); a requeued attempt finishes.
  if (config.name.includes('slow') && !Number(process.env.SLURM_RESTART_COUNT ?? 0)) {
    console.log('double-store: first attempt, waiting to be requeued');
    setTimeout(() => process.exit(2), 120_000);
    process.on('SIGTERM', () => {
      console.log('double-store: SIGTERM, stopping (a real run keeps its checkpoint)');
      process.exit(143);
    });
  } else if (config.name.includes('flaky') && !fs.existsSync(path.join(root, 'fixed'))) {
    console.log('double-store: simulated failure');
    write(root, id, { status: 'failed', error: 'simulated failure' });
    process.exit(1);
  } else {
    write(root, id, { status: 'finished' });
  }
}
