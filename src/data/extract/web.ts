// The "DCLM" (high-quality web) role. No web crawl is reachable here; the closest real thing is the
// HTML websites that Debian ships (docs.python.org's pages, the Debian Reference, the Debian
// Administrator's Handbook, the Developer's Reference, the New Maintainers' Guide, Debian Policy, the
// Securing Debian Manual): real web pages with navigation chrome. We convert them to text and
// keep pages that pass Gopher-style quality rules (the heuristic filters that precede DCLM's
// classifier). It is a narrower, more technical pool than a web crawl: the role card says so.
// The Python FAQ pages are excluded (they are the LIMA-style SFT task).
import * as fs from 'fs';
import * as path from 'path';
import { listFiles, type FetchedSource } from '../sources';
import { chunkParagraphs, dropFrequentLines, htmlToText, type Doc } from '../text';

/** Gopher quality rules (Rae et al. 2021), on words split by whitespace. */
export function passesQualityRules(text: string): boolean {
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length < 80 || words.length > 100_000) return false;
  const meanLen = words.reduce((a, w) => a + w.length, 0) / words.length;
  if (meanLen < 3 || meanLen > 10) return false;
  const symbols = (text.match(/#|\.\.\.|…/g) ?? []).length;
  if (symbols / words.length > 0.1) return false;
  const alpha = words.filter((w) => /\p{L}/u.test(w)).length;
  if (alpha / words.length < 0.8) return false;
  const lines = text.split('\n').filter((l) => l.trim());
  const bullets = lines.filter((l) => /^\s*[-*•]/.test(l)).length;
  if (bullets / lines.length > 0.9) return false;
  // Prose, not a listing: most lines should look like sentences or paragraphs, not code.
  const stop = words.filter((w) => /^(the|and|of|to|a|in|is|that|for|it|with|as|be|on|this)$/i.test(w)).length;
  return stop / words.length >= 0.06;
}

function pages(src: FetchedSource, key: string, dir: string, keep: (rel: string) => boolean): Doc[] {
  const abs = path.join(src.dir, dir);
  return listFiles(abs, (r) => r.endsWith('.html') && keep(r)).flatMap((rel) => {
    const text = htmlToText(fs.readFileSync(path.join(abs, rel), 'utf8'));
    return chunkParagraphs(text, 8000).map((c, i) => ({ id: `${key}/${rel}#${String(i).padStart(3, '0')}`, source: key, text: c }));
  });
}

export const WEB_SOURCES = ['pythonDoc', 'debianReference', 'debianHandbook', 'developersReference', 'maintGuide', 'debianPolicy', 'hardenDoc'] as const;

export function webDocs(s: Record<(typeof WEB_SOURCES)[number], FetchedSource>, stats: Record<string, number> = {}): Doc[] {
  const notIndex = (r: string) => !/(^|\/)(genindex|py-modindex|search|index|contents)[^/]*\.html$/.test(r) && !r.startsWith('_');
  const pool = [
    ...pages(s.pythonDoc, 'pythonDoc', 'usr/share/doc/python3.11/html', (r) => !r.startsWith('faq/') && notIndex(r)),
    ...pages(s.debianReference, 'debianReference', 'usr/share/debian-reference', (r) => r.includes('.en.') && notIndex(r)),
    ...pages(s.debianHandbook, 'debianHandbook', 'usr/share/doc/debian-handbook/html/en-US', notIndex),
    // developers-reference.html is the whole book on one page: the chapter pages already hold it.
    ...pages(s.developersReference, 'developersReference', 'usr/share/developers-reference', (r) => notIndex(r) && r !== 'developers-reference.html'),
    ...pages(s.maintGuide, 'maintGuide', 'usr/share/doc/maint-guide/html', (r) => r.includes('.en.') && notIndex(r)),
    // perl-policy-1.html / menu-policy-1.html are single-page copies of the perl-policy.html/ and menu-policy.html/ books.
    ...pages(s.debianPolicy, 'debianPolicy', 'usr/share/doc/debian-policy', (r) => notIndex(r) && !/-policy-1\.html$/.test(r)),
    ...pages(s.hardenDoc, 'hardenDoc', 'usr/share/doc/harden-doc/html/en-US', notIndex),
  ];
  const kept = dropFrequentLines(pool, 20).filter((d) => passesQualityRules(d.text));
  stats.webPages = pool.length;
  stats.webPagesPassingQualityRules = kept.length;
  return kept;
}
