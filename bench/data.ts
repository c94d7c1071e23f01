// `npm run bench:data [-- --gb 1] [--workers 2] [--small-gb 0.25] [--sizes 0.25,1,2] [--reference-mb 64] [--dir D]`
// Writes a corpus of real text in the hub's formats (the built-in roles' own cleaned documents, reshuffled and
// repeated: general as C4-style json.gz, code as StarCoder-style Parquet, math as jsonl.zst, the rest as
// JSON Lines), builds shards from it through a data config (read, decompress, parse, tokenise, write) in a
// child process, and prints end-to-end MB/s and tokens/s beside the `tokenizers` library's bare batch
// encoding of the same text on the same number of threads (RAYON_NUM_THREADS), and the peak RSS of a build
// of `--small-gb` and of `--gb` of input, or of each of `--sizes` (the growth says whether memory stays flat). Not a test: numbers
// vary with the machine and its load.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { execFileSync, spawnSync } from 'child_process';
import { cacheRoot, projectRoot, ROLES, type Role } from '../src/config';
import { Rng } from '../src/data/prng';
import { ensureData } from '../src/data/build';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

/** The built-in roles' cleaned documents (the corpus cache that `npm run data` fills). */
async function roleDocs(): Promise<Record<Role, string[]>> {
  const dir = path.join(cacheRoot(), 'corpus');
  if (!fs.existsSync(dir) || !fs.readdirSync(dir).some((f) => f.endsWith('.jsonl'))) await ensureData('tiny', { quiet: true });
  const out = {} as Record<Role, string[]>;
  for (const role of ROLES) {
    const f = fs.readdirSync(dir).filter((x) => x.startsWith(`${role}-`) && x.endsWith('.jsonl')).sort()[0];
    if (!f) throw new Error(`bench: no cleaned ${role} corpus in ${dir} (run npm run data -- --preset tiny)`);
    out[role] = fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text);
  }
  return out;
}

const FORMAT: Record<Role, 'jsonl.gz' | 'parquet' | 'jsonl.zst' | 'jsonl'> = {
  general: 'jsonl.gz', code: 'parquet', math: 'jsonl.zst', instruction: 'jsonl', knowledge: 'jsonl', 'web-quality': 'jsonl.zst',
};

/** Write `bytes` of text per the role shares, in files of ~fileMB; returns the text bytes written per file. */
function writeCorpus(dir: string, docs: Record<Role, string[]>, bytes: number, fileMB: number, seed: number): { files: number; textBytes: number } {
  const rng = new Rng(seed);
  const per = bytes / ROLES.length;
  let files = 0, textBytes = 0;
  for (const role of ROLES) {
    const rdir = path.join(dir, role);
    fs.mkdirSync(rdir, { recursive: true });
    let written = 0, k = 0;
    while (written < per) {
      const batch: string[] = [];
      let b = 0;
      while (b < fileMB * 1e6 && written + b < per) {
        const d = docs[role][rng.int(0, docs[role].length - 1)];
        batch.push(d);
        b += Buffer.byteLength(d);
      }
      const name = path.join(rdir, `part-${String(k++).padStart(5, '0')}`);
      const lines = () => batch.map((text, i) => JSON.stringify({ text, id: `${role}-${k}-${i}` })).join('\n') + '\n';
      switch (FORMAT[role]) {
        case 'jsonl': fs.writeFileSync(`${name}.jsonl`, lines()); break;
        case 'jsonl.gz': fs.writeFileSync(`${name}.json.gz`, zlib.gzipSync(lines(), { level: 1 })); break;
        case 'jsonl.zst': execFileSync('zstd', ['-q', '-f', '-1', '-o', `${name}.jsonl.zst`], { input: lines(), maxBuffer: 1 << 30 }); break;
        case 'parquet': {
          const { parquetWriteFile } = require('hyparquet-writer') as { parquetWriteFile(o: object): void };
          parquetWriteFile({ filename: `${name}.parquet`, rowGroupSize: 2000, columnData: [{ name: 'content', data: batch, type: 'STRING' }, { name: 'max_stars_repo_path', data: batch.map((_, i) => `r/${i}.py`), type: 'STRING' }] });
          break;
        }
      }
      written += b; files++;
    }
    textBytes += written;
  }
  return { files, textBytes };
}

