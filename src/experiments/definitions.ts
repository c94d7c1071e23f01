// The paper's experiments as typed data (Liu, Neubig, Xiong 2025, §3–5): which branches leave the one
// baseline, where and with what weight, and which SFT tasks every resulting model is fine-tuned on.
// Every start is a fraction of total steps, so one definition runs at every preset (scale.ts sizes it).
// To try a variant, override a number (`experiment('midtraining', { code: { weight: 0.3 } })`): only the
// runs that number touches get new ids, so only they (and their SFT children) train; the baseline is reused.
import { SFT_TASKS, type Role, type RolePart, type SftTaskName } from '../config';
import { PAPER_TIMINGS } from './scale';
import { PART_SPECS } from '../data/parts';

/** What a branch mixes in: a domain role, or a part of one (an ablation such as math without its synthetic problems). */
export type DomainRole = Exclude<Role, 'general'> | RolePart;

/** One midtraining (or continued-pretraining) branch off the baseline: from `startFraction`, sample (1 − w)·general + w·role. */
export interface BranchSpec {
  role: DomainRole;
  /** Mixture weight w of the domain data; 1 = continued pretraining (no general data). */
  weight: number;
  /** Fraction of the baseline's total steps at which the branch leaves it. */
  startFraction: number;
  /** The paper's name for this mixture, where it has one (Starcoder, Math, FLAN, KnowledgeQA, DCLM). */
  paperName?: string;
}

export const EXPERIMENT_NAMES = ['baseline', 'midtraining', 'cpt', 'timing', 'weight', 'grid', 'math-synthetic-ablation'] as const;
export type ExperimentName = (typeof EXPERIMENT_NAMES)[number];

export interface Experiment {
  name: ExperimentName;
  title: string;
  /** The question the experiment answers, as the notebook states it. */
  question: string;
  /** Branches off the baseline (the baseline itself is part of every experiment: it is the reference). */
  branches: BranchSpec[];
  /** SFT tasks every model of the experiment (baseline included) is fine-tuned on. */
  sftTasks: SftTaskName[];
  /** What this experiment changes relative to the paper, stated in the notebook. */
  notes: string[];
  /**
   * The headline comparisons' seed axis: the baseline and this experiment's code and math branches (mixtures
   * and CPT) are also pretrained at the preset's extra pretraining seeds, each fine-tuned on its in-domain task
   * (DOMAIN_TASK), so those cells' intervals cover pretraining as well as SFT.
   */
  pretrainSeedAxis?: boolean;
}

/** The task each domain targets: the in-domain comparison of the headline claims (code → pycode, math → gsm). */
export const DOMAIN_TASK: Partial<Record<DomainRole, SftTaskName>> = { code: 'pycode', math: 'gsm' };

/** The paper's five midtraining mixtures mapped onto our roles (start: 6k/20k/40k of 61k steps ≈ 10/33/66%). */
export const PAPER_MIXTURES: BranchSpec[] = [
  { role: 'code', weight: 0.2, startFraction: 0.1, paperName: 'Starcoder' },
  { role: 'math', weight: 0.12, startFraction: 0.33, paperName: 'Math' },
  { role: 'instruction', weight: 0.05, startFraction: 0.66, paperName: 'FLAN' },
  { role: 'knowledge', weight: 0.2, startFraction: 0.66, paperName: 'KnowledgeQA' },
  { role: 'web-quality', weight: 0.2, startFraction: 0.66, paperName: 'DCLM' },
];

/** Continued pretraining: 100% domain data from the paper's CPT starts (code from 40k ≈ 66%, math from 56k ≈ 92%). */
export const PAPER_CPT: BranchSpec[] = [
  { role: 'code', weight: 1, startFraction: 0.66 },
  { role: 'math', weight: 1, startFraction: 0.92 },
];

