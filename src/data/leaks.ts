// Leak checks between pretraining text and an SFT task's held-out items. The sciq task asks "which term
// is described as <WordNet gloss>?"; a knowledge document that states the gloss together with its term
// teaches the held-out answer. A probe is one held-out item's gloss and answer; a text leaks a probe when
// it contains the gloss (whole, or any of its n-word runs when the gloss is longer) and the answer term.
// Matching is on normalised words (lower case, letters and digits only), so markup and line wrapping in
// the dictionaries do not hide a match.
import type { Role } from '../config';
import type { Synset } from './extract/wordnet';
import { sciqExamples } from './sft/build-tasks';

/** One held-out item to look for: its question text (a gloss) and its answer terms (the term and its synonyms). */
export interface LeakProbe {
  id: string;
  gloss: string;
  answers: string[];
}

/** Words of a text, lower-cased, letters and digits only (punctuation, markup and line breaks are separators). */
export function leakWords(s: string): string[] {
  return s.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').split(/[^a-z0-9]+/).filter(Boolean);
}

/** n-word runs used to match a gloss: GPT-3's decontamination used 13; WordNet glosses are short, so 8. */
export const LEAK_NGRAM = 8;

/** The word runs that stand for a gloss: the whole gloss when it is at most n words, else every n-word run. */
export function glossGrams(gloss: string, n = LEAK_NGRAM): string[] {
  const w = leakWords(gloss);
  if (w.length === 0) return [];
  if (w.length <= n) return [w.join(' ')];
  const out: string[] = [];
  for (let i = 0; i + n <= w.length; i++) out.push(w.slice(i, i + n).join(' '));
  return out;
}

/**
 * An index over probes answering, for a text: which probes' glosses it contains (`glossHits`) and which of
 * those also name their answer (`leaks`). Built once; a scan extends a run of words only while it is the prefix of some gram.
 */
export class LeakIndex {
  private byGram = new Map<string, string[]>();
  /** Every proper prefix of every gram (word-aligned), so a scan stops extending a run as soon as nothing can match. */
  private prefixes = new Set<string>();
  private maxLen = 0;
  private probes = new Map<string, { answers: string[] }>();

  constructor(probes: LeakProbe[], private n = LEAK_NGRAM) {
    for (const p of probes) {
      const answers = p.answers.map((a) => leakWords(a).join(' ')).filter(Boolean);
      if (answers.length === 0) continue;
      const grams = glossGrams(p.gloss, n);
      if (grams.length === 0) continue;
      this.probes.set(p.id, { answers });
      for (const g of grams) {
        const ids = this.byGram.get(g) ?? [];
        if (!ids.includes(p.id)) ids.push(p.id);
        this.byGram.set(g, ids);
        const words = g.split(' ');
        this.maxLen = Math.max(this.maxLen, words.length);
        for (let k = 1; k < words.length; k++) this.prefixes.add(words.slice(0, k).join(' '));
      }
    }
  }

  get size(): number { return this.probes.size; }

  /** Probes whose gloss (a whole short gloss, or one n-word run of a long one) occurs in the text. */
  glossHits(text: string): Set<string> {
    const w = leakWords(text);
    const hits = new Set<string>();
    for (let i = 0; i < w.length; i++) {
      let run = w[i];
      for (let len = 1; len <= this.maxLen && i + len <= w.length; len++) {
        if (len > 1) run += ' ' + w[i + len - 1];
        const ids = this.byGram.get(run);
        if (ids) for (const id of ids) hits.add(id);
        if (!this.prefixes.has(run)) break;
      }
    }
    return hits;
  }

  /** Probes the text leaks: its gloss occurs and its answer term (or a synonym) is named in the same text. */
  leaks(text: string): string[] {
    const hits = this.glossHits(text);
    if (hits.size === 0) return [];
    const joined = ` ${leakWords(text).join(' ')} `;
    return [...hits].filter((id) => this.probes.get(id)!.answers.some((a) => joined.includes(` ${a} `))).sort();
  }
}

/** Counts of a leak filter over a list of texts (entries of a dictionary, documents of a role). */
export interface LeakFilterStats {
  /** Held-out items looked for. */
  probes: number;
  /** Texts checked; texts containing some probe's gloss (with or without its answer); texts that leak (gloss and answer): removed. */
  checked: number;
  withGloss: number;
  removed: number;
  /** Distinct probes whose gloss occurs in some text, and those also leaked (gloss with answer), before filtering. */
  probesGlossBefore: number;
  probesLeakedBefore: number;
  /** Distinct probes whose gloss still occurs in a kept text (never with its answer: such texts are removed). */
  probesGlossAfter: number;
}

/** Drop the texts that leak a probe; returns the kept texts (in order) and the counts. */
export function filterLeaks<T>(items: T[], textOf: (x: T) => string, index: LeakIndex): { kept: T[]; stats: LeakFilterStats } {
  const kept: T[] = [];
  const glossBefore = new Set<string>(), leaked = new Set<string>(), glossAfter = new Set<string>();
  let withGloss = 0;
  for (const x of items) {
    const text = textOf(x);
    const hits = index.glossHits(text);
    hits.forEach((id) => glossBefore.add(id));
    if (hits.size > 0) withGloss++;
    const l = hits.size > 0 ? index.leaks(text) : [];
    if (l.length > 0) { l.forEach((id) => leaked.add(id)); continue; }
    hits.forEach((id) => glossAfter.add(id));
    kept.push(x);
  }
  return {
    kept,
    stats: {
      probes: index.size, checked: items.length, withGloss, removed: items.length - kept.length,
      probesGlossBefore: glossBefore.size, probesLeakedBefore: leaked.size, probesGlossAfter: glossAfter.size,
    },
  };
}

/**
 * The sciq task's held-out items (val and test, before any preset's cap) as probes: the gloss the question
 * quotes and the answer term with its synonyms. Which synsets are held out depends only on the seed.
 */
export function sciqHeldOutProbes(synsets: Map<string, Synset>, seed: number): LeakProbe[] {
  const ex = sciqExamples(synsets, seed);
  return [...ex.val, ...ex.test].map((e) => {
    const s = synsets.get(e.id.replace(/^sciq\//, ''));
    if (!s) throw new Error(`data: sciq example ${e.id} names no WordNet synset`);
    return { id: e.id, gloss: s.definition, answers: s.words };
  });
}

/** Roles whose documents are checked against the sciq held-out items (the ones built from dictionaries and WordNet). */
export const SCIQ_LEAK_CHECKED_ROLES: readonly Role[] = ['knowledge', 'instruction'];

/** The counts of a leak filter as cleaning stats (manifest `cleaning`, role cards), prefixed by what was checked. */
export function leakCleaningStats(prefix: string, s: LeakFilterStats): Record<string, number> {
  return {
    [`${prefix}HeldOutItems`]: s.probes,
    [`${prefix}DocsWithHeldOutGloss`]: s.withGloss,
    [`${prefix}DocsRemoved`]: s.removed,
    [`${prefix}ItemsLeakedBefore`]: s.probesLeakedBefore,
    [`${prefix}ItemsGlossBefore`]: s.probesGlossBefore,
    [`${prefix}ItemsGlossOnlyAfter`]: s.probesGlossAfter,
  };
}