function configFor(dir: string, name: string, tokenizer: string): string {
  const glob: Record<string, string> = { 'jsonl.gz': '*.json.gz', parquet: '*.parquet', 'jsonl.zst': '*.jsonl.zst', jsonl: '*.jsonl' };
  const roles = Object.fromEntries(ROLES.map((r) => [r, { sources: [{ glob: `${r}/${glob[FORMAT[r]]}`, format: FORMAT[r], text: FORMAT[r] === 'parquet' ? 'content' : 'text' }], valShare: 0.02, filters: { dedup: 'off' } }]));
  const sft = path.join(projectRoot(), 'bench', '.sft-fixture');
  const config = {
    name, preset: 'pythia-70m', tokenizer: { path: tokenizer }, roles,
    sft: {
      gsm: { kind: 'gsm8k', format: 'jsonl', train: `${sft}/gsm.jsonl` }, sciq: { kind: 'sciq', format: 'jsonl', train: `${sft}/sciq.jsonl` },
      pycode: { kind: 'codesearchnet-python', format: 'jsonl', train: `${sft}/csn.jsonl` }, lima: { kind: 'lima', format: 'jsonl', train: `${sft}/lima.jsonl` },
    },
  };
  const file = path.join(dir, 'data-config.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Tiny SFT files so the config is complete (the benchmark measures the pretraining shards). */
function writeSftStubs(): void {
  const d = path.join(projectRoot(), 'bench', '.sft-fixture');
  fs.mkdirSync(d, { recursive: true });
  const n = Array.from({ length: 40 }, (_, i) => i);
  fs.writeFileSync(`${d}/gsm.jsonl`, n.map((i) => JSON.stringify({ question: `What is ${i} + 1?`, answer: `${i} + 1 = ${i + 1}\n#### ${i + 1}` })).join('\n'));
  fs.writeFileSync(`${d}/sciq.jsonl`, n.map((i) => JSON.stringify({ question: `Pick ${i}`, distractor1: 'a', distractor2: 'b', distractor3: 'c', correct_answer: `n${i}`, support: '' })).join('\n'));
  fs.writeFileSync(`${d}/csn.jsonl`, n.map((i) => JSON.stringify({ docstring: `Add ${i}.`, code: `def f(x):\n    """Add ${i}."""\n    return x + ${i}` })).join('\n'));
  fs.writeFileSync(`${d}/lima.jsonl`, n.map((i) => JSON.stringify({ conversations: [`Say ${i}`, `${i}`] })).join('\n'));
}

interface ChildResult { seconds: number; bytes: number; tokens: number; peakRssMB: number }

/** Build in a fresh process (its own cache) and read its peak RSS (VmHWM covers the worker threads too). */
function buildInChild(config: string, workers: number, cache: string): ChildResult {
  const script = `
    const t0 = process.hrtime.bigint();
    let last = { bytes: 0, tokens: 0 };
    require(${JSON.stringify(path.join(__dirname, '../src/data/local/build.js'))}).ensureLocalData(${JSON.stringify(config)}, undefined, { quiet: false, workers: ${workers}, onProgress: (p) => { last = p; } }).then(() => {
      const hwm = Number(/VmHWM:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
      console.log('RESULT ' + JSON.stringify({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, bytes: last.bytes, tokens: last.tokens, peakRssMB: hwm }));
    }, (e) => { console.error(e.message); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, MIDTRAIN_CACHE: cache }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`bench: build failed (exit ${r.status}): ${(r.stdout ?? '').slice(-2000)}`);
  process.stdout.write((r.stdout ?? '').split('\n').filter((l) => !l.startsWith('RESULT ')).join('\n'));
  return JSON.parse(line.slice(7));
}

/** The library's bare encodeBatch over the same documents, with its thread pool pinned to `threads`. */
function referenceInChild(textFile: string, tokenizer: string, threads: number): { seconds: number; bytes: number; tokens: number } {
  const script = `
    const hf = require('tokenizers');
    const fs = require('fs');
    const docs = fs.readFileSync(${JSON.stringify(textFile)}, 'utf8').split('\\n').filter(Boolean).map((l) => JSON.parse(l));
    const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);
    const tok = hf.Tokenizer.fromFile(${JSON.stringify(tokenizer)});
    (async () => {
      const t0 = process.hrtime.bigint();
      let tokens = 0;
      for (let i = 0; i < docs.length; i += 1000) for (const e of await tok.encodeBatch(docs.slice(i, i + 1000))) tokens += e.getIds().length;
      console.log('RESULT ' + JSON.stringify({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, bytes, tokens }));
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, RAYON_NUM_THREADS: String(threads), RAYON_RS_NUM_CPUS: String(threads), TOKENIZERS_PARALLELISM: 'true' }, encoding: 'utf8', maxBuffer: 1 << 26, cwd: projectRoot() });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`bench: reference failed (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(line.slice(7));
}

async function main(): Promise<void> {
  const sizes = arg('sizes', `${arg('small-gb', '0.25')},${arg('gb', '1')}`).split(',').map(Number);
  if (sizes.length < 2 || sizes.some((x) => !(x > 0))) throw new Error(`bench:data: --sizes expects two or more sizes in GB, e.g. 0.25,1,2`);
  const gb = sizes[sizes.length - 1];
  const workers = Number(arg('workers', String(Math.min(8, os.cpus().length))));
  const refMB = Number(arg('reference-mb', '64'));
  const root = arg('dir', fs.mkdtempSync(path.join(os.tmpdir(), 'mt-bench-data-')));
  console.log(`bench:data: ${sizes.join(', ')} GB of real text in hub formats, ${workers} workers, ${os.cpus().length} CPUs (load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}) in ${root}`);
  const docs = await roleDocs();
  // A GPT-2-style byte-level BPE (~30k tokens) trained and saved by the library on the roles' text (the pretrained-tokenizer path).
  const tokDir = path.join(root, 'tokenizer');
  fs.mkdirSync(tokDir, { recursive: true });
  const sampleFiles = ROLES.map((r) => { const f = path.join(tokDir, `${r}.txt`); fs.writeFileSync(f, docs[r].slice(0, 400).join('\n\n')); return f; });
  const tokenizer = path.join(tokDir, 'tokenizer.json');
  const hf = require('tokenizers') as typeof import('tokenizers');
  const trainer = new hf.Tokenizer(hf.BPE.empty());
  trainer.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
  trainer.train(sampleFiles);
  trainer.addSpecialTokens(['<|endoftext|>']);
  trainer.save(tokenizer);
  writeSftStubs();
  const results: Array<{ gb: number; r: ChildResult; textBytes: number; diskBytes: number }> = [];
  for (const size of sizes) {
    const dir = path.join(root, `corpus-${size}`);
    const t0 = Date.now();
    const { files, textBytes } = writeCorpus(dir, docs, size * 1e9, 32, 7);
    const diskBytes = ROLES.reduce((n, r) => n + fs.readdirSync(path.join(dir, r)).reduce((m, f) => m + fs.statSync(path.join(dir, r, f)).size, 0), 0);
    console.log(`wrote ${files} files, ${(textBytes / 1e9).toFixed(2)} GB of text (${(diskBytes / 1e9).toFixed(2)} GB on disk) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const r = buildInChild(configFor(dir, `bench-${size}`, tokenizer), workers, path.join(root, `cache-${size}`));
    results.push({ gb: size, r, textBytes, diskBytes });
    fs.rmSync(path.join(root, `cache-${size}`), { recursive: true, force: true });
    if (size !== gb) fs.rmSync(dir, { recursive: true, force: true });
  }
  // Reference: the same documents (a seeded sample of refMB of the corpus) through the library's encodeBatch.
  const refFile = path.join(root, 'reference.jsonl');
  const rng = new Rng(11);
  const sample: string[] = [];
  let b = 0;
  while (b < refMB * 1e6) { const r = ROLES[rng.int(0, ROLES.length - 1)]; const d = docs[r][rng.int(0, docs[r].length - 1)]; sample.push(JSON.stringify(d)); b += Buffer.byteLength(d); }
  fs.writeFileSync(refFile, sample.join('\n'));
  const ref = referenceInChild(refFile, tokenizer, workers);
  const big = results[results.length - 1], small = results[0];
  const mbs = (x: { bytes: number; seconds: number }) => x.bytes / 1e6 / x.seconds;
  const textMBs = big.textBytes / 1e6 / big.r.seconds;
  const ours = big.r.tokens / big.r.seconds, theirs = ref.tokens / ref.seconds;
  console.log('');
  console.log(`end to end (${big.gb} GB text, ${(big.diskBytes / 1e9).toFixed(2)} GB on disk, ${workers} workers): ${big.r.seconds.toFixed(1)} s, ${textMBs.toFixed(1)} MB/s of text (${mbs(big.r).toFixed(1)} MB/s on disk), ${(ours / 1e6).toFixed(2)}M tokens/s`);
  console.log(`tokenizers library, bare encodeBatch (${refMB} MB of the same documents, RAYON_NUM_THREADS=${workers}): ${(ref.bytes / 1e6 / ref.seconds).toFixed(1)} MB/s, ${(theirs / 1e6).toFixed(2)}M tokens/s`);
  console.log(`peak RSS: ${results.map((x) => `${x.r.peakRssMB.toFixed(0)} MB at ${x.gb} GB input`).join(', ')} (growth ${(big.r.peakRssMB - small.r.peakRssMB).toFixed(0)} MB from ${small.gb} to ${big.gb} GB)`);
  console.log(`end to end per size: ${results.map((x) => `${x.gb} GB ${(x.r.tokens / x.r.seconds / 1e6).toFixed(2)}M tokens/s`).join(', ')}`);
  console.log(`ratio end-to-end / bare library tokens/s: ${(ours / theirs).toFixed(2)}`);
  if (!process.argv.includes('--keep')) fs.rmSync(root, { recursive: true, force: true });
}

main().catch((e) => { console.error(e.message); process.exit(1); });
