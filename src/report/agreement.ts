// Where our measurements agree with the paper's claims, as rows computed from the runs: each claim, the
// paper's number, ours with its 95% CI, a verdict and why. A verdict is "agrees"/"disagrees" only when the
// interval excludes zero (point-estimate checks say so); otherwise "inconclusive" — never a typed-in answer.
import * as aq from 'arquero';
import type { SftTaskName } from '../config';
import type { ExperimentResult } from '../experiments/result';
import type { AllResults } from './analysis';
import { BASELINE } from '../experiments/plan';
import { DOMAIN_TASK, type DomainRole } from '../experiments/definitions';
import { sftRunRows, bestLrs, bestLrOf, cellRuns, sftCells, sftConvergence, reportedLoss, seedsText, withCaption, type SftRunRow, type Table } from './tables';
import { meanCi, seedCi, type MeanCi, type SeedCi, type Correlation, type ClusterCorrelation } from './stats';
import { PAPER_HEADLINE, PAPER_PROXIMITY_R, paperBaseline, paperRelImprovement } from './paper';
import type { ProximityPoint } from './figures';

export type Verdict = 'agrees' | 'disagrees' | 'inconclusive' | 'not run';

export interface AgreementRow {
  claim: string;
  /** What is compared, e.g. "pycode: code-w20-f10 vs baseline". */
  comparison: string;
  paper: string;
  ours: string;
  verdict: Verdict;
  why: string;
}

const f3 = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(3);
const pc = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;

/** What a paired difference compares per run: the reported SFT loss (test where measured, else val), val loss, general loss after SFT, or its change over SFT. */
export type PairedMetric = 'loss' | 'sftLoss' | 'forgetting' | 'forgettingChange';

const METRIC: Record<PairedMetric, (r: SftRunRow) => number> = {
  loss: reportedLoss,
  sftLoss: (r) => r.sftLoss,
  forgetting: (r) => r.forgetting,
  forgettingChange: (r) => r.forgetting - r.before,
};

/** Runs keyed by (pretraining seed, SFT seed): the unit a difference is paired on. */
function bySeed(rows: SftRunRow[], metric: PairedMetric): Map<string, { pretrainSeed: number; sftSeed: number; value: number }> {
  return new Map(rows.map((r) => [`${r.pretrainSeed}\u0000${r.seed}`, { pretrainSeed: r.pretrainSeed, sftSeed: r.seed, value: METRIC[metric](r) }]));
}

/**
 * Per-seed difference metric(A) − metric(B) on one task, each model at its own best LR (as in the headline
 * cells) or both at `lr`, paired by seed (same pretraining seed and SFT seed), as mean ± 95% CI over
 * pretraining seeds where there are several (their SFT seeds averaged), else over SFT seeds.
 */
export function pairedDifference(result: ExperimentResult, modelA: string, modelB: string, task: SftTaskName, metric: PairedMetric, lr?: number): SeedCi {
  const rows = sftRunRows(result);
  const best = bestLrs(rows);
  const a = bySeed(cellRuns(rows, best, modelA, task, lr ?? bestLrOf(best, modelA, task)), metric);
  const b = bySeed(cellRuns(rows, best, modelB, task, lr ?? bestLrOf(best, modelB, task)), metric);
  return seedCi([...a].filter(([k]) => b.has(k)).map(([k, x]) => ({ ...x, value: x.value - b.get(k)!.value })));
}

/** The verdict of a measured difference against the paper's direction (+1: paper's difference is positive). */
export function ciVerdict(d: MeanCi, paperSign: number): Verdict {
  if (d.n === 0 || !Number.isFinite(d.mean)) return 'not run';
  if (!Number.isFinite(d.halfWidth) || (d.lo <= 0 && d.hi >= 0)) return 'inconclusive';
  return Math.sign(d.mean) === Math.sign(paperSign) ? 'agrees' : 'disagrees';
}

