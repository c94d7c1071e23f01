// The "FLAN" role: instruction-formatted tasks made from real resources, one example = an instruction,
// an input and the target, FLAN style. Tasks: WordNet relations (define, name the word, synonyms,
// antonyms, hypernyms; science nouns excluded) and the BSD quiz tables (capitals, elements, Latin, ...).
// Examples are grouped ~10 per document so documents are not dominated by end-of-text tokens.
import * as fs from 'fs';
import * as path from 'path';
import type { FetchedSource } from '../sources';
import { Rng } from '../prng';
import type { Doc } from '../text';
import { groupEntries } from './knowledge';
import { SCIENCE_LEXNAMES, type Synset } from './wordnet';

/** Quiz notation → the plain first reading: {optional} kept, [a|b] and a|b take the first alternative. */
export function quizText(s: string): string {
  let t = s;
  for (let i = 0; i < 10 && /[{[]/.test(t); i++) {
    t = t.replace(/\{([^{}[\]]*)\}/g, '$1').replace(/\[([^{}[\]]*)\]/g, (_m, x: string) => x.split('|')[0]);
  }
  return t.split('|')[0].trim();
}

export interface QuizTable { file: string; columns: string[]; rows: string[][] }

export function readQuizTables(src: FetchedSource): QuizTable[] {
  const dir = path.join(src.dir, 'usr/share/games/bsdgames/quiz');
  const index = fs.readFileSync(path.join(dir, 'index'), 'utf8').split('\n').filter(Boolean);
  const out: QuizTable[] = [];
  for (const line of index) {
    const [file, ...cols] = line.split(':');
    const name = path.basename(file);
    const p = path.join(dir, name);
    if (!fs.existsSync(p) || ['arith', 'mult', 'seq-easy', 'seq-hard', 'morse', 'ed', 'ucc', 'posneg', 'bard'].includes(name)) continue;
    const rows = fs.readFileSync(p, 'latin1').replace(/\\\n/g, '').split('\n').filter((l) => l.includes(':')).map((l) => l.split(':').map(quizText));
    out.push({ file: name, columns: cols.map(quizText), rows: rows.filter((r) => r.every((c) => c.length > 0)) });
  }
  return out;
}

function quizExamples(tables: QuizTable[]): string[] {
  const out: string[] = [];
  for (const t of tables) {
    const [a, ...rest] = t.columns;
    for (const row of t.rows) {
      rest.forEach((b, k) => {
        if (row[k + 1] === undefined) return;
        out.push(`Instruction: Give the ${b} for the given ${a}.\nInput: ${row[0]}\nOutput: ${row[k + 1]}`);
        out.push(`Instruction: Which ${a} has the ${b} "${row[k + 1]}"?\nOutput: ${row[0]}`);
      });
    }
  }
  return out;
}

function article(w: string): string { return /^[aeiou]/i.test(w) ? 'an' : 'a'; }

function wordnetExamples(synsets: Map<string, Synset>, rng: Rng): string[] {
  const out: string[] = [];
  const posName = { n: 'noun', v: 'verb', a: 'adjective', r: 'adverb' } as const;
  for (const s of synsets.values()) {
    if (SCIENCE_LEXNAMES.has(s.lexname)) continue;
    const w = s.words[0];
    const kinds: string[] = ['define', 'name'];
    if (s.words.length > 1) kinds.push('synonym');
    if (s.antonyms.length) kinds.push('antonym');
    if (s.pos === 'n' && s.hypernyms.length) kinds.push('hypernym');
    if (s.examples.length) kinds.push('use');
    // Two distinct task kinds per synset (FLAN uses several templates per source example).
    for (const k of rng.sample(kinds, 2)) {
    if (k === 'define') out.push(`Instruction: Define the ${posName[s.pos]} "${w}".\nOutput: ${s.definition}.`);
    else if (k === 'name') out.push(`Instruction: Name the ${posName[s.pos]} that means: ${s.definition}.\nOutput: ${w}`);
    else if (k === 'synonym') out.push(`Instruction: Give a synonym of "${w}".\nOutput: ${s.words.slice(1).join(', ')}`);
    else if (k === 'antonym') {
      const a = synsets.get(s.antonyms[0]);
      if (a) out.push(`Instruction: What is the opposite of "${w}"?\nOutput: ${a.words[0]}`);
    } else if (k === 'hypernym') {
      const h = synsets.get(s.hypernyms[0]);
      if (h) out.push(`Instruction: Complete the sentence: ${article(w)} ${w} is a kind of ...\nOutput: ${h.words[0]}`);
    } else if (k === 'use') out.push(`Instruction: Write a sentence using "${w}".\nOutput: ${s.examples[0][0].toUpperCase()}${s.examples[0].slice(1)}.`);
    }
  }
  return out;
}

export function instructionDocs(s: { bsdgames: FetchedSource }, synsets: Map<string, Synset>, seed: number): Doc[] {
  const rng = new Rng(seed);
  // Interleave tasks (seeded) so each document mixes task kinds, like FLAN's mixture.
  // Duplicate examples (the same quiz fact in two tables, homonymous synsets) are dropped before grouping.
  const examples = rng.shuffle([...new Set([...wordnetExamples(synsets, rng), ...quizExamples(readQuizTables(s.bsdgames))])]);
  return groupEntries('flan', 'instruction', examples, 1500);
}
