// The four SFT tasks as prompt/response pairs with train/val/test splits (seeded, by document/file/template):
//  pycode — docstring + signature → function body, cut from SymPy (CodeSearchNet-style; SymPy is not in the code role)
//  gsm    — SYNTHETIC GSM8K-style word problems, split by template (val/test templates unseen in training)
//  sciq   — 4-way multiple-choice science questions from WordNet's natural-science nouns, distractors from the same field
//  lima   — general questions with real answers from the Python, Perl and Debian FAQs (LIMA-style)
import * as fs from 'fs';
import * as path from 'path';
import { listFiles, type FetchedSource } from '../sources';
import { hashUnit, Rng } from '../prng';
import { decodeEntities, dedupKey, htmlToText, normalizeText } from '../text';
import type { SftExample } from '../types';
import type { SftTaskName } from '../../config';
import { GSM_TEST_TEMPLATES, GSM_TRAIN_TEMPLATES, GSM_VAL_TEMPLATES, generateProblems } from './gsm-templates';
import { SCIENCE_LEXNAMES, type Synset } from '../extract/wordnet';
import { choiceResponse } from './checkers';

export interface SplitExamples { train: SftExample[]; val: SftExample[]; test: SftExample[] }

export const TASK_DESCRIPTIONS: Record<SftTaskName, string> = {
  pycode: 'CodeSearchNet-style Python: given a SymPy function signature and its docstring, write the body. Split by source file; SymPy is excluded from the code midtraining role. Accuracy: whitespace-normalised exact match of the body.',
  gsm: 'SYNTHETIC GSM8K-style math word problems (templated, seeded), worked solutions ending in "#### answer". Split by template: val and test templates are never seen in training. Accuracy: exact numeric match after ####.',
  sciq: 'SciQ-style 4-way multiple-choice science questions built from WordNet natural-science nouns (animals, plants, body, substances, phenomena, processes, natural objects) with distractors from the same field. Accuracy: the option whose response (" B. word") has the highest summed log-likelihood (lm-evaluation-harness acc).',
  lima: 'LIMA-style general questions with real human-written answers from the Python FAQ, the Perl FAQ (perlfaq) and the Debian FAQ. Accuracy proxy: unigram F1 >= 0.4 against the reference answer.',
};

/** Assign by a hash of a group key so that all examples of one file/synset land in the same split. */
function splitOf(group: string, seed: number, valFrac: number, testFrac: number): 'train' | 'val' | 'test' {
  const u = hashUnit(group, seed);
  return u < testFrac ? 'test' : u < testFrac + valFrac ? 'val' : 'train';
}

function byGroup(items: Array<{ ex: SftExample; group: string }>, seed: number, valFrac: number, testFrac: number): SplitExamples {
  const out: SplitExamples = { train: [], val: [], test: [] };
  const seen = new Set<string>();
  for (const { ex, group } of items) {
    // One example per prompt: the same signature + docstring (or question) in two files must not straddle splits.
    const k = dedupKey(ex.prompt);
    if (seen.has(k)) continue;
    seen.add(k);
    out[splitOf(group, seed, valFrac, testFrac)].push(ex);
  }
  return out;
}

// ---------------------------------------------------------------- pycode