function ciText(d: MeanCi | SeedCi, fmt: (x: number) => string): string {
  if (d.n === 0) return '—';
  const over = 'unit' in d ? `${seedsText(d)} seed${d.unit === 'sft' && d.n === 1 ? '' : 's'}` : `${d.n} seed${d.n === 1 ? '' : 's'}`;
  return Number.isFinite(d.halfWidth) ? `${fmt(d.mean)} [${fmt(d.lo)}, ${fmt(d.hi)}], ${over}` : `${fmt(d.mean)} (${over}, no CI)`;
}

function noiseWhy(d: MeanCi, fmt: (x: number) => string): string {
  if (!Number.isFinite(d.halfWidth)) return 'one seed: no interval, so no verdict';
  return `the interval spans zero: a difference of ${fmt(d.mean)} is within seed noise (±${fmt(d.halfWidth).replace('+', '')}) at this scale`;
}

/** The "why" of an interval verdict: seed noise and missing runs read the same for every claim; each claim says why it agrees or not. */
function whyOf(verdict: Verdict, d: MeanCi, fmt: (x: number) => string, reasons: { agrees: string; disagrees: string }): string {
  if (verdict === 'inconclusive') return noiseWhy(d, fmt);
  if (verdict === 'not run') return 'no finished runs';
  return reasons[verdict];
}

/** How far SFT moved the general loss on average (general val after SFT − the parent's before): the room forgetting has. */
export function meanSftShift(result: ExperimentResult): number {
  const shifts: number[] = [];
  for (const r of result.plan.runs) {
    if (r.config.kind !== 'sft') continue;
    const after = result.records[r.id]?.summary?.finalVal.general;
    const before = result.records[r.config.parent.runId]?.summary?.finalVal.general;
    if (after !== undefined && before !== undefined) shifts.push(after - before);
  }
  return meanCi(shifts).mean;
}

/** Where a mixture's proximity advantage to a task ranks among all mixtures' (the data-side reason for a small or negative gain). */
function proximityNote(points: readonly ProximityPoint[], model: string, task: SftTaskName): string {
  const forTask = points.filter((p) => p.task === task).sort((a, b) => b.advantage - a.advantage);
  const i = forTask.findIndex((p) => p.model === model);
  if (i < 0) return '';
  return `; its proximity advantage to ${task} is ${forTask[i].advantage.toFixed(3)}, ${i + 1} of ${forTask.length} mixtures`;
}

/** Claim 1: the paper's headline mixture lowers in-domain SFT loss against C4-only (one row per headline task). */
export function sftLossRows(mid: ExperimentResult, points: readonly ProximityPoint[] = []): AgreementRow[] {
  const cells = sftCells(mid);
  return PAPER_HEADLINE.filter((p) => p.model !== BASELINE).map((p) => {
    const paperRel = paperRelImprovement(p);
    const cell = cells.find((c) => c.model === p.model && c.task === p.task);
    const rel = cell?.relImprovement ?? meanCi([]);
    const verdict = ciVerdict(rel, paperRel);
    return {
      claim: 'Midtraining lowers in-domain SFT loss vs C4-only',
      comparison: `${p.task}: ${p.model} (${p.mixture}) vs baseline`,
      paper: `${pc(paperRel)} (${p.size})`,
      ours: ciText(rel, pc),
      verdict,
      why: whyOf(verdict, rel, pc, {
        agrees: `same direction; size ${Math.abs(rel.mean) > Math.abs(paperRel) ? 'larger' : 'smaller'} than the paper’s`,
        disagrees: `the paper’s gain is small (${pc(paperRel)}) and our stand-in data differ${proximityNote(points, p.model, p.task)}`,
      }),
    };
  });
}

/**
 * Forgetting is the general loss *after* SFT, so it carries any gap the mixture already had before SFT
 * (its domain share displaced general data): that gap, from the two pretraining runs' final general loss.
 */
function preSftNote(result: ExperimentResult, model: string): string {
  const general = (m: string) => {
    const run = result.plan.runs.find((r) => r.config.kind === 'pretrain' && r.model === m);
    return run ? result.records[run.id]?.summary?.finalVal.general : undefined;
  };
  const a = general(model);
  const b = general(BASELINE);
  return a !== undefined && b !== undefined ? `; before SFT the gap was already ${f3(a - b)}` : '';
}

