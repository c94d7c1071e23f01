// Seeded randomness for the data layer: every split, sample and synthetic problem derives from
// these, never from Math.random or the clock, so a rebuild gives byte-identical output.
import { Rng as StreamRng } from '../rng';

/** FNV-1a over UTF-16 code units, then a splitmix-style finaliser: a stable 32-bit hash of a string. */
export function hash32(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** A hash-derived number in [0, 1): used to assign documents to splits independently of list order. */
export function hashUnit(s: string, seed = 0): number {
  return hash32(s, seed) / 4294967296;
}

/** mulberry32 (the workbench's one generator, src/rng.ts) as a function returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  const rng = new StreamRng(seed);
  return () => rng.next();
}

/** A seeded random generator with the few helpers the data layer needs. */
export class Rng {
  private next: () => number;
  constructor(seed: number) { this.next = mulberry32(seed); }
  /** Float in [0, 1). */
  float(): number { return this.next(); }
  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('Rng.pick: empty list');
    return xs[Math.floor(this.next() * xs.length)];
  }
  /** Fisher–Yates shuffle of a copy. */
  shuffle<T>(xs: readonly T[]): T[] {
    const out = xs.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
  /** k distinct items (k <= xs.length), in random order. */
  sample<T>(xs: readonly T[], k: number): T[] { return this.shuffle(xs).slice(0, k); }
}
