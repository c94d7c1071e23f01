// Text cleaning shared by every extractor: encoding normalisation, HTML to text, boilerplate lines,
// de-duplication. Small pure functions so each extractor reads as "parse, clean, dedup".
import * as crypto from 'crypto';

/** One extracted document. `id` is stable across rebuilds (source + path + index) and decides its split. */
export interface Doc {
  id: string;
  /** Source key (see SOURCES) the text came from. */
  source: string;
  text: string;
  /** Documents sharing a group (the sections of one book) go to the same split; absent = the document is its own group. */
  group?: string;
}

/** NFC, Unix newlines, no control characters (tabs kept), no trailing spaces, at most one blank line in a row. */
export function normalizeText(s: string): string {
  return s
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    // C0/C1 controls except tab and newline; lone surrogates (broken encodings) too.
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufeff]/g, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', mdash: '—', ndash: '–', hellip: '…',
  lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', copy: '©', reg: '®', trade: '™', para: '¶',
  laquo: '«', raquo: '»', middot: '·', times: '×', deg: '°', minus: '−', rarr: '→', larr: '←', bull: '•',
};

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp < 0x110000 && !(cp >= 0xd800 && cp < 0xe000) ? String.fromCodePoint(cp) : '';
    }
    return ENTITIES[e] ?? m;
  });
}

/**
 * HTML page → plain text: drops head/script/style and navigation chrome, keeps block structure as
 * newlines and <pre> blocks verbatim. Good enough for the documentation HTML our sources ship.
 */
export function htmlToText(html: string): string {
  let s = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(head|script|style|nav|footer)\b[\s\S]*?<\/\1>/gi, '')
    // Sphinx "¶" permalinks and similar anchor decorations.
    .replace(/<a\b[^>]*class="[^"]*headerlink[^"]*"[^>]*>[\s\S]*?<\/a>/gi, '')
    // Sphinx / DocBook navigation blocks.
    .replace(/<div[^>]*class="[^"]*(sphinxsidebar|related|navheader|navfooter|footer|toc)[^"]*"[\s\S]*?<\/div>/gi, '');
  // Keep <pre> contents as-is (after entity decoding) by protecting their newlines.
  s = s.replace(/<pre\b[^>]*>([\s\S]*?)<\/pre>/gi, (_m, body: string) => '\n\n' + body.replace(/<[^>]+>/g, '').replace(/\n/g, '\u0001').replace(/ /g, '\u0002').replace(/\t/g, '\u0003') + '\n\n');
  s = s
    .replace(/<(br|hr)\b[^>]*>/gi, '\n')
    .replace(/<\/?(p|div|h[1-6]|li|ul|ol|dl|dt|dd|tr|table|blockquote|section|article|title)\b[^>]*>/gi, '\n\n')
    .replace(/<[^>]+>/g, '')
    .replace(/[ \t\n]+/g, (ws) => (ws.includes('\n') ? (ws.split('\n').length > 2 ? '\n\n' : '\n') : ' '))
    .replace(/\u0001/g, '\n').replace(/\u0002/g, ' ').replace(/\u0003/g, '\t');
  // Navigation residue: breadcrumb separators and Texinfo "Next: … [Contents][Index]" bars.
  s = decodeEntities(s).split('\n').filter((l) => !/^\s*([|»]|Prev|Previous|Next|Up|Home|Navigation|Contents|Index|Table of Contents|Go)\s*$/i.test(l) && !/»\s*$/.test(l) && !/\[(Contents|Index)\]\s*$/.test(l)).join('\n');
  return normalizeText(s.replace(/¶/g, ''));
}

/** A whitespace- and case-insensitive key for exact de-duplication. */
export function dedupKey(text: string): string {
  return crypto.createHash('sha1').update(text.toLowerCase().replace(/\s+/g, ' ').trim()).digest('hex');
}

