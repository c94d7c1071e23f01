// The "Math" role. The paper's math midtraining data (MAmmoTH, OpenMathInstruct) is word problems with
// worked solutions; our real math text is Maxima's manual and its regression tests (input → expected
// result pairs). We add SYNTHETIC worked word problems from the GSM-style generator's TRAIN templates
// only (never its val/test templates), the closest honest analogue of the paper's math mixture.
import * as fs from 'fs';
import * as path from 'path';
import { listFiles, type FetchedSource } from '../sources';
import { chunkParagraphs, dedup, htmlToText, normalizeText, type Doc } from '../text';
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
  for (const rel of listFiles(dir, (r) => r.endsWith('.html'))) {
    const text = htmlToText(fs.readFileSync(path.join(dir, rel), 'utf8'));
    if (text.length < 500) continue;
    chunkParagraphs(text, 8000).forEach((c, i) => docs.push({ id: `maximaDoc/${rel}#${String(i).padStart(3, '0')}`, source: 'maximaDoc', text: c }));
  }
  return docs;
}

/** Synthetic word problems (train templates only), a few per document, in GSM8K's question/answer layout. */
export function syntheticWordProblemDocs(n: number, seed: number): Doc[] {
  const items = generateProblems(GSM_TRAIN_TEMPLATES, n, seed).map((p) => `Question: ${p.question}\nAnswer: ${p.solution}`);
  return groupEntries('synthetic-gsm', 'synthetic', items, 1500);
}

export function mathDocs(s: { maximaTest: FetchedSource; maximaShare: FetchedSource; maximaDoc: FetchedSource }, nSynthetic: number, seed: number): Doc[] {
  return dedup([
    ...maximaTestDocs(s.maximaTest, 'maximaTest'),
    ...maximaTestDocs(s.maximaShare, 'maximaShare'),
    ...maximaManualDocs(s.maximaDoc),
    ...syntheticWordProblemDocs(nSynthetic, seed),
  ]);
}
