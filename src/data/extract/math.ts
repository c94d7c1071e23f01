// The "Math" role. The paper's math midtraining data (MAmmoTH, OpenMathInstruct) is word problems with
// worked solutions; our real math text is the manuals of three computer-algebra systems (Maxima, GAP,
// PARI/GP in TeX) and Maxima's regression tests (input → expected result pairs). We add SYNTHETIC worked word problems from the GSM-style generator's TRAIN templates
// only (never its val/test templates), the closest honest analogue of the paper's math mixture.
import * as fs from 'fs';
import * as path from 'path';
import { listFiles, type FetchedSource } from '../sources';
import { chunkParagraphs, htmlToText, normalizeText, type Doc } from '../text';
import { GSM_TRAIN_TEMPLATES, generateProblems } from '../sft/gsm-templates';
import { groupEntries } from './knowledge';

/** Maxima rtest files: alternating "input;" and "expected$" statements, with comments. Chunked by ~4k chars. */
export function maximaTestDocs(src: FetchedSource, key: string): Doc[] {
  const docs: Doc[] = [];
  for (const rel of listFiles(src.dir, (r) => /\/rtest[^/]*\.mac$/.test(r))) {
    const text = normalizeText(fs.readFileSync(path.join(src.dir, rel), 'latin1'));
    chunkParagraphs(text, 4000).forEach((c, i) => docs.push({ id: `${key}/${rel}#${String(i).padStart(3, '0')}`, source: key, text: c }));
  }
  return docs;
}

/** The Maxima reference manual, one document per HTML page (mathematical prose with worked examples). */
export function maximaManualDocs(src: FetchedSource): Doc[] {
  const dir = path.join(src.dir, 'usr/share/doc/maxima-doc/html');
  const docs: Doc[] = [];
  // maxima_singlepage.html repeats the whole manual; the TOC, overview and index pages are lists of links.
  const skip = /(singlepage|_toc|_ovr|_abt)\.html$/;
  for (const rel of listFiles(dir, (r) => r.endsWith('.html') && !skip.test(r))) {
    const text = htmlToText(fs.readFileSync(path.join(dir, rel), 'utf8'));
    if (text.length < 500 || /^[^\n]*\bIndex\s*$/m.test(text.slice(0, 200))) continue;
    chunkParagraphs(text, 8000).forEach((c, i) => docs.push({ id: `maximaDoc/${rel}#${String(i).padStart(3, '0')}`, source: 'maximaDoc', text: c }));
  }
  return docs;
}

/** The GAP manuals (reference + tutorial; computational group theory and algebra), one document per HTML page. */
export function gapManualDocs(src: FetchedSource): Doc[] {
  const dir = path.join(src.dir, 'usr/share/gap/doc');
  const docs: Doc[] = [];
  // chap0.html is each book's table of contents.
  for (const rel of listFiles(dir, (r) => /^(ref|tut)\/chap[1-9]\d*\.html$/.test(r))) {
    const text = htmlToText(fs.readFileSync(path.join(dir, rel), 'utf8'));
    chunkParagraphs(text, 8000).forEach((c, i) => docs.push({ id: `gapDoc/${rel}#${String(i).padStart(3, '0')}`, source: 'gapDoc', text: c }));
  }
  return docs;
}

/** The PARI/GP user's guide and tutorials in TeX (number theory), cut at paragraph breaks. */
export function pariTexDocs(src: FetchedSource): Doc[] {
  const dir = path.join(src.dir, 'usr/share/pari/doc');
  const docs: Doc[] = [];
  for (const rel of listFiles(dir, (r) => /^(usersch\d|tutorial[^/]*|appb|appd)\.tex$/.test(r))) {
    const text = normalizeText(fs.readFileSync(path.join(dir, rel), 'latin1'));
    chunkParagraphs(text, 6000).forEach((c, i) => docs.push({ id: `pariDoc/${rel}#${String(i).padStart(4, '0')}`, source: 'pariDoc', text: c }));
  }
  return docs;
}

/** Synthetic word problems (train templates only), a few per document, in GSM8K's question/answer layout. */
export function syntheticWordProblemDocs(n: number, seed: number): Doc[] {
  const items = generateProblems(GSM_TRAIN_TEMPLATES, n, seed).map((p) => `Question: ${p.question}\nAnswer: ${p.solution}`);
  return groupEntries('synthetic-gsm', 'synthetic', items, 1500);
}

export const MATH_SOURCES = ['maximaTest', 'maximaShare', 'maximaDoc', 'gapDoc', 'pariDoc'] as const;

export function mathDocs(s: Record<(typeof MATH_SOURCES)[number], FetchedSource>, nSynthetic: number, seed: number): Doc[] {
  return [
    ...maximaTestDocs(s.maximaTest, 'maximaTest'),
    ...maximaTestDocs(s.maximaShare, 'maximaShare'),
    ...maximaManualDocs(s.maximaDoc),
    ...gapManualDocs(s.gapDoc),
    ...pariTexDocs(s.pariDoc),
    ...syntheticWordProblemDocs(nSynthetic, seed),
  ];
}
