// Data hygiene without a build: the sciq leak filter finds a planted leak and keeps clean text, the split
// never puts one book on both sides, the validation windows spread over the whole split, and a mixture
// that samples a role's part gets that part's shards (and only it).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { LeakIndex, filterLeaks, glossGrams, leakWords } from '../../src/data/leaks';
import { splitDocs } from '../../src/data/build';
import { dataPreset } from '../../src/data/presets';
import { mixtureParts, partDocs, withMixtureParts } from '../../src/data/parts';
import { valWindows, valWindowStarts } from '../../src/train/sampler';
import type { Doc } from '../../src/data/text';
import type { TokenShard } from '../../src/data/types';

const AARDVARK = { id: 'sciq/n:1', gloss: 'nocturnal burrowing mammal of the grasslands of Africa that feeds on termites; sole extant representative of the order Tubulidentata', answers: ['aardvark', 'ant bear', 'anteater'] };
const QUARTZ = { id: 'sciq/n:2', gloss: 'a hard glossy mineral', answers: ['quartz'] };

test('leak filter: a dictionary entry that repeats a held-out gloss with its term is removed; clean text is kept', () => {
  const index = new LeakIndex([AARDVARK, QUARTZ]);
  const docs = [
    // The gloss re-wrapped and punctuated as a dictionary prints it, under a synonym of the answer: a leak.
    { id: 'leak', text: 'Ant bear n.\n   1. A nocturnal, burrowing mammal of the\n      grasslands of Africa that feeds on termites; the sole extant\n      representative of the order Tubulidentata.' },
    // A short gloss matched whole, with its term: a leak.
    { id: 'leak-short', text: 'Quartz n. A hard, glossy mineral found in granite.' },
    // Names the term but not its gloss: clean.
    { id: 'term-only', text: 'The aardvark was drawn by the expedition artist beside a termite mound.' },
    // Quotes part of the gloss without the term: kept, counted as gloss-only.
    { id: 'gloss-only', text: 'Several nocturnal burrowing mammal of the grasslands of Africa species were seen.' },
    // Unrelated.
    { id: 'clean', text: 'A sonnet is a poem of fourteen lines.' },
  ];
  const { kept, stats } = filterLeaks(docs, (d) => d.text, index);
  assert.deepEqual(kept.map((d) => d.id), ['term-only', 'gloss-only', 'clean']);
  assert.equal(stats.removed, 2);
  assert.equal(stats.withGloss, 3);
  assert.equal(stats.probesLeakedBefore, 2);
  assert.equal(stats.probesGlossAfter, 1, 'the aardvark gloss survives only without its term');
  assert.deepEqual(index.leaks(docs[0].text), ['sciq/n:1']);
  // Words are normalised (case, punctuation, accents); long glosses are matched by 8-word runs.
  assert.deepEqual(leakWords('Café, NOCTURNAL—mammal'), ['cafe', 'nocturnal', 'mammal']);
  assert.equal(glossGrams(AARDVARK.gloss).length, leakWords(AARDVARK.gloss).length - 7);
  assert.deepEqual(glossGrams(QUARTZ.gloss), ['a hard glossy mineral']);
});

function doc(id: string, chars: number, group?: string): Doc {
  return { id, source: group ? 'gutenberg' : 'brown', text: 'x'.repeat(chars), ...(group ? { group } : {}) };
}

test('split by book: no book has sections in both train and val; ungrouped documents split as before', () => {
  const docs: Doc[] = [];
  for (let b = 0; b < 20; b++) for (let s = 0; s < 30; s++) docs.push(doc(`gutenberg/book${b}.txt#${String(s).padStart(4, '0')}`, 1000, `gutenberg/book${b}.txt`));
  for (let i = 0; i < 100; i++) docs.push(doc(`brown/c${i}`, 1000));
  const p = { ...dataPreset('tiny'), valChars: 200_000, trainChars: 10_000_000 };
  const { train, val } = splitDocs(docs, p);
  const books = (xs: Doc[]) => new Set(xs.filter((d) => d.group).map((d) => d.group!));
  const valBooks = books(val), trainBooks = books(train);
  assert.ok(valBooks.size > 0 && trainBooks.size > 0, `books: ${valBooks.size} val, ${trainBooks.size} train`);
  assert.deepEqual([...valBooks].filter((b) => trainBooks.has(b)), [], 'a book on both sides');
  const chars = (xs: Doc[], source?: string) => xs.filter((d) => !source || d.source === source).reduce((n, d) => n + d.text.length, 0);
  const v = chars(val);
  assert.ok(v >= p.valChars && v < p.valChars + 2000, `val holds ${v} characters (at most one document over, per source)`);
  // Stratified by source: val mixes books and other prose as the role does (600k of 700k characters are books).
  assert.ok(Math.abs(chars(val, 'gutenberg') / v - 6 / 7) < 0.02, `book share of val ${chars(val, 'gutenberg') / v}`);
  assert.equal(new Set([...train, ...val]).size, train.length + val.length, 'a document in both splits');
  // Without groups it is the plain seeded split by document, independent of listing order.
  const plain = docs.map((d) => ({ ...d, group: undefined }));
  const a = splitDocs(plain, p), b = splitDocs([...plain].reverse(), p);
  assert.deepEqual(a.val.map((d) => d.id), b.val.map((d) => d.id));
  // Which is what a split by section does to books: some land on both sides.
  const bookOf = (xs: Doc[]) => new Set(xs.filter((d) => d.source === 'gutenberg').map((d) => d.id.split('#')[0]));
  const straddling = [...bookOf(a.val)].filter((x) => bookOf(a.train).has(x));
  assert.ok(straddling.length > 0);
});

