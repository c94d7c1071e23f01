// One writer per run folder, across processes and hosts (two Slurm array tasks, a notebook and a CLI):
// an O_EXCL lock file holding pid + host, kept fresh by a heartbeat. A lock is stale when its process is
// gone (same host) or its heartbeat is older than STALE_MS (other host, e.g. a killed Slurm node).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** A lock whose heartbeat is older than this is considered abandoned by a process on another host. */
const STALE_MS = 10 * 60 * 1000;
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
      if (Date.now() - fs.statSync(file).mtimeMs > STALE_MS) return undefined;
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

/** Try once: the lock, or the holder's description. A stale lock is broken and retaken. */
export function tryLock(dir: string): Lock | string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() } satisfies LockInfo));
      fs.closeSync(fd);
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