/** The ablations vary the code mixture (the paper's timing/percentage configs are Starcoder, w 20%, from 40k for the weight sweep). */
export const ABLATION_ROLE: DomainRole = 'code';
export const ABLATION_WEIGHT = 0.2;
export const ABLATION_START = 0.66;
export const ABLATION_WEIGHTS = [0.1, 0.3, 0.5, 0.8];

const ALL_TASKS: SftTaskName[] = [...SFT_TASKS];
const ABLATION_NOTE = 'Ablation models are fine-tuned on the code task (pycode), the task the code mixture targets; forgetting is the general val loss after that SFT.';

/**
 * The math mixture with and without its synthetic word problems. The math role holds worked word problems
 * from the gsm task's own generator (train templates only; gsm's val and test use other templates): format
 * overlap, not item leakage, but it could carry the math mixture's gsm effect by itself. The second arm
 * samples the role's `math-natural` part (same documents minus the synthetic ones, same tokenizer and
 * split) at the same weight and start, so the two arms differ only in the synthetic problems.
 */
const MATH_MIXTURE = PAPER_MIXTURES.find((m) => m.role === 'math')!;
export const MATH_SYNTHETIC_ABLATION: Experiment = {
  name: 'math-synthetic-ablation',
  title: 'Math mixture with and without its synthetic word problems',
  question: 'How much of the math mixture\'s effect on gsm comes from its synthetic GSM-style problems (the gsm generator\'s train templates)?',
  branches: [MATH_MIXTURE, { role: 'math-natural', weight: MATH_MIXTURE.weight, startFraction: MATH_MIXTURE.startFraction }],
  sftTasks: ['gsm'],
  notes: [
    'The math arm is the midtraining experiment\'s math mixture (its runs are shared); the other arm samples the math role without the synthetic problems at the same weight and start.',
    'Models are fine-tuned on gsm, the task the synthetic problems resemble; forgetting is the general val loss after that SFT.',
  ],
};
export const EXPERIMENTS: Record<ExperimentName, Experiment> = {
  baseline: {
    name: 'baseline',
    title: 'Baseline: general data only',
    question: 'How well does a model pretrained on general text alone fine-tune on each task, and how much general ability does SFT cost it?',
    branches: [],
    sftTasks: ALL_TASKS,
    notes: [],
    pretrainSeedAxis: true,
  },
  midtraining: {
    name: 'midtraining',
    title: 'Midtraining mixtures',
    question: 'Does mixing specialised data into the second part of pretraining improve SFT on related tasks, and at what cost in forgetting?',
    branches: PAPER_MIXTURES,
    sftTasks: ALL_TASKS,
    notes: [],
    pretrainSeedAxis: true,
  },
  cpt: {
    name: 'cpt',
    title: 'Continued pretraining versus midtraining',
    question: 'Is mixing needed, or does switching to 100% domain data (continued pretraining) do as well — and how much more does it forget?',
    branches: [...PAPER_CPT, ...PAPER_MIXTURES.filter((m) => m.role === 'code' || m.role === 'math')],
    sftTasks: ALL_TASKS,
    notes: ['The code and math midtraining mixtures are included as the contrast (their runs are shared with the midtraining notebook).'],
    pretrainSeedAxis: true,
  },
  timing: {
    name: 'timing',
    title: 'Timing ablation',
    question: 'Does it matter when midtraining starts? (code mixture, w 20%, start at 33/49/66/82% of training)',
    branches: PAPER_TIMINGS.map((f) => ({ role: ABLATION_ROLE, weight: ABLATION_WEIGHT, startFraction: f })),
    sftTasks: ['pycode'],
    notes: [ABLATION_NOTE],
  },
  weight: {
    name: 'weight',
    title: 'Weight ablation',
    question: 'Does it matter how much domain data is mixed in? (code mixture from 66% of training, w 10/30/50/80%)',
    branches: ABLATION_WEIGHTS.map((w) => ({ role: ABLATION_ROLE, weight: w, startFraction: ABLATION_START })),
    sftTasks: ['pycode'],
    notes: [ABLATION_NOTE],
  },
  grid: {
    name: 'grid',
    title: 'Timing × weight',
    question: 'Do timing and weight interact — do late starts tolerate less weight (the paper’s "plasticity window")?',
    // The axes come from the preset's scale (tiny trims them); filled in by `experiment()`.
    branches: [],
    sftTasks: ['pycode'],
    notes: [ABLATION_NOTE, 'Cells shared with the timing and weight ablations reuse those runs.'],
  },
  'math-synthetic-ablation': MATH_SYNTHETIC_ABLATION,
};

