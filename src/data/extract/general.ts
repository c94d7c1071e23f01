// The "C4" role: general English prose only (books, speeches, the Brown corpus, personal e-mail).
// No technical documentation here: the general val split is where forgetting is measured.
import * as fs from 'fs';
import * as path from 'path';
import { type FetchedSource } from '../sources';
import { listFiles } from '../sources';
import { chunkParagraphs, dropFrequentLines, letterFraction, normalizeText, type Doc } from '../text';

/** Books are cut into ~6k-character documents at paragraph breaks (about a chapter section), split by book. */
const BOOK_CHUNK_CHARS = 6000;

export function gutenbergDocs(src: FetchedSource): Doc[] {
  const dir = path.join(src.dir, 'package', 'gutenberg');
  const docs: Doc[] = [];
  for (const f of listFiles(dir, (r) => r.endsWith('.txt'))) {
    // The first line is a "[Title by Author Year]" banner added by the corpus, not text.
    const text = normalizeText(fs.readFileSync(path.join(dir, f), 'latin1').replace(/^\[[^\]]*\]\s*/, ''));
    // A book's sections share its group: train and val never hold the same book.
    chunkParagraphs(text, BOOK_CHUNK_CHARS).forEach((c, i) => docs.push({ id: `gutenberg/${f}#${String(i).padStart(4, '0')}`, source: 'gutenberg', text: c, group: `gutenberg/${f}` }));
  }
  return docs;
}

export function sotuDocs(src: FetchedSource): Doc[] {
  const dir = path.join(src.dir, 'package', 'data');
  return listFiles(dir, (r) => r.endsWith('.txt')).map((f) => ({
    id: `sotu/${f}`, source: 'sotu', text: normalizeText(fs.readFileSync(path.join(dir, f), 'utf8')),
  }));
}

/** Brown corpus files are "word/tag" tokens; strip the tags and re-join punctuation. */
export function brownToText(raw: string): string {
  const paras = raw.split(/\n\s*\n/).map((p) =>
    p.split(/\s+/).filter(Boolean).map((tok) => {
      const slash = tok.lastIndexOf('/');
      return slash > 0 ? tok.slice(0, slash) : tok;
    }).join(' '));
  return normalizeText(paras.join('\n\n')
    .replace(/ ([.,;:!?)'])/g, '$1').replace(/([(]) /g, '$1')
    .replace(/``\s*/g, '"').replace(/\s*''/g, '"').replace(/ n't/g, "n't"));
}

export function brownDocs(src: FetchedSource): Doc[] {
  const dir = path.join(src.dir, 'package');
  return listFiles(dir, (r) => /^c[a-r]\d\d$/.test(r)).map((f) => ({
    id: `brown/${f}`, source: 'brown', text: brownToText(fs.readFileSync(path.join(dir, f), 'utf8')),
  }));
}

/** The body of a plain-text e-mail without quoted replies, signatures, list footers and PGP blocks. */
export function emailBody(raw: string): string | null {
  const norm = raw.replace(/\r\n?/g, '\n');
  const split = norm.indexOf('\n\n');
  if (split < 0) return null;
  const headers = norm.slice(0, split);
  // Multipart and HTML mail would need MIME decoding; plain-text ham is the bulk, so skip the rest.
  if (/^content-type:\s*(multipart|text\/html)/im.test(headers)) return null;
  if (/^content-transfer-encoding:\s*(base64|quoted-printable)/im.test(headers)) return null;
  const out: string[] = [];
  for (const line of norm.slice(split + 2).split('\n')) {
    if (/^(-- ?|_{10,}|-{5,} ?(Original Message|Forwarded)|-----BEGIN PGP)/i.test(line)) break;
    if (/^\s*(>|\|)/.test(line)) continue; // quoted text belongs to another author
    if (/^On .* wrote:\s*$|wrote:\s*$/.test(line)) continue;
    out.push(line);
  }
  const body = normalizeText(out.join('\n'));
  return body;
}

export function spamAssassinHamDocs(src: FetchedSource): Doc[] {
  const dir = path.join(src.dir, 'package', 'data');
  const docs: Doc[] = [];
  for (const group of ['easy-ham-1', 'easy-ham-2']) {
    for (const f of listFiles(path.join(dir, group), (r) => r.endsWith('.txt'))) {
      const body = emailBody(fs.readFileSync(path.join(dir, group, f), 'latin1'));
      if (body) docs.push({ id: `spam-assassin/${group}/${f}`, source: 'spamAssassin', text: body });
    }
  }
  // Mailing-list banners and footers recur across many messages.
  return dropFrequentLines(docs, 8).filter((d) => d.text.length >= 300 && letterFraction(d.text) >= 0.65);
}

export function generalDocs(s: { gutenberg: FetchedSource; sotu: FetchedSource; brown: FetchedSource; spamAssassin: FetchedSource }): Doc[] {
  return [...gutenbergDocs(s.gutenberg), ...sotuDocs(s.sotu), ...brownDocs(s.brown), ...spamAssassinHamDocs(s.spamAssassin)];
}