/**
 * Two forgetting rows for one comparison, both models at the same LR (`lr`, the reference model's best, so a
 * smaller winning LR cannot make a model look as if it forgets less): the general loss after SFT, and its
 * paired change over SFT (after − before, each run against its own parent), which removes any gap the two
 * pretrained models had already.
 */
function forgettingPair(result: ExperimentResult, modelA: string, modelB: string, task: SftTaskName, lr: number | undefined, base: Omit<AgreementRow, 'ours' | 'verdict' | 'why'>, paperSign: number, reasons: { agrees: string; disagrees: string }): AgreementRow[] {
  const lrWords = lr === undefined ? 'no finished runs' : `both at LR ${lr}, ${modelB}’s best`;
  return (['forgetting', 'forgettingChange'] as const).map((metric) => {
    const d = lr === undefined ? seedCi([]) : pairedDifference(result, modelA, modelB, task, metric, lr);
    const verdict = ciVerdict(d, paperSign);
    return {
      ...base,
      claim: `${base.claim}${metric === 'forgetting' ? ' — general loss after SFT' : ' — change over SFT (after − before)'}`,
      comparison: `${base.comparison} (${lrWords})`,
      paper: metric === 'forgetting' ? base.paper : `${base.paper}; the paper reports the level only`,
      ours: ciText(d, f3),
      verdict,
      why: whyOf(verdict, d, f3, reasons) + (metric === 'forgetting' ? preSftNote(result, modelA) : ''),
    };
  });
}

/** Claim 2: forgetting of the headline mixture against C4-only, in the paper's direction for that task, at the baseline's best LR. */
export function forgettingRows(mid: ExperimentResult): AgreementRow[] {
  const best = bestLrs(sftRunRows(mid));
  return PAPER_HEADLINE.filter((p) => p.model !== BASELINE && p.forgetting !== undefined).flatMap((p) => {
    const paperDiff = p.forgetting! - paperBaseline(p.task)!.forgetting!;
    return forgettingPair(mid, p.model, BASELINE, p.task, bestLrOf(best, BASELINE, p.task), {
      claim: `Midtraining ${paperDiff < 0 ? 'forgets less' : 'forgets more'} than C4-only`,
      comparison: `${p.task}: ${p.model} − baseline`,
      paper: `${f3(paperDiff)} (${p.size})`,
    }, paperDiff, { agrees: 'same direction', disagrees: 'opposite direction' });
  });
}

/** Claim 3: continued pretraining (100% domain) forgets more than the mixture of the same domain, on that domain's task, both at the mixture's best LR. */
export function cptRows(cpt: ExperimentResult): AgreementRow[] {
  const cells = sftCells(cpt);
  const best = bestLrs(sftRunRows(cpt));
  const rows: AgreementRow[] = [];
  for (const c of cells.filter((x) => x.weight >= 1)) {
    const task = DOMAIN_TASK[c.role as DomainRole];
    if (c.task !== task) continue;
    const mix = cells.find((x) => x.role === c.role && x.weight < 1 && x.task === task);
    if (!mix) continue;
    rows.push(...forgettingPair(cpt, c.model, mix.model, task, bestLrOf(best, mix.model, task), {
      claim: 'Continued pretraining forgets more than midtraining',
      comparison: `${task}: ${c.model} − ${mix.model}`,
      paper: 'CPT forgets the most (qualitative)',
    }, 1, { agrees: 'same direction', disagrees: 'the CPT branch here starts late and is short, so it sees little domain-only data before SFT' }));
  }
  return rows;
}

