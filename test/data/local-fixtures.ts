// Small files in exactly the formats the hub ships (a few hundred documents each), made from real text (this
// repository's documentation and TypeScript sources), plus a tokenizer.json trained and saved by the
// Hugging Face `tokenizers` library, and a data config pointing at all of it. Used by the local-data tests.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { execFileSync } from 'child_process';
import { projectRoot } from '../../src/config';
import { truncateBpe, EOS_TOKEN } from '../../src/tokenizer/bpe';

function listFiles(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p, ext));
    else if (e.name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

/** Prose: paragraphs of the repository's Markdown, cut into pieces of a few sentences. */
export function proseDocs(): string[] {
  const root = projectRoot();
  const md = [path.join(root, 'README.md'), path.join(root, 'data', 'README.md'), ...listFiles(path.join(root, 'docs'), '.md')];
  const docs: string[] = [];
  for (const f of md) {
    for (const para of fs.readFileSync(f, 'utf8').split(/\n\s*\n/)) {
      const sentences = para.replace(/\s+/g, ' ').trim().split(/(?<=[.!?])\s+/);
      for (let i = 0; i < sentences.length; i += 3) {
        const d = sentences.slice(i, i + 3).join(' ');
        if (d.length >= 40) docs.push(d);
      }
    }
  }
  return docs;
}

/** Code: the repository's TypeScript sources cut into 40-line chunks. */
export function codeDocs(): string[] {
  const docs: string[] = [];
  for (const f of listFiles(path.join(projectRoot(), 'src'), '.ts')) {
    const lines = fs.readFileSync(f, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i += 40) {
      const d = lines.slice(i, i + 40).join('\n').trim();
      if (d.length >= 40) docs.push(d);
    }
  }
  return docs;
}

function jsonl(rows: object[]): string { return rows.map((r) => JSON.stringify(r)).join('\n') + '\n'; }

function writeParquet(file: string, rows: Record<string, string>[], rowGroupSize: number): void {
  const { parquetWriteFile } = require('hyparquet-writer') as { parquetWriteFile(o: object): void };
  const names = Object.keys(rows[0]);
  parquetWriteFile({ filename: file, rowGroupSize, columnData: names.map((name) => ({ name, data: rows.map((r) => r[name]), type: 'STRING' })) });
}

function writeZst(file: string, text: string): void {
  // The zstd command line tool (Debian package zstd): fzstd only decompresses.
  execFileSync('zstd', ['-q', '-f', '-3', '-o', file], { input: text });
}

/** GSM8K-style problems with correct worked answers ("#### n"). */
function gsmRows(n: number, offset: number): Array<{ question: string; answer: string }> {
  const rows = [];
  for (let i = 0; i < n; i++) {
    const a = 3 + ((i * 7 + offset) % 40), b = 2 + ((i * 11 + offset) % 25), c = 1 + (i % 9);
    const total = a * b + c;
    rows.push({
      question: `A shop packs ${a} boxes with ${b} pencils each and has ${c} loose pencils. How many pencils does it have?`,
      answer: `The boxes hold ${a} * ${b} = <<${a}*${b}=${a * b}>>${a * b} pencils.\nWith the loose ones: ${a * b} + ${c} = <<${a * b}+${c}=${total}>>${total}.\n#### ${total.toLocaleString('en-US')}`,
    });
  }
  return rows;
}

export interface Fixtures { dir: string; config: string; tokenizer: string; tokenizerStrings: string; tokenizerFull: string; prose: string[]; code: string[] }

/** Write every fixture under `dir` and return the paths. */
export function writeFixtures(dir: string, opts: { preset?: string; padTo?: number } = {}): Fixtures {
  fs.mkdirSync(dir, { recursive: true });
  const prose = proseDocs(), code = codeDocs();
  const half = (xs: string[]) => [xs.slice(0, Math.ceil(xs.length / 2)), xs.slice(Math.ceil(xs.length / 2))];
  const mk = (p: string) => { fs.mkdirSync(path.join(dir, p), { recursive: true }); return path.join(dir, p); };

  // general: C4's c4-train.NNNNN-of-NNNNN.json.gz (text, timestamp, url); 20 documents repeated across files (exact duplicates).
  const [g0, g1] = half(prose);
  const c4 = mk('c4/en');
  [[...g0, ...g1.slice(0, 20)], g1].forEach((docs, i) => fs.writeFileSync(path.join(c4, `c4-train.0000${i}-of-00002.json.gz`),
    zlib.gzipSync(jsonl(docs.map((text, j) => ({ text, timestamp: '2019-04-25T12:57:54Z', url: `https://example.org/${i}/${j}` }))))));
  // code: StarCoder data Parquet (content, max_stars_repo_path), several row groups per file.
  const sc = mk('starcoderdata/python');
  half(code).forEach((docs, i) => writeParquet(path.join(sc, `train-0000${i}-of-00002.parquet`), docs.map((content, j) => ({ content, max_stars_repo_path: `repo/${i}/${j}.ts` })), 64));
  // math: OpenMathInstruct-style Parquet (question, generated_solution).
  const om = mk('openmathinstruct');
  writeParquet(path.join(om, 'train-00000-of-00001.parquet'), gsmRows(300, 5).map((r) => ({ question: r.question, generated_solution: r.answer, expected_answer: r.answer.split('#### ')[1] })), 100);
  // instruction: FLAN-style JSON Lines (inputs, targets).
  const fl = mk('flan');
  fs.writeFileSync(path.join(fl, 'flan.jsonl'), jsonl(prose.slice(0, 300).map((p, i) => ({ inputs: `Summarise in one sentence:\n\n${p}`, targets: p.split(/(?<=[.!?])\s/)[0], task: `t${i % 7}` }))));
  // knowledge: a folder of plain text files.
  const kn = mk('knowledge');
  prose.slice(100, 350).forEach((p, i) => fs.writeFileSync(path.join(kn, `doc-${String(i).padStart(4, '0')}.txt`), p + '\n'));
  // web-quality: DCLM's .jsonl.zst (text, url).
  const dc = mk('dclm');
  writeZst(path.join(dc, 'shard_00000000_processed.jsonl.zst'), jsonl(prose.slice(50).map((text, i) => ({ text, url: `https://example.net/${i}` }))));

  // SFT: GSM8K Parquet (train/test), SciQ Parquet (train/validation/test), CodeSearchNet JSON Lines gz, LIMA JSON Lines.
  const gsm = mk('gsm8k/main');
  writeParquet(path.join(gsm, 'train-00000-of-00001.parquet'), gsmRows(240, 0), 100);
  writeParquet(path.join(gsm, 'test-00000-of-00001.parquet'), gsmRows(60, 1000), 100);
  const sciq = mk('sciq/data');
  const terms = ['mitochondria', 'chloroplast', 'ribosome', 'nucleus', 'osmosis', 'diffusion', 'photosynthesis', 'respiration', 'enzyme', 'neuron', 'electron', 'proton'];
  const sciqRows = (n: number, off: number) => Array.from({ length: n }, (_, i) => {
    const k = (i + off) % terms.length;
    return { question: `Which term names item ${i + off} in the glossary of cell biology?`, distractor3: terms[(k + 3) % terms.length], distractor1: terms[(k + 1) % terms.length], distractor2: terms[(k + 2) % terms.length], correct_answer: terms[k], support: prose[(i + off) % prose.length] };
  });
  writeParquet(path.join(sciq, 'train-00000-of-00001.parquet'), sciqRows(200, 0), 100);
  writeParquet(path.join(sciq, 'validation-00000-of-00001.parquet'), sciqRows(50, 200), 100);
  writeParquet(path.join(sciq, 'test-00000-of-00001.parquet'), sciqRows(50, 250), 100);
  const csn = mk('codesearchnet/python');
  const fns = Array.from({ length: 260 }, (_, i) => {
    const doc = `Return the ${['sum', 'product', 'difference'][i % 3]} of x and ${i}.`;
    const op = ['+', '*', '-'][i % 3];
    return { repo: 'example/repo', path: `m${i % 10}.py`, func_name: `f${i}`, docstring: doc, code: `def f${i}(x):\n    """${doc}"""\n    y = x ${op} ${i}\n    return y`, language: 'python' };
  });
  fs.writeFileSync(path.join(csn, 'python_train_0.jsonl.gz'), zlib.gzipSync(jsonl(fns)));
  const lima = mk('lima');
  // Every tenth conversation has a second exchange (LIMA has a few multi-turn ones), the fifth an unanswered last question.
  fs.writeFileSync(path.join(lima, 'train.jsonl'), jsonl(prose.slice(0, 260).map((p, i) => ({
    conversations: [`What does this passage say (${i})?`, p, ...(i % 10 === 0 ? ['And in a few words?', p.split(' ').slice(0, 6).join(' ')] : []), ...(i % 10 === 5 ? ['Anything else?'] : [])],
    source: 'fixture',
  }))));

  // Tokenizer: trained by the library on the fixture text, cut to the tiny model's 2048 rows (byte alphabet +
  // first merges + EOS), then loaded and saved by the library again with added tokens, GPT-NeoX style.
  const tokDir = mk('tokenizer');
  const sample = path.join(tokDir, 'sample.txt');
  fs.writeFileSync(sample, [...prose, ...code.slice(0, 200)].join('\n\n'));
  const hf = require('tokenizers') as typeof import('tokenizers');
  const trainer = new hf.Tokenizer(hf.BPE.empty());
  trainer.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
  trainer.train([sample]);
  const raw = path.join(tokDir, 'raw.json');
  trainer.save(raw);
  // The whole trained vocabulary (~4k tokens, including code words such as "constructor"), as the library saves it.
  trainer.addSpecialTokens([EOS_TOKEN]);
  const tokenizerFull = path.join(tokDir, 'tokenizer-full.json');
  trainer.save(tokenizerFull);
  const cut = truncateBpe(JSON.parse(fs.readFileSync(raw, 'utf8')), 2040);
  fs.writeFileSync(raw, JSON.stringify(cut));
  const lib = hf.Tokenizer.fromFile(raw);
  lib.addSpecialTokens(['<|padding|>']);
  lib.addTokens(['  ', '\n\n']);
  const tokenizer = path.join(tokDir, 'tokenizer.json');
  lib.save(tokenizer, true);
  // The other merge form: "a b" strings (GPT-NeoX-20B's file has these).
  const json = JSON.parse(fs.readFileSync(tokenizer, 'utf8'));
  json.model.merges = json.model.merges.map((m: string[] | string) => (Array.isArray(m) ? m.join(' ') : m));
  const tokenizerStrings = path.join(tokDir, 'tokenizer-string-merges.json');
  fs.writeFileSync(tokenizerStrings, JSON.stringify(json, null, 2));
  fs.rmSync(raw); fs.rmSync(sample);
  if (!JSON.parse(fs.readFileSync(tokenizer, 'utf8')).added_tokens.some((t: { content: string }) => t.content === EOS_TOKEN)) throw new Error('fixture tokenizer lost its EOS');

  const config = {
    name: 'fixture', preset: opts.preset ?? 'tiny', seed: 7,
    tokenizer: { path: 'tokenizer/tokenizer.json', ...(opts.padTo ? { padTo: opts.padTo } : {}) },
    roles: {
      general: { sources: [{ glob: 'c4/en/c4-train.*-of-00002.json.gz', format: 'jsonl.gz', text: 'text' }], valShare: 0.1, filters: { minChars: 40, dedup: 'exact' } },
      code: { sources: [{ glob: 'starcoderdata/python/*.parquet', format: 'parquet', text: 'content' }], valShare: 0.1 },
      math: { sources: [{ glob: 'openmathinstruct/*.parquet', format: 'parquet', template: 'Question: {question}\nSolution: {generated_solution}' }], valShare: 0.1 },
      instruction: { sources: [{ glob: 'flan/*.jsonl', format: 'jsonl', template: '{inputs}\n\n{targets}' }], valShare: 0.1 },
      knowledge: { sources: [{ glob: 'knowledge/*.txt', format: 'text' }], valShare: 0.1 },
      'web-quality': { sources: [{ glob: 'dclm/*.jsonl.zst', format: 'jsonl.zst', text: 'text' }], valShare: 0.1, filters: { maxChars: 2000 } },
    },
    sft: {
      gsm: { kind: 'gsm8k', format: 'parquet', train: 'gsm8k/main/train-*.parquet', test: 'gsm8k/main/test-*.parquet' },
      sciq: { kind: 'sciq', format: 'parquet', train: 'sciq/data/train-*.parquet', val: 'sciq/data/validation-*.parquet', test: 'sciq/data/test-*.parquet' },
      pycode: { kind: 'codesearchnet-python', format: 'jsonl.gz', train: 'codesearchnet/python/python_train_*.jsonl.gz', cap: { train: 10000 } },
      lima: { kind: 'lima', format: 'jsonl', train: 'lima/train.jsonl' },
    },
  };
  const configFile = path.join(dir, 'data-config.json');
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { dir, config: configFile, tokenizer, tokenizerStrings, tokenizerFull, prose, code };
}
