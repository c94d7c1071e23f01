// Shared vocabulary of the workbench: roles, SFT tasks, mixtures and where things live on disk.
// Every other module imports these names from here (one place for each concept).
import * as path from 'path';

/** Pretraining data roles. `general` plays C4's part; the others are the paper's midtraining domains. */
export const ROLES = ['general', 'code', 'math', 'instruction', 'knowledge', 'web-quality'] as const;
export type Role = (typeof ROLES)[number];

/** Downstream SFT tasks (paper: CodeSearchNet-Python, GSM8K, SciQ, LIMA). */
export const SFT_TASKS = ['pycode', 'gsm', 'sciq', 'lima'] as const;
export type SftTaskName = (typeof SFT_TASKS)[number];

/** Data/model scale. Presets scale sizes, never the protocol. */
export const PRESETS = ['tiny', 'small', 'pythia-70m', 'pythia-160m', 'pythia-410m'] as const;
export type PresetName = (typeof PRESETS)[number];

/**
 * Parts of a role that a mixture can sample on their own, for ablations: the same documents, split and
 * tokenizer as the role, minus some of its sources. `math-natural` is the math role without its synthetic
 * word problems; `math-synthetic` is those problems alone.
 */
export const ROLE_PARTS = ['math-natural', 'math-synthetic'] as const;
export type RolePart = (typeof ROLE_PARTS)[number];

/** Sampling weights over roles (or parts of one); they need not be normalised (the sampler normalises). */
export type RoleWeights = Partial<Record<Role | RolePart, number>>;

/**
 * A data mixture as ordered phases. Phase i applies from `fromFraction` (of total steps) until the next phase.
 * Baseline: [{from 0, {general: 1}}]. Midtraining at f with weight w: [{0, general 1}, {f, {general: 1-w, code: w}}].
 */
export interface MixturePhase {
  /** Fraction of total training steps at which this phase starts, in [0, 1). The first phase starts at 0. */
  fromFraction: number;
  weights: RoleWeights;
}
export type Mixture = MixturePhase[];

/** Root of everything built or trained (data, tokenizers, runs). Override with MIDTRAIN_CACHE (e.g. a cluster's shared FS). */
export function cacheRoot(): string {
  return path.resolve(process.env.MIDTRAIN_CACHE ?? path.join(projectRoot(), '.cache'));
}

/** The repository root (the folder holding package.json), whether running from src/ via dist/ or from a notebook. */
export function projectRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = require(path.join(dir, 'package.json'));
      if (pkg.name === 'midtrain') return dir;
    } catch { /* keep walking up */ }
    dir = path.dirname(dir);
  }
  throw new Error(`midtrain: cannot find the project root (package.json named "midtrain") above ${__dirname}`);
}

/** Where reports (HTML, PNG, CSV) for a preset are written. */
export function reportsDir(preset: string): string {
  return path.join(projectRoot(), 'reports', preset);
}