/** Claim 4: an earlier start helps more (timing ablation, v1): SFT loss of the latest start − the earliest. */
export function timingRow(timing: ExperimentResult, task: SftTaskName = 'pycode'): AgreementRow {
  const cs = sftCells(timing).filter((c) => c.task === task && c.model !== BASELINE).sort((a, b) => a.startFraction - b.startFraction);
  const first = cs[0];
  const last = cs[cs.length - 1];
  const d = first && last && first !== last ? pairedDifference(timing, last.model, first.model, task, 'loss') : seedCi([]);
  const verdict = ciVerdict(d, 1);
  return {
    claim: 'Starting the mix earlier helps more (v1)',
    comparison: first && last ? `${task}: SFT loss of start ${Math.round(100 * last.startFraction)}% − start ${Math.round(100 * first.startFraction)}%` : task,
    paper: 'earlier is better',
    ours: ciText(d, f3),
    verdict,
    why: whyOf(verdict, d, f3, { agrees: 'an earlier branch sees more domain tokens, as in the paper', disagrees: 'a late branch here is fresher in memory at SFT time, and the whole run is short' }) +
      (first && last ? `; at equal weight the earlier branch sees ${((1 - first.startFraction) / (1 - last.startFraction)).toFixed(1)}× the domain tokens, so this is timing and amount together` : ''),
  };
}

/** Per (pretraining seed, SFT seed): the spread (max − min) of the reported loss over the given models, each at its own best LR. */
function perSeedSpread(result: ExperimentResult, models: string[], task: SftTaskName): Map<string, { pretrainSeed: number; sftSeed: number; value: number }> {
  const rows = sftRunRows(result);
  const best = bestLrs(rows);
  const per = models.map((m) => bySeed(cellRuns(rows, best, m, task), 'loss'));
  const out = new Map<string, { pretrainSeed: number; sftSeed: number; value: number }>();
  for (const [k, v] of per[0] ?? []) {
    const xs = per.map((p) => p.get(k)?.value);
    if (xs.every((x): x is number => x !== undefined && Number.isFinite(x))) out.set(k, { ...v, value: Math.max(...xs) - Math.min(...xs) });
  }
  return out;
}

/** Domain tokens a branch sees, as a fraction of a full run's tokens: weight × (1 − start). */
const domainShare = (c: { weight: number; startFraction: number }) => c.weight * (1 - c.startFraction);

/**
 * Claim 5 (v1): timing matters more than weight — per seed, the spread of the SFT loss along the start axis
 * minus the spread along the weight axis (each over the ablation's four cells), paired by seed, with its CI.
 * The axes also span different amounts of domain data; the "why" says how much, so the reader can weigh it.
 */
export function timingVsWeightRow(timing: ExperimentResult, weight: ExperimentResult, task: SftTaskName = 'pycode'): AgreementRow {
  const tc = sftCells(timing).filter((c) => c.task === task && c.model !== BASELINE);
  const wc = sftCells(weight).filter((c) => c.task === task && c.model !== BASELINE);
  const t = perSeedSpread(timing, tc.map((c) => c.model), task);
  const w = perSeedSpread(weight, wc.map((c) => c.model), task);
  const d = tc.length >= 2 && wc.length >= 2 ? seedCi([...t].filter(([k]) => w.has(k)).map(([k, x]) => ({ ...x, value: x.value - w.get(k)!.value }))) : seedCi([]);
  const verdict = ciVerdict(d, 1);
  const range = (cs: typeof tc) => cs.length ? `${(100 * Math.min(...cs.map(domainShare))).toFixed(0)}–${(100 * Math.max(...cs.map(domainShare))).toFixed(0)}%` : '—';
  return {
    claim: 'Timing matters more than weight (v1)',
    comparison: `${task}: per-seed spread of SFT loss along start − along weight`,
    paper: 'timing > weight',
    ours: ciText(d, f3),
    verdict,
    why: whyOf(verdict, d, f3, { agrees: 'moving the start changes the SFT loss more than moving the weight', disagrees: 'moving the weight changes the SFT loss more than moving the start' }) +
      `; domain tokens seen (share of a full run): start axis ${range(tc)}, weight axis ${range(wc)}`,
  };
}

/**
 * Claim 6 (v2): late starts tolerate less weight — at the latest start, the SFT loss of the highest weight
 * minus the lowest, paired by seed (same start, so like with like in steps; more weight there must hurt).
 * The interaction with the earliest start (difference of differences) is given in the "why".
 */
