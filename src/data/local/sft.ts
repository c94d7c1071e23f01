// SFT tasks from the datasets' own files, in the same prompt formats as the built-in stand-ins so that the
// answer checkers (src/data/sft/checkers.ts) apply unchanged:
//   GSM8K        question, answer ("... #### 72")              → gsm: the number after ####
//   SciQ         question, distractor1..3, correct_answer      → sciq: the option letter
//   CodeSearchNet-Python  docstring/code (or func_documentation_string/func_code_string) → pycode: the body
//   LIMA         conversations [question, answer, ...]          → lima: one example per answer, the earlier
//                turns as its context (a conversation's examples share a split); unigram-F1 proxy
// Splits the dataset ships are kept; a missing val/test is carved from train by a seeded hash of the id.
import * as path from 'path';
import { hashUnit } from '../prng';
import { readRecords, expandGlob, getField, type SourceRecord } from './readers';
import { type LoadedDataConfig, type SftKind, type SftSpec } from './config';
import type { SftExample } from '../types';
import type { SftTaskName } from '../../config';

export interface SftBuild {
  train: SftExample[]; val: SftExample[]; test: SftExample[];
  /** Source files read (config-relative name, absolute path). */
  files: Array<{ name: string; file: string }>;
  /** Records skipped and why (no response turn, no parsable signature, too long). */
  skipped: Record<string, number>;
  /** Examples per split left out (before the cap) because they do not fit the model's context in tokens. */
  tooLong: { train: number; val: number; test: number };
}

function need(rec: SourceRecord, file: string, field: string): string {
  const v = getField(rec.value, field);
  if (typeof v === 'string') return v;
  throw new Error(`data: ${file} ${rec.where}: ${v === undefined || v === null ? `has no field "${field}"` : `field "${field}" is not text`}`);
}
function first(rec: SourceRecord, file: string, fields: string[]): string {
  for (const f of fields) if (typeof getField(rec.value, f) === 'string') return getField(rec.value, f) as string;
  return need(rec, file, fields[0]);
}

