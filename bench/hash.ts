// What a checksum costs next to writing the file it guards: sha256 (OpenSSL, with the CPU's SHA extensions
// where present), sha1, md5 and zlib's crc32, against writing + fsyncing and reading the same bytes, on a
// buffer the size of a checkpoint slice (default 256 MiB; a 410M model with Adam moments is ~5 GB, so
// multiply). Prints GB/s (best of 3) and each hash's cost as a fraction of write+fsync, measured in this run.
//   npx tsc -p . && node dist/bench/hash.js [MiB]
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { cacheRoot } from '../src/config';

const mib = Number(process.argv[2] ?? 256);
const buf = crypto.randomBytes(mib * 1024 * 1024);
fs.mkdirSync(cacheRoot(), { recursive: true });
const file = path.join(cacheRoot(), `hash-bench-${process.pid}.bin`);
const crc32 = (zlib as unknown as { crc32?: (b: Uint8Array) => number }).crc32;
const cases: [string, () => void][] = [
  ['write+fsync', () => {
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, buf);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }],
  ['read', () => void fs.readFileSync(file)],
  ['sha256', () => void crypto.createHash('sha256').update(buf).digest()],
  ['sha1', () => void crypto.createHash('sha1').update(buf).digest()],
  ['md5', () => void crypto.createHash('md5').update(buf).digest()],
  ...(crc32 ? [['crc32 (zlib)', () => void crc32(buf)] as [string, () => void]] : []),
];
const best: Record<string, number> = {};
for (let round = 0; round < 3; round++) {
  for (const [name, fn] of cases) {
    const t0 = process.hrtime.bigint();
    fn();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    best[name] = Math.max(best[name] ?? 0, buf.byteLength / 1e9 / s);
  }
}
fs.rmSync(file, { force: true });
const sha = os.cpus()[0]?.model ?? '?';
console.log(`${mib} MiB, ${sha}, sha_ni: ${fs.existsSync('/proc/cpuinfo') && /\bsha_ni\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8')) ? 'yes' : 'no'}`);
for (const [name] of cases) {
  const ratio = name.includes('write') || name === 'read' ? '' : `  ${(best['write+fsync'] / best[name]).toFixed(2)}× the time of write+fsync`;
  console.log(`${name.padEnd(14)} ${best[name].toFixed(2)} GB/s${ratio}`);
}