export function gridRow(grid: ExperimentResult, task: SftTaskName = 'pycode'): AgreementRow {
  const cs = sftCells(grid).filter((c) => c.task === task && c.model !== BASELINE);
  const starts = [...new Set(cs.map((c) => c.startFraction))].sort((a, b) => a - b);
  const at = (f: number) => cs.filter((c) => c.startFraction === f).sort((a, b) => a.weight - b.weight);
  const late = starts.length ? at(starts[starts.length - 1]) : [];
  const early = starts.length ? at(starts[0]) : [];
  const ok = late.length >= 2 && starts.length >= 2;
  const d = ok ? pairedDifference(grid, late[late.length - 1].model, late[0].model, task, 'loss') : seedCi([]);
  const verdict = ciVerdict(d, 1);
  let interaction = '';
  if (ok && early.length >= 2) {
    const e = pairedDifference(grid, early[early.length - 1].model, early[0].model, task, 'loss');
    const lateD = diffMap(grid, late, task);
    const earlyD = diffMap(grid, early, task);
    const diff = ciText(seedCi([...lateD].filter(([k]) => earlyD.has(k)).map(([k, x]) => ({ ...x, value: x.value - earlyD.get(k)!.value }))), f3);
    interaction = `; at start ${Math.round(100 * starts[0])}% the same difference is ${ciText(e, f3)}, and late − early (interaction) is ${diff}`;
  }
  return {
    claim: 'Late starts tolerate less weight (v2)',
    comparison: ok ? `${task}: SFT loss at weight ${Math.round(100 * late[late.length - 1].weight)}% − ${Math.round(100 * late[0].weight)}%, start ${Math.round(100 * starts[starts.length - 1])}%` : task,
    paper: 'late × high weight is worst',
    ours: ciText(d, f3),
    verdict,
    why: whyOf(verdict, d, f3, { agrees: 'at the late start more weight hurts', disagrees: 'at the late start more weight helps' }) + interaction,
  };
}

/** Per seed: SFT loss of the highest weight − the lowest among cells of one start. */
function diffMap(grid: ExperimentResult, row: { model: string }[], task: SftTaskName) {
  const rows = sftRunRows(grid);
  const best = bestLrs(rows);
  const hi = bySeed(cellRuns(rows, best, row[row.length - 1].model, task), 'loss');
  const lo = bySeed(cellRuns(rows, best, row[0].model, task), 'loss');
  return new Map([...hi].filter(([k]) => lo.has(k)).map(([k, x]) => [k, { ...x, value: x.value - lo.get(k)!.value }]));
}

/**
 * Claim 7: proximity advantage predicts the improvement (paper r = 0.869 at 70M). The cells share mixtures
 * (and baselines), so the verdict uses an interval that resamples mixtures (`resampled`); the Fisher-z
 * interval, which assumes independent cells, is only the fallback when no resampled one is given.
 */
export function proximityRow(corr: Correlation, resampled?: ClusterCorrelation): AgreementRow {
  const lo = resampled ? resampled.pearson.lo : corr.lo;
  const hi = resampled ? resampled.pearson.hi : corr.hi;
  const hasCi = Number.isFinite(lo);
  const verdict: Verdict = !Number.isFinite(corr.r) ? 'not run' : !hasCi || (lo <= 0 && hi >= 0) ? 'inconclusive' : corr.r > 0 ? 'agrees' : 'disagrees';
  const how = resampled ? `bootstrap over ${resampled.clusters} mixtures` : 'Fisher z, cells treated as independent';
  const rho = resampled && Number.isFinite(resampled.spearman.r) ? `; Spearman ρ = ${resampled.spearman.r.toFixed(3)}${Number.isFinite(resampled.spearman.lo) ? ` [${resampled.spearman.lo.toFixed(2)}, ${resampled.spearman.hi.toFixed(2)}]` : ''}` : '';
  return {
    claim: 'Proximity advantage predicts the gain',
    comparison: `Pearson r over ${corr.n} mixture × task cells${resampled ? ` (${resampled.clusters} mixtures)` : ''}`,
    paper: `r = ${PAPER_PROXIMITY_R} (70M)`,
    ours: Number.isFinite(corr.r) ? `r = ${corr.r.toFixed(3)}${hasCi ? ` [${lo.toFixed(2)}, ${hi.toFixed(2)}] (${how})` : ''}${rho}` : '—',
    verdict,
    why: verdict === 'inconclusive' ? (hasCi ? `the interval (${how}) spans zero` : 'too few cells or mixtures for an interval') : verdict === 'agrees' ? `positive, interval (${how}) excludes zero` : verdict === 'not run' ? 'no finished runs' :
      'negative correlation: closer mixtures gained less here',
  };
}

