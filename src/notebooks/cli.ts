// Command line of the notebook tooling (the npm scripts call it after building):
//   run [--preset P] [--timeout S] [--fail-fast] [--out DIR] [--reports DIR] [names…]   npm run notebooks -- …
//   serve [--preset P] [--port N] [--browser]                                          npm run notebook
import * as path from 'path';
import { PresetName, projectRoot, reportsDir } from '../config';
import { formatFailure, listNotebooks, notebooksDir, parsePreset, resolveNotebooks, runNotebooks } from './run';
import { startNotebookServer } from './server';

interface Parsed {
  flags: Record<string, string | true>;
  names: string[];
}

const VALUE_FLAGS = new Set(['preset', 'timeout', 'out', 'reports', 'port']);
const BOOL_FLAGS = new Set(['fail-fast', 'browser', 'help']);

function parseArgs(argv: string[]): Parsed {
  const flags: Parsed['flags'] = {};
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { names.push(a); continue; }
    const [key, inline] = a.slice(2).split(/=(.*)/s, 2);
    if (BOOL_FLAGS.has(key)) { flags[key] = true; continue; }
    if (!VALUE_FLAGS.has(key)) throw new Error(`midtrain: unknown option --${key} (options: ${[...VALUE_FLAGS, ...BOOL_FLAGS].map((f) => `--${f}`).join(' ')})`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`midtrain: option --${key} needs a value`);
    flags[key] = value;
  }
  return { flags, names };
}

function str(flags: Parsed['flags'], key: string): string | undefined {
  const v = flags[key];
  return typeof v === 'string' ? v : undefined;
}

function positive(flags: Parsed['flags'], key: string): number | undefined {
  const v = str(flags, key);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`midtrain: --${key} must be a positive number, got "${v}"`);
  return n;
}

async function run(p: Parsed): Promise<number> {
  const preset: PresetName = parsePreset(str(p.flags, 'preset') ?? 'tiny', '--preset');
  const files = resolveNotebooks(p.names);
  if (files.length === 0) {
    console.log(`[notebooks] no notebooks in ${notebooksDir()}`);
    return 0;
  }
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  console.log(`[notebooks] executing ${files.length} notebook(s) on preset ${preset}: ${files.map((f) => path.basename(f, '.ipynb')).join(', ')}`);
  const outDir = path.resolve(str(p.flags, 'out') ?? path.join(projectRoot(), 'out', 'notebooks', preset));
  const reportDir = path.resolve(str(p.flags, 'reports') ?? reportsDir(preset));
  const results = await runNotebooks(files, { preset, cellTimeoutS: positive(p.flags, 'timeout'), outDir, reportDir, failFast: p.flags['fail-fast'] === true });
  console.log('');
  console.log(`[notebooks] summary (preset ${preset}):`);
  for (const r of results) {
    console.log(r.ok
      ? `  ok    ${r.notebook}  ${r.seconds.toFixed(1)} s  report: ${rel(r.html)}`
      : `  FAIL  ${formatFailure(r.failure!)}  (executed copy: ${rel(r.executed)}, HTML: ${rel(r.html)})`);
  }
  const skipped = files.length - results.length;
  if (skipped) console.log(`  (${skipped} not run: --fail-fast)`);
  const failed = results.filter((r) => !r.ok);
  console.log(`[notebooks] executed copies in ${rel(outDir)}; reports in ${rel(reportDir)}`);
  return failed.length ? 1 : 0;
}

async function serve(p: Parsed): Promise<number> {
  const preset = parsePreset(str(p.flags, 'preset') ?? process.env.MIDTRAIN_PRESET ?? 'tiny', '--preset');
  const n = listNotebooks().length;
  console.log(`[notebook] Jupyter on ${path.relative(process.cwd(), notebooksDir()) || notebooksDir()} (${n} notebooks), kernel "TypeScript (midtrain, tslab)", preset ${preset}; Ctrl-C to stop`);
  const server = startNotebookServer({ port: positive(p.flags, 'port'), openBrowser: p.flags.browser === true, env: { MIDTRAIN_PRESET: preset }, stdio: 'inherit' });
  const stop = () => void server.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return new Promise((resolve) => server.child.on('exit', (code) => resolve(code ?? 0)));
}

const USAGE = `usage: node dist/src/notebooks/cli.js run [--preset tiny] [--timeout S] [--fail-fast] [--out DIR] [--reports DIR] [names…]
       node dist/src/notebooks/cli.js serve [--preset tiny] [--port 8888] [--browser]`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const p = parseArgs(rest);
  if (p.flags.help || !cmd || cmd === '--help') { console.log(USAGE); return cmd ? 0 : 2; }
  if (cmd === 'run') return run(p);
  if (cmd === 'serve') return serve(p);
  throw new Error(`midtrain: unknown command "${cmd}"\n${USAGE}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => { console.error(e.message); process.exit(2); },
  );
}
