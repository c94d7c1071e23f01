// Picks and initialises the tfjs backend: tensorflow → webgpu → native → wasm → cpu, first one that works.
//
// Why a chooser at all: the same notebook runs on a laptop (wasm), a CPU server with our N-API kernels
// (native), a GPU box with Dawn (webgpu) or a CUDA box with tfjs-node-gpu (tensorflow). Nobody should edit
// code to move between them, and everybody should see which one ran and why the faster ones did not.
// Override with MIDTRAIN_BACKEND=<name> or initBackend({ backend }); a forced backend that cannot start is
// an error, never a silent fallback.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { releaseWebgpu, tryWebgpuBackend } from './webgpu';

export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendReport {
  /** The backend tfjs now runs on. */
  name: BackendName;
  /** Device / threads / versions of the chosen backend, e.g. "SIMD, 1 thread". */
  detail: string;
  /** The better backends that were not used, each with the reason. */
  skipped: { name: BackendName; reason: string }[];
}

export interface InitBackendOptions {
  /** Use exactly this backend (beats MIDTRAIN_BACKEND). */
  backend?: BackendName;
  /** Do not print the one-line report. */
  quiet?: boolean;
}

/** What a probe returns: the backend is active (ok) or the reason it cannot be. */
export type ProbeResult = { ok: true; detail: string } | { ok: false; reason: string };
/** Tries to make one backend the active tfjs backend. `forced`: the user asked for exactly this one. */
export type Probe = (forced: boolean) => Promise<ProbeResult>;