/** Top-level and method `def`s with a docstring, from one Python file. */
export function docstringFunctions(source: string): Array<{ name: string; signature: string; doc: string; body: string }> {
  const lines = source.replace(/\r/g, '').split('\n');
  const out: Array<{ name: string; signature: string; doc: string; body: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/^(\s*)def (\w+)\(.*\).*:\s*$/);
    if (!m) continue;
    const indent = m[1].length;
    const d = lines[i + 1]?.match(/^(\s+)[rRuU]?("""|''')(.*)$/);
    if (!d || d[1].length <= indent) continue;
    const q = d[2];
    // Collect the docstring up to its closing quotes.
    let j = i + 1;
    let docText = d[3];
    if (!docText.includes(q)) {
      while (++j < lines.length && !lines[j].includes(q)) docText += '\n' + lines[j];
      if (j >= lines.length) continue;
      docText += '\n' + lines[j].slice(0, lines[j].indexOf(q));
    } else docText = docText.slice(0, docText.indexOf(q));
    const bodyIndent = d[1].length;
    const body: string[] = [];
    let k = j + 1;
    for (; k < lines.length; k++) {
      const l = lines[k];
      if (l.trim() && l.length - l.trimStart().length < bodyIndent) break;
      body.push(l);
    }
    while (body.length && !body[body.length - 1].trim()) body.pop();
    if (!body.length) continue;
    // First paragraph of the docstring, dedented: the "summary" CodeSearchNet uses.
    const summary = docText.split(/\n\s*\n/)[0].split('\n').map((l) => l.trim()).join(' ').trim();
    const dedent = (l: string) => (l.trim() ? ' '.repeat(4) + l.slice(bodyIndent) : '');
    out.push({ name: m[2], signature: lines[i].slice(indent), doc: summary, body: body.map(dedent).join('\n') });
    i = k - 1;
  }
  return out;
}

export function pycodeExamples(sympy: FetchedSource, maxChars: number, seed: number): SplitExamples {
  const items: Array<{ ex: SftExample; group: string }> = [];
  for (const rel of listFiles(sympy.dir, (r) => r.endsWith('.py') && r.includes('/sympy/') && !r.includes('/tests/'))) {
    const fns = docstringFunctions(fs.readFileSync(path.join(sympy.dir, rel), 'utf8'));
    fns.forEach((f, i) => {
      if (f.doc.length < 15 || f.doc.length > 300 || /^[-=]/.test(f.doc)) return;
      const prompt = `${f.signature}\n    """${f.doc}"""\n`;
      const response = f.body + '\n';
      if (prompt.length + response.length > maxChars) return;
      items.push({ ex: { id: `pycode/${rel}:${f.name}:${i}`, prompt, response, answer: f.body }, group: rel });
    });
  }
  return byGroup(items, seed, 0.1, 0.1);
}

// ---------------------------------------------------------------- gsm (synthetic)

export function gsmExamples(n: { train: number; val: number; test: number }, seed: number): SplitExamples {
  const make = (templates: string[], count: number, s: number, split: string): SftExample[] =>
    generateProblems(templates, count, s).map((p, i) => ({
      id: `gsm/${split}/${p.template}/${i}`, prompt: `Question: ${p.question}\nAnswer:`, response: ` ${p.solution}`, answer: String(p.answer),
    }));
  // Different seeds from the math role's synthetic problems (which use train templates only).
  return {
    train: make(GSM_TRAIN_TEMPLATES, n.train, seed + 1, 'train'),
    val: make(GSM_VAL_TEMPLATES, n.val, seed + 2, 'val'),
    test: make(GSM_TEST_TEMPLATES, n.test, seed + 3, 'test'),
  };
}

// ---------------------------------------------------------------- sciq

export function sciqExamples(synsets: Map<string, Synset>, seed: number): SplitExamples {
  const byLex = new Map<string, Synset[]>();
  for (const s of synsets.values()) {
    if (s.pos !== 'n' || !SCIENCE_LEXNAMES.has(s.lexname)) continue;
    const w = s.words[0];
    if (w.length < 3 || /[A-Z0-9]/.test(w) || s.definition.length < 20 || s.definition.length > 160) continue;
    if (!byLex.has(s.lexname)) byLex.set(s.lexname, []);
    byLex.get(s.lexname)!.push(s);
  }
  const rng = new Rng(seed);
  const items: Array<{ ex: SftExample; group: string }> = [];
  for (const lex of [...byLex.keys()].sort()) {
    const pool = byLex.get(lex)!;
    for (const s of pool) {
      const answerWord = s.words[0];
      const distractors: string[] = [];
      while (distractors.length < 3) {
        const d = rng.pick(pool).words[0];
        if (d !== answerWord && !distractors.includes(d) && !s.words.includes(d)) distractors.push(d);
      }
      const pos = rng.int(0, 3);
      const choices = distractors.slice();
      choices.splice(pos, 0, answerWord);
      const letter = 'ABCD'[pos];
      const field = lex.replace('noun.', '');
      const prompt = `Question: Which ${field === 'body' ? 'part of the body' : field === 'animal' || field === 'plant' ? field : 'term'} is described as "${s.definition}"?\n` +
        choices.map((c, i) => `${'ABCD'[i]}. ${c}`).join('\n') + '\nAnswer:';
      items.push({ ex: { id: `sciq/${s.key}`, prompt, response: choiceResponse(pos, answerWord), answer: letter, choices }, group: s.key });
    }
  }
  return byGroup(items, seed, 0.1, 0.1);
}

// ---------------------------------------------------------------- lima (FAQs)

/** Inline reStructuredText → text: roles, literals, links. */
function rstInline(s: string): string {
  return s
    .replace(/:[a-z:]+:`~?([^`<]*?)(\s*<[^>]*>)?`/g, '$1')
    .replace(/``([^`]*)``/g, '$1')
    .replace(/`([^`<]*?)\s*<[^>]*>`_+/g, '$1')
    .replace(/`([^`]*)`_*/g, '$1')
    .replace(/\*\*([^*]*)\*\*/g, '$1');
}

export function pythonFaqPairs(src: FetchedSource): Array<{ q: string; a: string; id: string }> {
  const dir = path.join(src.dir, 'usr/share/doc/python3.11/html/_sources/faq');
  const out: Array<{ q: string; a: string; id: string }> = [];
  for (const f of listFiles(dir, (r) => r.endsWith('.rst.txt'))) {
    const lines = fs.readFileSync(path.join(dir, f), 'utf8').split('\n');
    let q: string | null = null;
    let buf: string[] = [];
    const flush = () => { if (q && q.endsWith('?')) out.push({ q, a: rstInline(buf.join('\n')), id: `pythonFaq/${f}:${out.length}` }); };
    for (let i = 0; i < lines.length; i++) {
      if (i + 1 < lines.length && /^[-=~^"]{4,}\s*$/.test(lines[i + 1]) && lines[i].trim() && !/^[-=~^"]{4,}/.test(lines[i])) {
        flush(); q = rstInline(lines[i].trim()); buf = []; i++; continue;
      }
      if (/^\.\. /.test(lines[i])) continue;
      buf.push(lines[i]);
    }
    flush();
  }
  return out;
}

export function perlFaqPairs(src: FetchedSource): Array<{ q: string; a: string; id: string }> {
  const dir = path.join(src.dir, 'usr/share/perl/5.36.0/pod');
  const out: Array<{ q: string; a: string; id: string }> = [];
  for (const f of listFiles(dir, (r) => /^perlfaq\d\.pod$/.test(r))) {
    const parts = fs.readFileSync(path.join(dir, f), 'utf8').split(/^=head2 /m).slice(1);
    for (const p of parts) {
      const nl = p.indexOf('\n');
      const q = p.slice(0, nl).replace(/[A-Z]<([^<>]*)>/g, '$1').trim();
      const a = p.slice(nl + 1).split(/^=head1 /m)[0]
        .replace(/^=(over|item|back|begin|end|for)\b.*$/gm, '')
        .replace(/[A-Z]<<+\s*(.*?)\s*>>+/g, '$1')
        .replace(/[A-Z]<([^<>]*)>/g, '$1').replace(/[A-Z]<([^<>]*)>/g, '$1');
      if (q.endsWith('?')) out.push({ q, a, id: `perlFaq/${f}:${out.length}` });
    }
  }
  return out;
}

export function debianFaqPairs(src: FetchedSource): Array<{ q: string; a: string; id: string }> {
  const dir = path.join(src.dir, 'usr/share/doc/debian/FAQ');
  const out: Array<{ q: string; a: string; id: string }> = [];
  for (const f of listFiles(dir, (r) => r.endsWith('.en.html') && !r.startsWith('index'))) {
    const html = fs.readFileSync(path.join(dir, f), 'utf8');
    const parts = html.split(/<h3 class="title">/).slice(1);
    for (const p of parts) {
      const end = p.indexOf('</h3>');
      const q = decodeEntities(p.slice(0, end).replace(/<[^>]+>/g, '')).replace(/^[\d.]+\s*/, '').replace(/\s+/g, ' ').trim();
      const a = htmlToText(p.slice(end + 5));
      if (q.endsWith('?')) out.push({ q, a, id: `debianFaq/${f}:${out.length}` });
    }
  }
  return out;
}

export function limaExamples(s: { pythonDoc: FetchedSource; perlDoc: FetchedSource; debianFaq: FetchedSource }, maxChars: number, seed: number): SplitExamples {
  const pairs = [...pythonFaqPairs(s.pythonDoc), ...perlFaqPairs(s.perlDoc), ...debianFaqPairs(s.debianFaq)];
  const items: Array<{ ex: SftExample; group: string }> = [];
  for (const p of pairs) {
    let a = normalizeText(p.a);
    if (a.length < 40) continue;
    // Long answers are cut at a paragraph boundary so the example fits the preset's context.
    const budget = maxChars - p.q.length - 20;
    if (a.length > budget) {
      const paras = a.split('\n\n');
      let cut = '';
      for (const para of paras) { if ((cut + para).length > budget) break; cut += (cut ? '\n\n' : '') + para; }
      if (cut.length < 40) continue;
      a = cut;
    }
    items.push({ ex: { id: `lima/${p.id}`, prompt: `Question: ${p.q}\nAnswer:`, response: ` ${a}`, answer: a }, group: p.id });
  }
  return byGroup(items, seed, 0.12, 0.12);
}
