// Durable, atomic publication of files and folders: write a temporary, fsync its data, fsync its folder,
// rename it into place, fsync the parent. After a crash or power loss a reader sees the old version or the
// new one, whole. Used by everything the workbench writes that a later run relies on (checkpoints, run
// records, metrics, data manifests and shards, Slurm scripts).
//
// Test hook: MIDTRAIN_STOP_IN_WRITE="<n>" makes the n-th step of durable writing in this process (1-based,
// counting the stages "written", "synced", "renamed" of every publication) print one line to stderr,
// `midtrain-write-stop <stage> <path>`, and block, so a crash test can SIGKILL the process exactly there.
// Random kill timing rarely lands inside a write; this makes every kill land inside one.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export type WriteStage = 'written' | 'synced' | 'renamed';

let stagesSeen = 0;

/** The test hook: block forever at the configured stage so the test can kill us there. */
export function writeStage(stage: WriteStage, file: string): void {
  const stopAt = process.env.MIDTRAIN_STOP_IN_WRITE;
  if (!stopAt) return;
  stagesSeen++;
  if (stagesSeen !== Number(stopAt)) return;
  fs.writeSync(2, `midtrain-write-stop ${stage} ${file}\n`);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(cell, 0, 0, 60_000);
}

/** fsync a folder, so a rename or create inside it survives a crash (a no-op where folders cannot be opened). */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch (e) {
    // Some filesystems refuse fsync on a folder (EINVAL); their renames are as durable as they get.
    if (!['EINVAL', 'EISDIR', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    fs.closeSync(fd);
  }
}

/** Write `chunks` to a new file and fsync it; returns the sha256 (hex) of what was written. */
export function writeSynced(file: string, chunks: Iterable<Uint8Array | string>, mode?: number): string {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'w', mode);
  try {
    for (const c of chunks) {
      const bytes = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
      hash.update(bytes);
      let done = 0;
      while (done < bytes.byteLength) done += fs.writeSync(fd, bytes, done, bytes.byteLength - done);
    }
    writeStage('written', file);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  writeStage('synced', file);
  return hash.digest('hex');
}

/** A unique temporary name beside `file` (same filesystem, so the rename is atomic). */
export function tempPath(file: string): string {
  return `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
}

/**
 * Replace `file` with `text`, durably and atomically; returns the sha256 of the text. On failure
 * (disk full, say) the temporary is removed and `file` is left as it was.
 */
export function writeFileDurable(file: string, text: string | Uint8Array, mode?: number): string {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = tempPath(file);
  try {
    const sha = writeSynced(tmp, [text], mode);
    fs.renameSync(tmp, file);
    writeStage('renamed', file);
    fsyncDir(dir);
    return sha;
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Publish a finished temporary folder (its files already synced) as `final`, durably: its folders' entries are synced first. */
export function publishDir(tmp: string, final: string): void {
  for (const e of fs.readdirSync(tmp, { withFileTypes: true })) if (e.isDirectory()) fsyncDir(path.join(tmp, e.name));
  fsyncDir(tmp);
  fs.renameSync(tmp, final);
  writeStage('renamed', final);
  fsyncDir(path.dirname(final));
}

/** Whether an error is the disk filling up (Node's ENOSPC, or a native library's "os error 28"). */
export function isDiskFull(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOSPC' || /No space left on device/i.test(String((e as Error)?.message));
}

/** sha256 (hex) of bytes. */
export function sha256(bytes: Uint8Array | string): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}