/** Parses a backend name from user input; `source` names where it came from for the error message. */
export function parseBackendName(value: string, source: string): BackendName {
  const v = value.trim().toLowerCase();
  if ((BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendName;
  throw new Error(`midtrain: ${source}="${value}" is not a backend; use one of ${BACKEND_NAMES.join(', ')}`);
}

/**
 * The chooser's logic without side effects of its own: run probes in order (or only the forced one) and
 * record why each better backend was skipped. Exported so the fallback path can be tested with fake probes.
 */
export async function chooseBackend(
  probes: Record<BackendName, Probe>,
  forced?: { name: BackendName; source: string },
): Promise<BackendReport> {
  if (forced) {
    const r = await runProbe(probes[forced.name], true);
    if (!r.ok) throw new Error(`midtrain: backend ${forced.name} (${forced.source}) could not start: ${r.reason}`);
    const skipped = BACKEND_NAMES.filter((n) => n !== forced.name).map((name) => ({ name, reason: `${forced.source} chose ${forced.name}` }));
    return { name: forced.name, detail: r.detail, skipped };
  }
  const skipped: BackendReport['skipped'] = [];
  for (const name of BACKEND_NAMES) {
    const r = await runProbe(probes[name], false);
    if (r.ok) return { name, detail: r.detail, skipped };
    skipped.push({ name, reason: r.reason });
  }
  throw new Error(`midtrain: no tfjs backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/** A probe that throws counts as a failed probe whose reason is the error's first line. */
async function runProbe(probe: Probe, forced: boolean): Promise<ProbeResult> {
  try {
    return await probe(forced);
  } catch (e) {
    return { ok: false, reason: firstLine(e) };
  }
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].trim();
}

function isMissingModule(e: unknown, id: string): boolean {
  const err = e as { code?: string; message?: string };
  return err?.code === 'MODULE_NOT_FOUND' && typeof err.message === 'string' && err.message.includes(`'${id}'`);
}

/** Makes `name` the active backend; false when its factory failed (tfjs logs the cause). */
async function activate(name: string): Promise<boolean> {
  if (tf.findBackendFactory(name) == null) return false;
  const ok = await tf.setBackend(name);
  await tf.ready();
  return ok && tf.getBackend() === name;
}

// ---------------------------------------------------------------------------------------------------------
// The real probes.

/** tfjs-node-gpu, then tfjs-node. A require that succeeds is not enough: package.json maps tfjs-node to plain
 * tfjs (danfojs needs the name), so only a module that registered the 'tensorflow' backend counts. */
async function probeTensorflow(): Promise<ProbeResult> {
  const reasons: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg);
    } catch (e) {
      reasons.push(isMissingModule(e, pkg) ? `${pkg} not installed` : `${pkg} failed to load: ${firstLine(e)}`);
      continue;
    }
    if (tf.findBackendFactory('tensorflow') == null) {
      reasons.push(`${pkg} has no native binding (plain-tfjs alias)`);
      continue;
    }
    if (!(await activate('tensorflow'))) {
      reasons.push(`${pkg} loaded but the tensorflow backend failed to initialise`);
      continue;
    }
    const versions = tf.version as Record<string, string>;
    const v = versions['tfjs-node'] ?? versions['tfjs-node-gpu'] ?? '?';
    return { ok: true, detail: `${pkg.replace('@tensorflow/', '')} ${v}` };
  }
  return { ok: false, reason: reasons.join('; ') };
}

/** Dawn via the `webgpu` package (src/backend/webgpu.ts). Skips when there is no adapter or only a
 * software one (unless forced); MIDTRAIN_WEBGPU_LAVAPIPE=1 points it at the cached lavapipe. */
async function probeWebgpu(forced: boolean): Promise<ProbeResult> {
  const r = await tryWebgpuBackend({ allowSoftware: forced });
  return r.ok ? { ok: true, detail: r.detail } : r;
}

/** The N-API kernels live in ./native; until that module exists, native is reported as not built. */
async function probeNative(): Promise<ProbeResult> {
  let mod: { tryNativeBackend?: () => Promise<ProbeResult> };
  try {
    mod = require('./native');
  } catch (e) {
    if (isMissingModule(e, './native')) return { ok: false, reason: 'native kernels not built' };
    return { ok: false, reason: `native module failed to load: ${firstLine(e)}` };
  }
  if (typeof mod.tryNativeBackend !== 'function') return { ok: false, reason: 'src/backend/native has no tryNativeBackend()' };
  const r = await mod.tryNativeBackend();
  if (!r.ok) return r;
  // tryNativeBackend may already have made it active; otherwise select the registered 'native' backend.
  if (tf.getBackend() !== 'native' && !(await activate('native'))) {
    return { ok: false, reason: `native backend reported ready (${r.detail}) but tfjs could not select it` };
  }
  return r;
}

/** XNNPACK in WebAssembly, SIMD build. Threads = cores is requested; tfjs 4.22 runs one thread under Node. */
async function probeWasm(): Promise<ProbeResult> {
  const wasm: typeof import('@tensorflow/tfjs-backend-wasm') = require('@tensorflow/tfjs-backend-wasm');
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
  if (!fs.existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm'))) return { ok: false, reason: `no wasm binaries in ${dir}` };
  wasm.setWasmPaths(dir + path.sep);
  wasm.setThreadsCount(os.availableParallelism());
  if (!(await activate('wasm'))) return { ok: false, reason: 'the wasm backend failed to initialise' };
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = wasm.getThreadsCount();
  return { ok: true, detail: `${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}` };
}

/** Pure-JS kernels: always there, far too slow to train anything but the tiniest model. */
async function probeCpu(): Promise<ProbeResult> {
  if (!(await activate('cpu'))) return { ok: false, reason: 'the cpu backend failed to initialise' };
  return { ok: true, detail: `pure JS, tfjs ${tf.version_core}` };
}

export const REAL_PROBES: Record<BackendName, Probe> = {
  tensorflow: probeTensorflow,
  webgpu: probeWebgpu,
  native: probeNative,
  wasm: probeWasm,
  cpu: probeCpu,
};

// ---------------------------------------------------------------------------------------------------------
// Public entry.

let current: BackendReport | undefined;
let pending: Promise<BackendReport> | undefined;

/** The one-line report, e.g. "backend: wasm (SIMD, 1 thread) — skipped tensorflow: …; webgpu: …". */
export function formatBackendReport(r: BackendReport): string {
  const skipped = r.skipped.length ? ` — skipped ${r.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}` : '';
  return `backend: ${r.name} (${r.detail})${skipped}`;
}

/** Which backend was requested, and by whom: the argument beats MIDTRAIN_BACKEND; neither means "choose". */
function requested(opts: InitBackendOptions): { name: BackendName; source: string } | undefined {
  if (opts.backend) return { name: parseBackendName(opts.backend, 'initBackend({ backend })'), source: 'initBackend({ backend })' };
  const env = process.env.MIDTRAIN_BACKEND;
  if (env && env.trim() && env.trim().toLowerCase() !== 'auto') return { name: parseBackendName(env, 'MIDTRAIN_BACKEND'), source: `MIDTRAIN_BACKEND=${env.trim()}` };
  return undefined;
}

/**
 * Chooses and initialises the tfjs backend once per process and logs one line saying which and why.
 * Idempotent: later calls return the same report, unless they explicitly ask for a different backend.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendReport> {
  const want = requested(opts);
  if (current && (!want || want.name === current.name)) return current;
  if (pending && !want) return pending;
  const run = (async () => {
    const report = await chooseBackend(REAL_PROBES, want);
    current = report;
    if (!opts.quiet) console.log(`[midtrain] ${formatBackendReport(report)}`);
    return report;
  })();
  pending = run;
  try {
    return await run;
  } finally {
    if (pending === run) pending = undefined;
  }
}

/** The report of the last successful initBackend(), or undefined before it. */
export function currentBackend(): BackendReport | undefined {
  return current;
}

/**
 * Lets a CLI process exit: Dawn keeps Node's event loop alive while navigator.gpu is referenced, so after
 * the work is done on webgpu, dispose the backend and drop the reference. Harmless on other backends.
 */
export function releaseBackend(): void {
  if (current?.name === 'webgpu') releaseWebgpu();
  current = undefined;
}
