// `npm run report -- [--preset tiny|small|…] [--jobs N|auto] [--timeout S]`: with --jobs > 1, train every run
// first in N worker processes (experiments/workers.ts; `auto` picks N from the cores and the memory of the
// machine or its GPU: experiments/jobs.ts); then execute every notebook headlessly on a preset (the
// foundation's runner), check that each experiment notebook left its artifact (tables and figures) and
// print where the report is: reports/<preset>/{<notebook>.html, figures/, tables/, summary.md, runs.json}.
import * as fs from 'fs';
import * as path from 'path';
import { reportsDir } from '../config';
import { listNotebooks, parsePreset, runNotebooks, formatFailure } from '../notebooks/run';
import { readNotebookArtifact } from './artifacts';
import { trainAll } from '../experiments/workers';
import { autoJobs } from '../experiments/jobs';

async function main(argv: string[]): Promise<number> {
  let preset = 'tiny';
  let timeout: number | undefined;
  let jobs: number | 'auto' = 1;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--preset') preset = argv[++i] ?? '';
    else if (argv[i].startsWith('--preset=')) preset = argv[i].slice(9);
    else if (argv[i] === '--timeout') timeout = Number(argv[++i]);
    else if (argv[i] === '--jobs') {
      const v = argv[++i];
      jobs = v === 'auto' ? 'auto' : Number(v);
      if (jobs !== 'auto' && (!Number.isInteger(jobs) || jobs < 1)) throw new Error(`report: --jobs expects a whole number ≥ 1 or "auto", got "${v}"`);
    }
    else throw new Error(`report: unknown argument "${argv[i]}" (usage: npm run report -- [--preset tiny|small|…] [--jobs N|auto] [--timeout seconds])`);
  }
  const p = parsePreset(preset, '--preset');
  if (jobs === 'auto') {
    const choice = await autoJobs(p);
    console.log(`[report] --jobs auto: ${choice.why}`);
    jobs = choice.jobs;
  }
  if (jobs > 1) await trainAll(p, { jobs });
  const files = listNotebooks();
  // Each notebook adds its runs to runs.json; a whole report starts it afresh, so runs of an earlier study
  // (other ids, other code) do not linger in it.
  fs.rmSync(path.join(reportsDir(p), 'runs.json'), { force: true });
  console.log(`[report] preset ${p}: executing ${files.length} notebooks (finished runs are reused from the run store)`);
  const results = await runNotebooks(files, { preset: p, ...(timeout ? { cellTimeoutS: timeout } : {}) });
  const dir = reportsDir(p);
  let failed = 0;
  for (const r of results) {
    if (!r.ok) { failed++; console.log(`  FAIL  ${formatFailure(r.failure!)}`); continue; }
    const artifact = path.join(dir, `${r.notebook}.json`);
    if (!fs.existsSync(artifact)) { console.log(`  ok    ${r.notebook}  ${r.seconds.toFixed(0)} s`); continue; }
    const a = readNotebookArtifact(artifact);
    console.log(`  ok    ${r.notebook}  ${r.seconds.toFixed(0)} s  ${a.tables.length} tables, ${a.figures.length} figures, ${a.runs.length} runs`);
  }
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  console.log(`[report] ${rel(dir)}: one HTML per notebook, figures/ (PNG + HTML), tables/ (CSV), summary.csv, summary.md, runs.json (run configs + data manifest hashes)`);
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  console.error((e as Error).message);
  process.exit(2);
});