/** Keep the first document of each dedupKey (input order is sorted by id, so "first" is deterministic). */
export function dedup(docs: Doc[]): Doc[] {
  const seen = new Set<string>();
  return docs.filter((d) => {
    const k = dedupKey(d.text);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Boilerplate removal in the spirit of C4's cleaning: a line (of some length) that recurs in many
 * documents of one corpus is a footer, banner or navigation item, not content; drop it everywhere.
 */
export function dropFrequentLines(docs: Doc[], minDocs: number, minLen = 12): Doc[] {
  const counts = new Map<string, number>();
  for (const d of docs) {
    for (const line of new Set(d.text.split('\n').map((l) => l.trim()))) {
      if (line.length >= minLen) counts.set(line, (counts.get(line) ?? 0) + 1);
    }
  }
  return docs.map((d) => ({
    ...d,
    text: normalizeText(d.text.split('\n').filter((l) => (counts.get(l.trim()) ?? 0) < minDocs).join('\n')),
  }));
}

/** Split a long text into chunks of about `target` characters at paragraph boundaries. */
export function chunkParagraphs(text: string, target: number): string[] {
  const paras = text.split(/\n\s*\n/);
  const out: string[] = [];
  let cur: string[] = [];
  let len = 0;
  for (const p of paras) {
    cur.push(p);
    len += p.length + 2;
    if (len >= target) { out.push(cur.join('\n\n')); cur = []; len = 0; }
  }
  if (cur.length) {
    // A short tail joins the previous chunk rather than becoming a stub document.
    if (out.length && len < target / 4) out[out.length - 1] += '\n\n' + cur.join('\n\n');
    else out.push(cur.join('\n\n'));
  }
  return out.map((c) => c.trim()).filter((c) => c.length > 0);
}

/** Fraction of characters that are letters: a cheap prose-vs-markup signal. */
export function letterFraction(s: string): number {
  if (!s.length) return 0;
  return s.replace(/[^\p{L}]/gu, '').length / s.length;
}

/** Word 5-gram shingles of a text, lower-cased, as 32-bit hashes (C4/Gopher-style near-duplicate features). */
function shingleHashes(text: string, n = 5): Uint32Array {
  const words = text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
  if (words.length < n) return new Uint32Array([fnv1a(words.join(' '))]);
  const out = new Uint32Array(words.length - n + 1);
  for (let i = 0; i + n <= words.length; i++) out[i] = fnv1a(words.slice(i, i + n).join(' '));
  return out;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

/** MinHash signature: for each of k universal hash functions (fixed odd multipliers), the minimum over shingles. */
function minhash(shingles: Uint32Array, k: number): Uint32Array {
  const sig = new Uint32Array(k).fill(0xffffffff);
  for (let j = 0; j < k; j++) {
    // Multipliers and offsets from a fixed LCG: deterministic, no randomness at run time.
    const a = (Math.imul(j + 1, 0x9e3779b1) | 1) >>> 0, b = Math.imul(j + 7, 0x85ebca6b) >>> 0;
    let m = 0xffffffff;
    for (let i = 0; i < shingles.length; i++) {
      let h = (Math.imul(shingles[i] ^ b, a) + b) >>> 0;
      h ^= h >>> 15;
      if (h < m) m = h;
    }
    sig[j] = m;
  }
  return sig;
}

/**
 * Near-duplicate removal (MinHash + LSH over word 5-grams, as in C4/Gopher/DCLM pipelines): a document
 * whose estimated Jaccard similarity with an earlier kept document is >= threshold is dropped.
 * 128 hashes in 16 bands of 8 rows: pairs above ~0.7 Jaccard are almost surely compared.
 */
export function nearDedup(docs: Doc[], threshold = 0.8): Doc[] {
  const K = 128, BANDS = 16, ROWS = K / BANDS;
  const buckets = new Map<string, number[]>();
  const sigs: Uint32Array[] = [];
  const kept: Doc[] = [];
  for (const d of docs) {
    const sig = minhash(shingleHashes(d.text), K);
    let dup = false;
    const keys: string[] = [];
    for (let b = 0; b < BANDS && !dup; b++) {
      const key = `${b}:${Array.from(sig.subarray(b * ROWS, (b + 1) * ROWS)).join(',')}`;
      keys.push(key);
      for (const other of buckets.get(key) ?? []) {
        const o = sigs[other];
        let eq = 0;
        for (let j = 0; j < K; j++) if (o[j] === sig[j]) eq++;
        if (eq / K >= threshold) { dup = true; break; }
      }
    }
    if (dup) continue;
    const id = sigs.length;
    sigs.push(sig);
    for (let b = keys.length; b < BANDS; b++) keys.push(`${b}:${Array.from(sig.subarray(b * ROWS, (b + 1) * ROWS)).join(',')}`);
    for (const key of keys) { const l = buckets.get(key); if (l) l.push(id); else buckets.set(key, [id]); }
    kept.push(d);
  }
  return kept;
}