/** Overrides by role (applies to every branch of that role) — e.g. { code: { weight: 0.3 } }. */
export type BranchOverrides = Partial<Record<DomainRole, Partial<Omit<BranchSpec, 'role'>>>>;

/**
 * An experiment ready to plan: the registry's definition with the grid's axes filled from `grid`
 * (the preset's axes) and any overrides applied. Throws one line naming a bad field.
 */
export function experiment(
  name: ExperimentName | Experiment,
  overrides: BranchOverrides = {},
  grid?: { timings: number[]; weights: number[] },
): Experiment {
  const base = typeof name === 'string' ? EXPERIMENTS[name] : name;
  if (!base) throw new Error(`experiments: unknown experiment "${String(name)}" (known: ${EXPERIMENT_NAMES.join(', ')})`);
  let branches = base.branches;
  if (base.name === 'grid' && branches.length === 0) {
    if (!grid) throw new Error('experiments: the grid experiment needs the preset\'s grid axes (use planExperiment or pass scale.grid)');
    branches = grid.timings.flatMap((f) => grid.weights.map((w) => ({ role: ABLATION_ROLE, weight: w, startFraction: f })));
  }
  for (const role of Object.keys(overrides)) {
    if (!branches.some((b) => b.role === role)) throw new Error(`experiments: override "${role}" matches no branch of "${base.name}" (roles: ${[...new Set(branches.map((b) => b.role))].join(', ') || 'none'})`);
  }
  branches = branches.map((b) => ({ ...b, ...(overrides[b.role] ?? {}) }));
  branches.forEach((b, i) => validateBranch(b, `${base.name}.branches[${i}]`));
  return { ...base, branches };
}

export function validateBranch(b: BranchSpec, where: string): void {
  if (!(b.weight > 0 && b.weight <= 1)) throw new Error(`${where}.weight: expected a number in (0, 1], got ${b.weight}`);
  if (!(b.startFraction > 0 && b.startFraction < 1)) throw new Error(`${where}.startFraction: expected a number in (0, 1), got ${b.startFraction}`);
}

/** The role whose val split measures a branch's own domain: the role itself, or the role a part belongs to. */
export function branchDomain(b: BranchSpec): Exclude<Role, 'general'> {
  return (PART_SPECS as Record<string, { role: Role } | undefined>)[b.role]?.role as Exclude<Role, 'general'> ?? b.role;
}

/** A branch's stable, readable label, e.g. "code-w20-f10" or "cpt-code-f66" (used for table rows and run names). */
export function branchLabel(b: BranchSpec): string {
  const pct = (x: number) => String(Math.round(x * 1000) / 10);
  return b.weight >= 1 ? `cpt-${b.role}-f${pct(b.startFraction)}` : `${b.role}-w${pct(b.weight)}-f${pct(b.startFraction)}`;
}

/** Every start fraction any registered experiment branches at (the baseline keeps a checkpoint at each). */
export function allStartFractions(extra: number[] = []): number[] {
  const fs = new Set<number>(extra);
  for (const e of Object.values(EXPERIMENTS)) for (const b of e.branches) fs.add(b.startFraction);
  for (const f of PAPER_TIMINGS) fs.add(f);
  return [...fs].sort((a, b) => a - b);
}
