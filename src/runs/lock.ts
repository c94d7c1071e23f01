// One writer per run folder, across processes and hosts (two Slurm array tasks, a notebook and a CLI):
// a lock file holding pid + host, kept fresh by a heartbeat. A lock is stale when its process is gone
// (same host) or its heartbeat is older than STALE_MS (other host, e.g. a killed Slurm node).
// The file appears with its content already in it (written aside, then hard-linked into place, which fails
// if a lock exists): a process killed while taking the lock leaves no empty lock that others would have to
// wait out.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** A lock whose heartbeat is older than this is considered abandoned by a process on another host. */
const STALE_MS = 10 * 60 * 1000;
/**
 * An empty or unparsable lock file older than this is debris (a full disk, or a creator on a file system
 * without hard links killed between create and write), not a holder.
 */
const UNWRITTEN_STALE_MS = 10 * 1000;
const HEARTBEAT_MS = 30 * 1000;

interface LockInfo {
  pid: number;
  host: string;
  since: string;
}

export interface Lock {
  path: string;
  release(): void;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Who holds the lock, or undefined when it is free or stale. */
export function lockHolder(file: string): LockInfo | undefined {
  let info: LockInfo;
  let mtime: number;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8'));
    mtime = fs.statSync(file).mtimeMs;
  } catch {
    // Missing, or being written this instant (empty): a half-written lock is treated as held, briefly.
    if (!fs.existsSync(file)) return undefined;
    try {
      if (Date.now() - fs.statSync(file).mtimeMs > UNWRITTEN_STALE_MS) return undefined;
    } catch {
      return undefined;
    }
    return { pid: -1, host: '?', since: '' };
  }
  if (info.host === os.hostname()) return pidAlive(info.pid) ? info : undefined;
  return Date.now() - mtime > STALE_MS ? undefined : info;
}

/** What a lock file not yet written by its holder (created, still empty) is described as. */
const HOLDER_UNKNOWN = 'another process that is taking the lock this instant';

function describeHolder(h: LockInfo): string {
  return h.pid < 0 ? HOLDER_UNKNOWN : `pid ${h.pid} on ${h.host} since ${h.since}`;
}

/** Where a lock's content is written before it is linked into place: `lock.pending-<host>-<pid>`. */
const PENDING = 'lock.pending-';
const pendingName = () => `${PENDING}${os.hostname()}-${process.pid}`;

/** Create `file` holding `content`, or throw EEXIST; no other process ever sees it empty. */
function createWithContent(file: string, content: string): void {
  const pending = path.join(path.dirname(file), pendingName());
  fs.writeFileSync(pending, content);
  try {
    fs.linkSync(pending, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw e;
    // A file system without hard links: an exclusive create, empty for an instant (then UNWRITTEN_STALE_MS applies).
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    const fd = fs.openSync(file, 'wx');
    try { fs.writeSync(fd, content); } finally { fs.closeSync(fd); }
  } finally {
    fs.rmSync(pending, { force: true });
  }
}

/** Pending files left by processes on this host that were killed between writing and linking. */
function removeDebris(dir: string): void {
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith(`${PENDING}${os.hostname()}-`)) continue;
    const pid = Number(f.slice(f.lastIndexOf('-') + 1));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !pidAlive(pid)) fs.rmSync(path.join(dir, f), { force: true });
  }
}

/** Try once: the lock, or the holder's description. A stale lock is broken and retaken. */
export function tryLock(dir: string): Lock | string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      createWithContent(file, JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() } satisfies LockInfo));
      removeDebris(dir);
      const beat = setInterval(() => {
        try {
          const now = new Date();
          fs.utimesSync(file, now, now);
        } catch { /* released meanwhile */ }
      }, HEARTBEAT_MS);
      beat.unref();
      let released = false;
      return {
        path: file,
        release: () => {
          if (released) return;
          released = true;
          clearInterval(beat);
          try {
            const held: LockInfo = JSON.parse(fs.readFileSync(file, 'utf8'));
            if (held.pid === process.pid && held.host === os.hostname()) fs.unlinkSync(file);
          } catch { /* already gone */ }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let seen: string;
      try {
        seen = fs.readFileSync(file, 'utf8');
      } catch {
        continue; // released meanwhile: retry the create
      }
      const holder = lockHolder(file);
      if (holder) return describeHolder(holder);
      // Stale: move it aside atomically (only one breaker wins the rename), then retry the O_EXCL create.
      // If what we moved is not the stale lock we judged (another breaker already replaced it with a live
      // one), put it back with link(), which fails rather than overwrite a lock created since.
      const aside = `${file}.stale-${process.pid}`;
      try {
        fs.renameSync(file, aside);
        if (fs.readFileSync(aside, 'utf8') !== seen) {
          try {
            fs.linkSync(aside, file);
          } catch { /* a newer lock exists; ours was the latecomer */ }
          fs.rmSync(aside, { force: true });
          return 'lock contended';
        }
        fs.rmSync(aside, { force: true });
      } catch { /* someone else broke it first */ }
    }
  }
  return 'lock contended';
}

/** Wait (polling) until the lock is ours; `onWait` is told once who holds it (once the holder has written its name, if it does). */
export async function acquireLock(dir: string, opts: { pollMs?: number; onWait?: (holder: string) => void } = {}): Promise<Lock> {
  let told = false;
  let polls = 0;
  for (;;) {
    const r = tryLock(dir);
    if (typeof r !== 'string') return r;
    if (!told && (r !== HOLDER_UNKNOWN || polls > 0)) {
      opts.onWait?.(r);
      told = true;
    }
    polls++;
    await new Promise((res) => setTimeout(res, opts.pollMs ?? 2000));
  }
}
