// Token shards: round trip, windows, and clear errors for truncated or corrupt files.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileTokenShard, writeShard } from '../../src/data/shards';

function tmpDir(): string { return fs.mkdtempSync(path.join(os.tmpdir(), 'mt-shard-')); }

test('documents are written with EOS separators and read back as windows', () => {
  const dir = tmpDir();
  const idx = writeShard(path.join(dir, 'a.bin'), [[1, 2, 3], [4, 5]], 9, 10);
  assert.equal(idx.numTokens, 7);
  assert.equal(idx.numDocs, 2);
  const s = new FileTokenShard(idx);
  assert.deepEqual([...s.read(0, 7)], [1, 2, 3, 9, 4, 5, 9]);
  assert.deepEqual([...s.read(2, 3)], [3, 9, 4]);
  s.verify();
  fs.rmSync(dir, { recursive: true });
});

test('a truncated shard is refused naming the file', () => {
  const dir = tmpDir();
  const f = path.join(dir, 'b.bin');
  const idx = writeShard(f, [[1, 2, 3, 4]], 9, 10);
  fs.truncateSync(f, 6);
  assert.throws(() => new FileTokenShard(idx), (e: Error) => e.message.includes(f) && /truncated or corrupt/.test(e.message));
  fs.rmSync(dir, { recursive: true });
});

test('a corrupt shard fails verify() and out-of-vocabulary tokens fail read(), naming the file', () => {
  const dir = tmpDir();
  const f = path.join(dir, 'c.bin');
  const idx = writeShard(f, [[1, 2, 3, 4]], 9, 10);
  const buf = fs.readFileSync(f);
  buf.writeUInt16LE(60000, 2);
  fs.writeFileSync(f, buf);
  const s = new FileTokenShard(idx);
  assert.throws(() => s.verify(), (e: Error) => e.message.includes(f) && /corrupt/.test(e.message));
  assert.throws(() => s.read(0, 3), (e: Error) => e.message.includes(f) && /60000/.test(e.message));
  assert.throws(() => s.read(3, 10), (e: Error) => e.message.includes(f) && /outside/.test(e.message));
  fs.rmSync(dir, { recursive: true });
});

test('a missing shard is a clear error', () => {
  const f = path.join(os.tmpdir(), 'mt-no-such-shard.bin');
  assert.throws(() => new FileTokenShard({ file: f, numTokens: 1, numDocs: 1, vocabSize: 2, sha256: '' }), (e: Error) => e.message.includes(f) && /missing/.test(e.message));
});

test('vocabularies above 65,536 ids get 32-bit shards that round-trip; uint16 indexes stay as they were', () => {
  const dir = tmpDir();
  const docs = [[0, 65535, 65536, 100_000], [131_071, 7]];
  const idx = writeShard(path.join(dir, 'w.bin'), docs, 131_072, 131_073);
  assert.equal(idx.bytesPerToken, 4);
  assert.equal(fs.statSync(idx.file).size, 4 * 8);
  const s = new FileTokenShard(idx);
  const all = s.read(0, 8);
  assert.ok(all instanceof Uint32Array);
  assert.deepEqual([...all], [0, 65535, 65536, 100_000, 131_072, 131_071, 7, 131_072]);
  assert.deepEqual([...s.read(2, 3)], [65536, 100_000, 131_072]);
  s.verify();
  // An index claiming 16-bit tokens for a vocabulary that needs 32 bits is refused, naming the file.
  assert.throws(() => new FileTokenShard({ ...idx, bytesPerToken: 2 }), (e: Error) => e.message.includes(idx.file) && /uint16/.test(e.message));
  const small = writeShard(path.join(dir, 'n.bin'), [[1, 2]], 3, 4);
  assert.equal('bytesPerToken' in small, false); // built-in data sets keep their manifest hashes
  fs.rmSync(dir, { recursive: true });
});