function positionShard(numTokens: number): TokenShard {
  // Token i is i mod 65536, so a window's first token tells where it was read.
  return { path: 'mem', numTokens, read: (start, length) => Uint16Array.from({ length }, (_, i) => (start + i) % 65536) };
}

test('validation windows are spread evenly over the whole split, deterministic and non-overlapping', () => {
  const N = 50_000, T = 16, evalTokens = 1600;
  const shard = positionShard(N);
  const batches = valWindows(shard, T, evalTokens, 7);
  const starts = batches.flatMap((b) => Array.from({ length: b.B }, (_, r) => b.inputs[r * T]));
  assert.equal(starts.length, Math.floor(evalTokens / T));
  assert.deepEqual(starts, valWindowStarts(N, T, starts.length));
  assert.equal(starts[0], 0);
  const lastBatch = batches[batches.length - 1];
  assert.equal(lastBatch.targets[lastBatch.B * T - 1], N - 1, 'the last window ends at the split\'s last token');
  for (let i = 1; i < starts.length; i++) assert.ok(starts[i] - starts[i - 1] >= T + 1 - 1 && starts[i] - starts[i - 1] <= Math.ceil((N - T - 1) / (starts.length - 1)), `gap ${starts[i] - starts[i - 1]}`);
  // Every tenth of the split holds windows.
  for (let d = 0; d < 10; d++) assert.ok(starts.some((s) => s >= (d * N) / 10 && s < ((d + 1) * N) / 10), `no window in tenth ${d}`);
  // A budget beyond the split: windows tile it without overlap.
  const all = valWindows(positionShard(1000), T, 1e9, 64);
  const s2 = all.flatMap((b) => Array.from({ length: b.B }, (_, r) => b.inputs[r * T]));
  assert.equal(s2.length, Math.floor(999 / T));
  for (let i = 1; i < s2.length; i++) assert.ok(s2[i] - s2[i - 1] >= T);
  assert.throws(() => valWindows(positionShard(T), T, 100, 1), /mem: 16 tokens, fewer than one validation window/);
});

test('parts: a mixture gets the parts it samples and no others; part documents are the role\'s, filtered by source', () => {
  const split = { train: [doc('a', 10), { ...doc('b', 10), source: 'synthetic' }, doc('c', 10)], val: [{ ...doc('d', 10), source: 'synthetic' }, doc('e', 10)] };
  assert.deepEqual(partDocs('math-natural', split).train.map((d) => d.id), ['a', 'c']);
  assert.deepEqual(partDocs('math-synthetic', split).val.map((d) => d.id), ['d']);
  const shard = positionShard(100);
  const data = { roles: { general: { train: shard, val: shard } }, parts: { 'math-natural': { train: shard, val: shard } } };
  const natural = [{ fromFraction: 0, weights: { general: 1 } }, { fromFraction: 0.33, weights: { general: 0.88, 'math-natural': 0.12 } }];
  assert.deepEqual(mixtureParts(natural), ['math-natural']);
  assert.deepEqual(Object.keys(withMixtureParts(data, natural).roles).sort(), ['general', 'math-natural']);
  const plain = [{ fromFraction: 0, weights: { general: 1 } }];
  assert.equal(withMixtureParts(data, plain), data, 'a mixture without parts gets the bundle unchanged');
  assert.throws(() => withMixtureParts({ roles: {}, parts: {} }, [{ fromFraction: 0, weights: { 'math-synthetic': 1 } }]), /samples part "math-synthetic", but this data bundle has none/);
});
