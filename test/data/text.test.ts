// Cleaning helpers on literal inputs.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { chunkParagraphs, dedup, dropFrequentLines, htmlToText, nearDedup, normalizeText, type Doc } from '../../src/data/text';
import { brownToText, emailBody } from '../../src/data/extract/general';
import { quizText } from '../../src/data/extract/instruction';
import { passesQualityRules } from '../../src/data/extract/web';
import { Rng, hash32 } from '../../src/data/prng';

const doc = (id: string, text: string): Doc => ({ id, source: 't', text });

test('normalizeText: NFC, newlines, controls, trailing spaces, blank runs', () => {
  assert.equal(normalizeText('e\u0301\r\nb\u0007  \n\n\n\nc\ufeff '), '\u00e9\nb\n\nc');
});

test('htmlToText keeps blocks and <pre>, drops scripts, nav, permalinks and entities', () => {
  const html = '<html><head><title>T</title></head><body><div class="related">Nav »</div><h1>Title<a class="headerlink" href="#">¶</a></h1>' +
    '<p>One &amp; two&nbsp;three.</p><script>var x;</script><pre>a  = 1\n  b</pre><p>Prev</p></body></html>';
  assert.equal(htmlToText(html), 'Title\n\nOne & two three.\n\na  = 1\n  b');
});

test('Brown tags are stripped and punctuation re-attached', () => {
  assert.equal(brownToText('The/at jury/nn said/vbd ``/`` it/pps was/bedz fine/jj \'\'/\'\' ./.'), 'The jury said "it was fine".');
});

test('e-mail bodies lose headers, quotes and signatures; HTML mail is skipped', () => {
  const raw = 'From: a@b\nSubject: hi\n\nHello there.\n> quoted text\nOn Mon, Bob wrote:\nMore text.\n-- \nsig line\n';
  assert.equal(emailBody(raw), 'Hello there.\nMore text.');
  assert.equal(emailBody('Content-Type: text/html\n\n<p>x</p>'), null);
});

test('exact and near duplicates are removed, distinct documents kept, deterministically', () => {
  const words = (seed: number, n: number) => { const r = new Rng(seed); return Array.from({ length: n }, () => `w${r.int(0, 5000)}`).join(' '); };
  const base = words(1, 300);
  const near = base.replace(/^(\S+)/, 'changed');
  const docs = [doc('a', base), doc('b', base.toUpperCase()), doc('c', near), doc('d', words(2, 300)), doc('e', words(3, 300))];
  assert.deepEqual(dedup(docs).map((d) => d.id), ['a', 'c', 'd', 'e']);
  assert.deepEqual(nearDedup(dedup(docs)).map((d) => d.id), ['a', 'd', 'e']);
  assert.deepEqual(nearDedup(docs).map((d) => d.id), nearDedup(docs).map((d) => d.id));
});

test('boilerplate lines recurring across documents are dropped', () => {
  const footer = 'Irish Linux Users Group mailing list footer';
  const docs = [1, 2, 3].map((i) => doc(String(i), `Body number ${i} here.\n${footer}`));
  assert.deepEqual(dropFrequentLines(docs, 3).map((d) => d.text), ['Body number 1 here.', 'Body number 2 here.', 'Body number 3 here.']);
});

test('chunking at paragraph breaks; quiz notation; quality rules', () => {
  assert.deepEqual(chunkParagraphs('aaaa\n\nbbbb\n\ncccc\n\nd', 8), ['aaaa\n\nbbbb', 'cccc\n\nd']);
  assert.equal(quizText('{G{eorge} }Washington'), 'George Washington');
  assert.equal(quizText('laedo:{I }[injure|thwart]'.split(':')[1]), 'I injure');
  assert.equal(passesQualityRules('The committee reviewed the proposal and found that it was sound. '.repeat(10)), true);
  assert.equal(passesQualityRules('x = f(y); z = g(x) # ' .repeat(50)), false);
});

test('seeded randomness is reproducible', () => {
  assert.equal(hash32('abc', 1), hash32('abc', 1));
  assert.notEqual(hash32('abc', 1), hash32('abc', 2));
  assert.deepEqual(new Rng(5).shuffle([1, 2, 3, 4, 5, 6]), new Rng(5).shuffle([1, 2, 3, 4, 5, 6]));
});