/** GSM8K's final answer: the number after "####", commas removed. */
export function gsmFinalAnswer(answer: string): string | null {
  const m = answer.match(/####\s*(-?[\d,]*\.?\d+)\s*$/);
  return m ? m[1].replace(/,/g, '') : null;
}

/** A CodeSearchNet function split into signature, body (docstring removed); null when no `def ...:` header is found. */
export function splitPythonFunction(code: string): { signature: string; body: string } | null {
  const lines = code.replace(/\r/g, '').split('\n');
  let end = -1;
  for (let i = 0; i < Math.min(lines.length, 30); i++) {
    if (/^\s*(async\s+)?def\s/.test(lines[0]) && /:\s*(#.*)?$/.test(lines[i]) && /\)\s*(->[^:]*)?:\s*(#.*)?$/.test(lines[i])) { end = i; break; }
  }
  if (end < 0) return null;
  const signature = lines.slice(0, end + 1).join('\n');
  let rest = lines.slice(end + 1).join('\n');
  const doc = rest.match(/^\s*[rRuU]?("""|''')[\s\S]*?\1[^\n]*\n?/);
  if (doc) rest = rest.slice(doc[0].length);
  const body = rest.replace(/\s+$/, '');
  return body.trim() ? { signature, body } : null;
}

/**
 * A multi-turn conversation as examples, one per answer: the prompt holds every earlier turn as
 * "Question: …\nAnswer: …" lines and ends with this answer's question; the loss falls on this answer only.
 * The first example is the single-turn one (same id and prompt); a last question without an answer is dropped.
 */
export function conversationExamples(turns: string[], id: string): SftExample[] {
  const out: SftExample[] = [];
  let context = '';
  for (let k = 0; k + 1 < turns.length; k += 2) {
    const [q, a] = [turns[k], turns[k + 1]];
    out.push({ id: k === 0 ? id : `${id}.t${k / 2}`, prompt: `${context}Question: ${q}\nAnswer:`, response: ` ${a}`, answer: a });
    context += `Question: ${q}\nAnswer: ${a}\n`;
  }
  return out;
}

function example(kind: SftKind, rec: SourceRecord, file: string, id: string, seed: number, skipped: Record<string, number>): SftExample | SftExample[] | null {
  switch (kind) {
    case 'gsm8k': {
      const question = need(rec, file, 'question'), answer = need(rec, file, 'answer');
      const final = gsmFinalAnswer(answer);
      if (final === null) throw new Error(`data: ${file} ${rec.where}: field "answer" has no final "#### <number>"`);
      return { id, prompt: `Question: ${question}\nAnswer:`, response: ` ${answer}`, answer: final };
    }
    case 'sciq': {
      const question = need(rec, file, 'question'), correct = need(rec, file, 'correct_answer');
      const options = [correct, need(rec, file, 'distractor1'), need(rec, file, 'distractor2'), need(rec, file, 'distractor3')];
      // The correct option's position is a seeded hash of the id: balanced letters, reproducible.
      const pos = Math.floor(hashUnit(id, seed) * 4);
      const choices = options.slice(1);
      choices.splice(pos, 0, correct);
      const letter = 'ABCD'[pos];
      const prompt = `Question: ${question}\n` + choices.map((c, i) => `${'ABCD'[i]}. ${c}`).join('\n') + '\nAnswer:';
      return { id, prompt, response: ` ${letter}. ${correct}`, answer: letter, choices };
    }
    case 'codesearchnet-python': {
      const doc = first(rec, file, ['docstring', 'func_documentation_string']).trim();
      const code = first(rec, file, ['code', 'func_code_string', 'original_string', 'whole_func_string']);
      const fn = splitPythonFunction(code);
      if (!fn || !doc) { skipped.noFunction = (skipped.noFunction ?? 0) + 1; return null; }
      return { id, prompt: `${fn.signature}\n    """${doc}"""\n`, response: fn.body + '\n', answer: fn.body };
    }
    case 'lima': {
      const conv = getField(rec.value, 'conversations');
      const turns = Array.isArray(conv) ? conv : conv && typeof conv === 'object' && Array.isArray((conv as { list?: unknown }).list) ? (conv as { list: unknown[] }).list : undefined;
      if (!turns) throw new Error(`data: ${file} ${rec.where}: field "conversations" is ${conv === undefined ? 'missing' : 'not a list'}`);
      if (turns.length < 2) { skipped.noResponse = (skipped.noResponse ?? 0) + 1; return null; } // LIMA's test split has prompts only
      const bad = turns.findIndex((t) => typeof t !== 'string');
      if (bad >= 0) throw new Error(`data: ${file} ${rec.where}: conversations[${bad}] is not text`);
      return conversationExamples(turns as string[], id);
    }
  }
}

const COLUMNS: Record<SftKind, string[]> = {
  gsm8k: ['question', 'answer'],
  sciq: ['question', 'distractor1', 'distractor2', 'distractor3', 'correct_answer'],
  'codesearchnet-python': [], // two naming schemes exist: read all columns
  lima: ['conversations'],
};

/** Keep the k examples with the smallest seeded hash of their id (order-independent, bounded memory). */
class SeededCap {
  private items: Array<{ u: number; ex: SftExample }> = [];
  constructor(private k: number, private seed: number) {}
  add(ex: SftExample): void {
    this.items.push({ u: hashUnit(ex.id, this.seed), ex });
    if (this.items.length >= 2 * this.k + 1024) this.trim();
  }
  private trim(): void {
    this.items.sort((a, b) => a.u - b.u || (a.ex.id < b.ex.id ? -1 : 1));
    this.items.length = Math.min(this.items.length, this.k);
  }
  result(): SftExample[] { this.trim(); return this.items.map((x) => x.ex); }
}

/** Build one SFT task from its files. */
export async function buildSftTask(cfg: LoadedDataConfig, task: SftTaskName, seed: number, fits: (ex: SftExample) => boolean = () => true): Promise<SftBuild> {
  const spec: SftSpec = cfg.config.sft[task];
  const carve = spec.carveShare ?? 0.1;
  const cap = { train: spec.cap?.train ?? Infinity, val: spec.cap?.val ?? Infinity, test: spec.cap?.test ?? Infinity };
  const caps = { train: new SeededCap(cap.train, seed), val: new SeededCap(cap.val, seed), test: new SeededCap(cap.test, seed) };
  const skipped: Record<string, number> = {};
  const tooLong = { train: 0, val: 0, test: 0 };
  const files: SftBuild['files'] = [];
  for (const split of ['train', 'val', 'test'] as const) {
    const glob = spec[split];
    if (!glob) continue;
    const matched = expandGlob(glob, cfg.dir);
    if (matched.length === 0) throw new Error(`data config ${cfg.file}: sft.${task}.${split} "${glob}" matches no files`);
    for (const file of matched) {
      const name = path.relative(cfg.dir, file);
      files.push({ name, file });
      for await (const rec of readRecords(file, spec.format, COLUMNS[spec.kind])) {
        const id = `${task}/${name}#${rec.index}`;
        const made = example(spec.kind, rec, file, id, seed, skipped);
        if (!made) continue;
        let to: 'train' | 'val' | 'test' = split;
        if (split === 'train') {
          // Carve missing splits from train: [0, carve) → val, [carve, 2·carve) → test. By the record's id, so
          // the examples of one conversation land in the same split.
          const u = hashUnit(id, seed + 1);
          if (!spec.val && u < carve) to = 'val';
          else if (!spec.test && u >= carve && u < 2 * carve) to = 'test';
        }
        for (const ex of Array.isArray(made) ? made : [made]) {
          if (spec.maxChars && ex.prompt.length + ex.response.length > spec.maxChars) { skipped.tooLong = (skipped.tooLong ?? 0) + 1; continue; }
          if (fits(ex)) caps[to].add(ex); else tooLong[to]++;
        }
      }
    }
  }
  const out = { train: caps.train.result(), val: caps.val.result(), test: caps.test.result(), files, skipped, tooLong };
  for (const s of ['train', 'val', 'test'] as const) {
    if (out[s].length === 0) throw new Error(`data config ${cfg.file}: sft.${task} has no ${s} examples (files: ${files.map((f) => f.name).join(', ')})`);
  }
  return out;
}