/** Every claim we check against the paper, in the findings notebook's order. */
export function paperAgreement(f: AllResults): AgreementRow[] {
  return [
    ...sftLossRows(f.midtraining, f.proximity.pointList),
    ...forgettingRows(f.midtraining),
    ...cptRows(f.cpt),
    timingRow(f.timing),
    timingVsWeightRow(f.timing, f.weight),
    gridRow(f.grid),
    proximityRow(f.proximity.correlation, f.proximity.resampled),
  ];
}

export function agreementTable(rows: AgreementRow[]): Table {
  return withCaption(aq.from(rows), AGREEMENT_CAPTION);
}

/** What the agreement table's intervals cover. */
export const AGREEMENT_CAPTION = 'Differences are paired by seed (same pretraining seed and SFT seed); “ours” is mean [95% t-interval] over pretraining seeds (each the mean of its SFT seeds) where the comparison has several (“3 pre × 3 SFT seeds”), otherwise over SFT seeds of one pretrained model (covers SFT data order and sampling only). SFT loss is the held-out test loss (val loss for runs that measured no test split) at each model’s best LR (chosen on val); forgetting rows put both models at the reference model’s best LR. A verdict is agrees/disagrees only when the interval excludes zero, else inconclusive. Proximity: interval from a bootstrap that resamples mixtures.';

/** A count of verdicts and the preset's scale next to the paper's, the reasons any result can differ. */
export function describeAgreement(rows: AgreementRow[], f: AllResults): string {
  const count = (v: Verdict) => rows.filter((r) => r.verdict === v).length;
  const s = f.midtraining.plan.scale;
  const m = s.model;
  const tokens = s.pretrain.totalSteps * s.pretrain.batchSize * m.contextLength;
  const sftSteps = Math.ceil((s.sft.maxExamples ?? Infinity) / s.sft.batchSize) * s.sft.epochs;
  const shift = meanSftShift(f.midtraining);
  const shares = f.midtraining.plan.experiment.sftTasks.map((t) => sftConvergence(f.midtraining, BASELINE, t)?.lastDropShare).filter((x): x is number => x !== undefined && Number.isFinite(x));
  const lo = Math.round(100 * Math.min(...shares)), hi = Math.round(100 * Math.max(...shares));
  const flat = !shares.length ? '' : Math.max(...shares) < 0.05 ? 'at its end the baseline’s SFT val loss is close to flat; '
    : `at its end the baseline’s SFT val loss is still falling (the last evaluated interval holds ${lo === hi ? lo : `${lo}–${hi}`}% of its fall since the first evaluation, by task; notebook 01), so the SFT losses here are measured before convergence; `;
  return [
    `Of ${rows.length} checks, **${count('agrees')} agree** with the paper, **${count('disagrees')} disagree** and **${count('inconclusive')} are inconclusive** (95% CI spans zero)${count('not run') ? `; ${count('not run')} have no finished runs` : ''}.`,
    '',
    `Why numbers can differ at preset \`${s.preset}\`: the model is d ${m.dModel} × ${m.nLayers} layers (paper: 70M–1B parameters); a full pretraining run sees ${tokens.toLocaleString('en-US')} tokens (paper: ~128B); ` +
      `SFT is ${Number.isFinite(sftSteps) ? `${sftSteps} steps` : `${s.sft.epochs} epochs`} per run (paper: 4 epochs on the full task), which moves the general loss by ${Number.isFinite(shift) ? f3(shift) : '—'} on average — forgetting has little room to show; ${flat}` +
      'and our roles are stand-ins built from npm/Debian text, not Starcoder, the math corpora, FLAN or DCLM (data/cards).',
  ].join('\n');
}
