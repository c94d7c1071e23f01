// The "KnowledgeQA" role: encyclopaedic and lexical knowledge as definitions and question/answer text:
// GCIDE (Webster 1913 + WordNet), FOLDOC (computing), and WordNet definitions as Q/A. WordNet's
// natural-science nouns are kept out: they become the SciQ-style SFT task.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { FetchedSource } from '../sources';
import { normalizeText, type Doc } from '../text';
import { SCIENCE_LEXNAMES, type Synset } from './wordnet';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function b64num(s: string): number {
  let n = 0;
  for (const c of s) n = n * 64 + B64.indexOf(c);
  return n;
}

/** Entries of a dictd database (.index + .dict.dz), in index order, one per distinct offset. */
export function readDictd(dir: string, name: string): Array<{ head: string; body: string }> {
  const index = fs.readFileSync(path.join(dir, `${name}.index`), 'utf8');
  const dict = zlib.gunzipSync(fs.readFileSync(path.join(dir, `${name}.dict.dz`)));
  const seen = new Set<number>();
  const out: Array<{ head: string; body: string }> = [];
  for (const line of index.split('\n')) {
    const [head, off, len] = line.split('\t');
    if (!len || head.startsWith('00-database') || head.startsWith('00database')) continue;
    const o = b64num(off);
    if (seen.has(o)) continue;
    seen.add(o);
    out.push({ head, body: dict.subarray(o, o + b64num(len)).toString('utf8') });
  }
  return out;
}

function cleanGcide(body: string): string {
  return normalizeText(body
    .replace(/^\s*\[[^\]\n]*(Webster|WordNet|PJC|Century)[^\]\n]*\]\s*$/gm, '')
    .replace(/[{}]/g, '')
    // Webster's pronunciation notation (\Or*ches"tre\) is markup, not text.
    .replace(/ ?\\[^\\\n]*\\/g, '')
    .replace(/\s\?(?=[\s,;.])/g, ''));
}

function cleanFoldoc(body: string): string {
  return normalizeText(body.replace(/[{}]/g, '').replace(/^\s*\(\d{4}-\d\d-\d\d\)\s*$/gm, ''));
}

/** Group short entries into documents of about `target` characters, in a fixed order. */
export function groupEntries(prefix: string, source: string, entries: string[], target: number): Doc[] {
  const docs: Doc[] = [];
  let cur: string[] = [];
  let len = 0;
  const flush = () => {
    if (cur.length) docs.push({ id: `${prefix}#${String(docs.length).padStart(6, '0')}`, source, text: cur.join('\n\n') });
    cur = []; len = 0;
  };
  for (const e of entries) {
    cur.push(e);
    len += e.length;
    if (len >= target) flush();
  }
  flush();
  return docs;
}

export function gcideDocs(src: FetchedSource): Doc[] {
  const entries = readDictd(path.join(src.dir, 'usr/share/dictd'), 'gcide').map((e) => cleanGcide(e.body)).filter((t) => t.length > 40);
  // Entries repeated under several headwords are kept once.
  return groupEntries('gcide', 'gcide', [...new Set(entries)], 3000);
}

export function foldocDocs(src: FetchedSource): Doc[] {
  const entries = readDictd(path.join(src.dir, 'usr/share/dictd'), 'foldoc').map((e) => cleanFoldoc(e.body)).filter((t) => t.length > 60);
  return groupEntries('foldoc', 'foldoc', [...new Set(entries)], 3000);
}

/** WordNet definitions as short Q/A, excluding the science nouns reserved for the SciQ-style task. */
export function wordnetQaDocs(synsets: Map<string, Synset>): Doc[] {
  const entries: string[] = [];
  for (const s of synsets.values()) {
    if (SCIENCE_LEXNAMES.has(s.lexname) || s.pos !== 'n') continue;
    const w = s.words[0];
    let qa = `Q: What is ${/^[aeiou]/i.test(w) ? 'an' : 'a'} ${w}?\nA: ${s.definition[0].toUpperCase()}${s.definition.slice(1)}.`;
    if (s.words.length > 1) qa += ` It is also called ${s.words.slice(1).join(', ')}.`;
    entries.push(qa);
  }
  return groupEntries('wordnet-qa', 'wordnet', [...new Set(entries)], 2000);
}

export function knowledgeDocs(s: { gcide: FetchedSource; foldoc: FetchedSource }, synsets: Map<string, Synset>): Doc[] {
  return [...gcideDocs(s.gcide), ...foldocDocs(s.foldoc), ...wordnetQaDocs(synsets)];
}
