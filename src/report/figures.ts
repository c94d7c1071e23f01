// Plotly figure builders (plain JSON: { data, layout }) for every plot of the paper's experiments.
// Pure functions of an ExperimentResult; display.ts renders them inline and export.ts saves PNG/HTML.
import type { Role, SftTaskName } from '../config';
import type { StepLog } from '../runs/types';
import type { ExperimentResult } from '../experiments/result';
import { BASELINE, type PlannedRun } from '../experiments/plan';
import { branchDomain } from '../experiments/definitions';
import { sftCells, sftRunRows, bestLrs, type SftCell } from './tables';
import { mean, type Correlation } from './stats';
import type { PlotlyFigure, PlotlyTrace } from './display';
import { describeMatmulSpeed, type MatmulSpeed } from '../backend/matmul-speed';

/** A plotly figure as JSON: display.ts's type, with a layout always present (our builders set titles and axes). */
export type Figure = PlotlyFigure & { layout: Record<string, unknown> };

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd'];

const SYMBOLS = ['circle', 'square', 'diamond', 'triangle-up', 'cross', 'x'];

/** Each role's colour, fixed across figures (general, the baseline's own data, is black). */
const ROLE_COLORS: Record<Role, string> = { general: '#000000', code: '#1f77b4', math: '#ff7f0e', instruction: '#2ca02c', knowledge: '#d62728', 'web-quality': '#9467bd' };

/**
 * Model → colour for one experiment: black for the baseline; each mixture in its role's colour when no two
 * mixtures share a role (so a mixture and "the baseline on its domain" share a colour), else the palette in
 * model order. The same model has the same colour in every figure of an experiment.
 */
function modelColors(models: { model: string; role?: Role }[]): Map<string, string> {
  const branches = models.filter((m) => m.model !== BASELINE);
  const roles = branches.map((m) => m.role);
  const byRole = roles.every((r) => r !== undefined) && new Set(roles).size === roles.length;
  return new Map(models.map((m) => [m.model, m.model === BASELINE ? '#000000' : byRole ? ROLE_COLORS[m.role!] : PALETTE[branches.findIndex((b) => b.model === m.model) % PALETTE.length]]));
}

function resultColors(result: ExperimentResult): Map<string, string> {
  return modelColors(pretrainRuns(result).map((r) => ({ model: r.model, role: r.branch ? branchDomain(r.branch) : undefined })));
}

function colorOf(colors: Map<string, string>, model: string): string {
  return colors.get(model) ?? '#7f7f7f';
}

/** The pretraining runs at the main pretraining seed (extra seeds of the headline models are not drawn twice). */
function pretrainRuns(result: ExperimentResult): PlannedRun[] {
  return result.plan.runs.filter((r) => r.config.kind === 'pretrain' && (r.pretrainSeed ?? 0) === result.plan.scale.pretrain.seed);
}

function evalPoints(logs: StepLog[] | undefined, key: Role | 'sft'): { x: number[]; y: number[] } {
  const x: number[] = [];
  const y: number[] = [];
  for (const l of logs ?? []) {
    const v = l.val?.[key];
    if (v !== undefined && Number.isFinite(v)) { x.push(l.step); y.push(v); }
  }
  return { x, y };
}

/**
 * A branch's curve starting at its branch point: before its first eval it was its parent, so the parent's
 * value at the branch step (interpolated between the parent's evals) is put in front — a late branch with
 * one eval is a line from where it left, not a lone dot. Returns whether a point was added.
 */
function fromBranchPoint(result: ExperimentResult, run: PlannedRun, key: Role, pts: { x: number[]; y: number[] }): boolean {
  const c = run.config;
  if (c.kind !== 'pretrain' || !c.parent) return false;
  const parent = result.plan.runs.find((p) => p.id === c.parent!.runId);
  if (!parent || parent.config.kind !== 'pretrain') return false;
  const k = Math.round(c.parent.atFraction * parent.config.totalSteps);
  if (pts.x.length > 0 && pts.x[0] <= k) return false;
  const p = evalPoints(result.metrics[parent.id], key);
  const j = p.x.findIndex((s) => s >= k);
  if (j < 0) return false;
  let y: number;
  if (p.x[j] === k) y = p.y[j];
  else if (j === 0) return false;
  else y = p.y[j - 1] + ((p.y[j] - p.y[j - 1]) * (k - p.x[j - 1])) / (p.x[j] - p.x[j - 1]);
  pts.x.unshift(k);
  pts.y.unshift(y);
  return true;
}

/** Markers for a curve whose first point is its branch point (open) and the rest its own evals (filled). */
function branchMarkers(n: number, fromBranch: boolean, size = 6): Record<string, unknown> {
  return fromBranch ? { size, symbol: Array.from({ length: n }, (_, i) => (i === 0 ? 'circle-open' : 'circle')) } : { size };
}

function baseLayout(title: string, xTitle: string, yTitle: string): Record<string, unknown> {
  return {
    title: { text: title },
    xaxis: { title: { text: xTitle } },
    yaxis: { title: { text: yTitle } },
    legend: { orientation: 'v' },
    margin: { l: 70, r: 30, t: 60, b: 60 },
    width: 860,
    height: 480,
    template: 'plotly_white',
  };
}

/** Pretraining val loss on `role` per run (baseline and branches), each branch drawn from its branch point. */
export function pretrainCurves(result: ExperimentResult, role: Role = 'general'): Figure {
  const runs = pretrainRuns(result);
  const colors = resultColors(result);
  const data: PlotlyTrace[] = [];
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  for (const r of runs) {
    const pts = evalPoints(result.metrics[r.id], role);
    const fromBranch = fromBranchPoint(result, r, role, pts);
    const color = colorOf(colors, r.model);
    data.push({ type: 'scatter', mode: 'lines+markers', name: r.model, x: pts.x, y: pts.y, line: { color, width: r.model === BASELINE ? 3 : 2 }, marker: branchMarkers(pts.x.length, fromBranch) });
    if (r.config.kind === 'pretrain' && r.config.parent) {
      const step = Math.round(r.config.parent.atFraction * r.config.totalSteps);
      shapes.push({ type: 'line', xref: 'x', yref: 'paper', x0: step, x1: step, y0: 0, y1: 1, line: { color, dash: 'dot', width: 1 } });
      annotations.push({ x: step, y: 1, xref: 'x', yref: 'paper', text: `${Math.round(r.config.parent.atFraction * 100)}%`, showarrow: false, font: { size: 10, color }, yanchor: 'bottom' });
    }
  }
  const layout = baseLayout(`Pretraining: ${role} val loss (dotted lines: mixture starts)`, 'step', `${role} val loss`);
  return {
    data, layout: { ...layout, shapes, annotations },
    caption: `Lower is better. Each mixture leaves the baseline (black) at its start (dotted line, open marker); a line ending below black has the lower ${role} val loss.`,
  };
}

/**
 * Each branch's val loss on its own domain (solid) beside the baseline's on that domain (dashed), one colour
 * per role; each branch drawn from its branch point.
 */
export function domainCurves(result: ExperimentResult): Figure {
  const runs = pretrainRuns(result);
  const baseline = runs.find((r) => r.model === BASELINE);
  const data: PlotlyTrace[] = [];
  const branches = runs.filter((r) => r.branch);
  // A branch over a part of a role (math-natural) is measured on the role's val split, like the role's own branch.
  const roles = [...new Set(branches.map((r) => branchDomain(r.branch!)))];
  for (const role of roles) {
    const color = ROLE_COLORS[role];
    if (baseline) {
      const { x, y } = evalPoints(result.metrics[baseline.id], role);
      data.push({ type: 'scatter', mode: 'lines', name: `baseline on ${role}`, legendgroup: role, x, y, line: { color, dash: 'dash', width: 1.5 } });
    }
    for (const [i, r] of branches.filter((b) => branchDomain(b.branch!) === role).entries()) {
      const pts = evalPoints(result.metrics[r.id], role);
      const fromBranch = fromBranchPoint(result, r, role, pts);
      const marker = branchMarkers(pts.x.length, fromBranch, 7);
      if (i > 0 && !fromBranch) marker.symbol = SYMBOLS[i % SYMBOLS.length];
      data.push({ type: 'scatter', mode: 'lines+markers', name: `${r.model} on ${role}`, legendgroup: role, x: pts.x, y: pts.y, line: { color, width: 2.5 }, marker });
    }
  }
  return {
    data, layout: baseLayout('Pretraining: each mixture’s val loss on its own domain (dashed: baseline)', 'step', 'domain val loss'),
    caption: 'Lower is better. Compare each solid line with the dashed line of its colour: the gap at the end is what the mixture gained on its own domain.',
  };
}

/**
 * A metric during SFT on `task` per model, at each model's best LR, averaged over seeds at each eval step.
 * key 'general' is forgetting (general val loss during SFT); key 'sft' is the in-domain val loss.
 */
export function sftCurves(result: ExperimentResult, task: SftTaskName, key: 'general' | 'sft' = 'general'): Figure {
  const rows = sftRunRows(result);
  const best = bestLrs(rows);
  const models = pretrainRuns(result).map((r) => r.model);
  const colors = resultColors(result);
  const data: PlotlyTrace[] = [];
  for (const model of models) {
    const ids = rows.filter((r) => r.model === model && r.task === task && r.lr === best.get(`${model}\u0000${task}`)).map((r) => r.id);
    if (ids.length === 0) continue;
    const byStep = new Map<number, number[]>();
    // Step 0 of forgetting is the pretrained model's own general val loss, when measured on the same tokens.
    const parent = pretrainRuns(result).find((r) => r.model === model);
    const parentRec = parent ? result.records[parent.id] : undefined;
    const sameTokens = parentRec && parentRec.config.kind === 'pretrain' && ids.every((id) => { const c = result.records[id]?.config; return c?.kind === 'sft' && c.evalTokens === parentRec.config.evalTokens; });
    const start = parentRec?.summary?.finalVal.general;
    if (key === 'general' && sameTokens && start !== undefined) byStep.set(0, ids.map(() => start));
    for (const id of ids) for (const l of result.metrics[id] ?? []) {
      const v = l.val?.[key];
      if (v === undefined || !Number.isFinite(v)) continue;
      if (!byStep.has(l.step)) byStep.set(l.step, []);
      byStep.get(l.step)!.push(v);
    }
    const steps = [...byStep.keys()].sort((a, b) => a - b);
    data.push({ type: 'scatter', mode: 'lines+markers', name: `${model} (${ids.length} seed${ids.length === 1 ? '' : 's'})`, x: steps, y: steps.map((s) => mean(byStep.get(s)!)), line: { color: colorOf(colors, model) }, marker: { size: 5 } });
  }
  const what = key === 'general' ? 'general val loss during SFT (forgetting)' : 'SFT val loss';
  const layout = baseLayout(`${task}: ${what}, mean over seeds at the best LR`, 'SFT step', key === 'general' ? 'general val loss' : `${task} val loss`);
  layout.xaxis = { ...(layout.xaxis as object), ...stepTicks(data) };
  return { data, layout, caption: sftCurvesCaption(key) };
}

/** Whole-step ticks for a short run (plotly would label half steps of a 2-step run). */
function stepTicks(data: PlotlyTrace[]): { dtick: number; tick0: number } {
  const last = Math.max(1, ...data.flatMap((t) => (t.x as number[] | undefined) ?? []));
  return { tick0: 0, dtick: Math.max(1, Math.ceil(last / 10)) };
}

function sftCurvesCaption(key: 'general' | 'sft'): string {
  return key === 'general'
    ? 'Lower is better: a line that stays low forgets less of its general ability while it fine-tunes (step 0: the pretrained model).'
    : 'Lower is better: the SFT val loss each model reaches on the task while it fine-tunes.';
}

/**
 * SFT val loss against forgetting: colour = model, symbol = task (no text labels: they pile up), hover says
 * which point is which; error bars are 95% CIs over seeds.
 */
export function lossVsForgetting(result: ExperimentResult): Figure {
  const cells = sftCells(result);
  const models = pretrainRuns(result).map((r) => r.model);
  const colors = resultColors(result);
  const tasks = [...new Set(cells.map((c) => c.task))];
  const symbol = (task: SftTaskName) => SYMBOLS[tasks.indexOf(task) % SYMBOLS.length];
  const data: PlotlyTrace[] = models.map((model) => {
    const cs = cells.filter((c) => c.model === model);
    return {
      type: 'scatter', mode: 'markers', name: model,
      x: cs.map((c) => c.sftLoss.mean), y: cs.map((c) => c.forgetting.mean),
      text: cs.map((c) => `${model} → ${c.task}`), hovertemplate: '%{text}<br>SFT val loss %{x:.3f}<br>general val loss %{y:.3f}<extra></extra>',
      error_x: { type: 'data', array: cs.map((c) => finiteOr0(c.sftLoss.halfWidth)), visible: true, thickness: 1 },
      error_y: { type: 'data', array: cs.map((c) => finiteOr0(c.forgetting.halfWidth)), visible: true, thickness: 1 },
      marker: { size: 11, color: colorOf(colors, model), symbol: cs.map((c) => symbol(c.task)), line: { width: 1, color: '#ffffff' } },
    };
  }).filter((t) => (t.x as number[]).length > 0);
  // Legend entries for the symbols (no points of their own).
  for (const task of tasks) data.push({ type: 'scatter', mode: 'markers', name: `task: ${task}`, x: [null], y: [null], marker: { size: 11, color: '#7f7f7f', symbol: symbol(task) }, hoverinfo: 'skip' });
  return {
    data, layout: baseLayout('SFT val loss vs forgetting (lower-left is better)', 'SFT val loss', 'general val loss after SFT'),
    caption: 'Lower-left is better: left = lower SFT val loss on the task, down = less forgetting. Colour = model, symbol = task; bars = 95% CI over seeds (none with one seed).',
  };
}

/** An ablation: relative improvement (left axis) and forgetting (right axis) against start fraction or weight. */
export function ablationLines(result: ExperimentResult, axis: 'startFraction' | 'weight', task: SftTaskName = 'pycode'): Figure {
  const cells = sftCells(result).filter((c) => c.task === task);
  const branch = cells.filter((c) => c.model !== BASELINE).sort((a, b) => a[axis] - b[axis]);
  const base = cells.find((c) => c.model === BASELINE);
  const x = branch.map((c) => Math.round(c[axis] * 100));
  const data: PlotlyTrace[] = [
    { type: 'scatter', mode: 'lines+markers', name: 'rel. improvement (%)', x, y: branch.map((c) => 100 * c.relImprovement.mean),
      error_y: { type: 'data', array: branch.map((c) => 100 * finiteOr0(c.relImprovement.halfWidth)), visible: true }, line: { color: PALETTE[0] } },
    { type: 'scatter', mode: 'lines+markers', name: 'forgetting (general val loss)', x, y: branch.map((c) => c.forgetting.mean), yaxis: 'y2',
      error_y: { type: 'data', array: branch.map((c) => finiteOr0(c.forgetting.halfWidth)), visible: true }, line: { color: PALETTE[3] } },
  ];
  if (base && x.length > 0) {
    data.push({ type: 'scatter', mode: 'lines', name: 'baseline forgetting', x: [x[0], x[x.length - 1]], y: [base.forgetting.mean, base.forgetting.mean], yaxis: 'y2', line: { color: PALETTE[3], dash: 'dash', width: 1 } });
  }
  const label = axis === 'startFraction' ? 'midtraining start (% of training)' : 'mixture weight of code data (%)';
  const layout = baseLayout(`${axis === 'startFraction' ? 'Timing' : 'Weight'} ablation on ${task}: improvement over baseline and forgetting`, label, 'rel. improvement of SFT val loss (%)');
  return {
    data, layout: { ...layout, xaxis: { title: { text: label }, tickvals: x, ticktext: x.map((v) => `${v}%`) }, margin: { l: 70, r: 90, t: 60, b: 60 }, yaxis2: { title: { text: 'general val loss after SFT' }, overlaying: 'y', side: 'right' }, legend: { orientation: 'h', y: -0.2 } },
    caption: `Blue (left axis): higher is better, above 0 beats the baseline. Red (right axis): lower is better, below the dashed line forgets less than the baseline. Bars: 95% CI over seeds.`,
  };
}

/** Timing × weight heatmap of relative improvement (%) on `task`. */
export function gridHeatmap(result: ExperimentResult, task: SftTaskName = 'pycode'): Figure {
  const cells = sftCells(result).filter((c) => c.task === task && c.model !== BASELINE);
  const starts = [...new Set(cells.map((c) => c.startFraction))].sort((a, b) => a - b);
  const weights = [...new Set(cells.map((c) => c.weight))].sort((a, b) => a - b);
  const z = starts.map((f) => weights.map((w) => {
    const c = cells.find((x) => x.startFraction === f && x.weight === w);
    return c ? 100 * c.relImprovement.mean : null;
  }));
  const text = z.map((row) => row.map((v) => (v === null ? '' : `${v.toFixed(1)}%`)));
  return {
    // Blue = better than the baseline. Category axes: plotly would otherwise read "20%" as the number 20.
    data: [{ type: 'heatmap', x: weights.map((w) => `${Math.round(w * 100)}%`), y: starts.map((f) => `${Math.round(f * 100)}%`), z, text, texttemplate: '%{text}', colorscale: 'RdBu', reversescale: true, zmid: 0, colorbar: { title: { text: 'rel. impr. %' } } }],
    layout: {
      ...baseLayout(`Timing × weight on ${task}: relative improvement over baseline`, 'mixture weight', 'start (% of training)'),
      xaxis: { type: 'category', title: { text: 'mixture weight' } },
      yaxis: { type: 'category', title: { text: 'start (% of training)' } },
    },
    caption: 'Blue cells beat the baseline (higher is better), red cells are worse; the number is the mean relative improvement of SFT val loss.',
  };
}

/** One point of the proximity analysis: a mixture × task with its proximity advantage and our improvement. */
export interface ProximityPoint {
  model: string;
  /** The mixture's role (colours the point as in the experiment's other figures). */
  role?: Role;
  task: SftTaskName;
  advantage: number;
  improvement: number;
}

/** Proximity advantage against relative improvement, with a least-squares line and r [95% CI] in the title. */
export function proximityScatter(points: ProximityPoint[], corr: Correlation): Figure {
  // Colour = mixture (as in every other figure), symbol = task: text labels on 20 points overlap unreadably.
  const tasks = [...new Set(points.map((p) => p.task))];
  const models = [...new Set(points.map((p) => p.model))];
  const colors = modelColors([{ model: BASELINE }, ...models.map((model) => ({ model, role: points.find((p) => p.model === model)?.role }))]);
  const symbol = (task: ProximityPoint['task']) => SYMBOLS[tasks.indexOf(task) % SYMBOLS.length];
  const data: PlotlyTrace[] = models.map((model) => {
    const ps = points.filter((p) => p.model === model);
    return { type: 'scatter', mode: 'markers', name: model, x: ps.map((p) => p.advantage), y: ps.map((p) => 100 * p.improvement),
      text: ps.map((p) => `${model} → ${p.task}`), hoverinfo: 'text+x+y', marker: { size: 11, color: colorOf(colors, model), symbol: ps.map((p) => symbol(p.task)), line: { width: 1, color: '#ffffff' } } };
  });
  // Legend entries for the symbols (no points of their own).
  for (const task of tasks) data.push({ type: 'scatter', mode: 'markers', name: task, x: [null], y: [null], marker: { size: 11, color: '#7f7f7f', symbol: symbol(task) } });
  const xs = points.map((p) => p.advantage);
  const ys = points.map((p) => 100 * p.improvement);
  if (points.length >= 2) {
    const mx = mean(xs), my = mean(ys);
    const sxx = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    const slope = sxx > 0 ? xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / sxx : 0;
    const x0 = Math.min(...xs), x1 = Math.max(...xs);
    data.push({ type: 'scatter', mode: 'lines', name: 'least squares', x: [x0, x1], y: [my + slope * (x0 - mx), my + slope * (x1 - mx)], line: { color: '#7f7f7f', dash: 'dash' } });
  }
  const ci = Number.isFinite(corr.lo) ? ` [${corr.lo.toFixed(2)}, ${corr.hi.toFixed(2)}]` : '';
  return {
    data, layout: baseLayout(`Proximity advantage vs improvement: r = ${corr.r.toFixed(3)}${ci}, n = ${corr.n}`, 'proximity advantage: dist(general, SFT) − dist(mixture, SFT)', 'rel. improvement of SFT val loss (%)'),
    caption: 'A rising line means mixtures closer to a task’s data help more on it (up is better); if r’s 95% CI spans 0 the link is inconclusive. Colour = mixture, symbol = task.',
  };
}

/** Bar chart of one metric per model for each task (used by the findings write-up). */
export function metricBars(cells: SftCell[], metric: 'sftLoss' | 'forgetting' | 'relImprovement' | 'accuracy', title: string): Figure {
  const models = [...new Set(cells.map((c) => c.model))];
  const colors = modelColors(models.map((model) => ({ model, role: cells.find((c) => c.model === model)?.role as Role | undefined })));
  const tasks = [...new Set(cells.map((c) => c.task))];
  const k = metric === 'relImprovement' || metric === 'accuracy' ? 100 : 1;
  // Losses differ in their second decimal around 6: bars from zero would hide that, so losses are dots on an
  // axis fitted to the data; percentages keep bars, whose zero (no improvement) means something.
  const dots = metric === 'sftLoss' || metric === 'forgetting';
  const data = models.map((model) => {
    const cs = tasks.map((t) => cells.find((c) => c.model === model && c.task === t));
    return { type: dots ? 'scatter' : 'bar', ...(dots ? { mode: 'markers' } : {}), name: model, x: tasks, y: cs.map((c) => (c ? k * c[metric].mean : null)),
      error_y: { type: 'data', array: cs.map((c) => (c ? k * finiteOr0(c[metric].halfWidth) : 0)), visible: true },
      marker: { color: colorOf(colors, model), ...(dots ? { size: 10 } : {}) } };
  });
  const label = { sftLoss: 'SFT val loss', forgetting: 'general val loss after SFT', relImprovement: 'relative improvement (%)', accuracy: 'accuracy (%)' }[metric];
  const better = { sftLoss: 'Lower is better', forgetting: 'Lower is better (less forgetting)', relImprovement: 'Higher is better; above 0 beats the baseline', accuracy: 'Higher is better' }[metric];
  const layout = baseLayout(title, 'SFT task', label);
  if (dots) {
    const ends = cells.flatMap((c) => [c[metric].mean - finiteOr0(c[metric].halfWidth), c[metric].mean + finiteOr0(c[metric].halfWidth)]).filter(Number.isFinite);
    const lo = Math.min(...ends), hi = Math.max(...ends), pad = Math.max(0.1 * (hi - lo), 1e-3);
    if (ends.length) layout.yaxis = { ...(layout.yaxis as object), range: [lo - pad, hi + pad] };
  }
  return {
    data, layout: { ...layout, barmode: 'group', scattermode: 'group' },
    caption: `${better}. One ${dots ? 'dot' : 'bar'} per model and task; whiskers = 95% CI (the table says over what; none with one seed).`,
  };
}

function finiteOr0(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

/** One run's pretraining val loss on every role (how general-only pretraining does on each domain). */
export function roleCurves(result: ExperimentResult, model: string = BASELINE): Figure {
  const run = pretrainRuns(result).find((r) => r.model === model);
  const logs = run ? result.metrics[run.id] : [];
  const roles = [...new Set((logs ?? []).flatMap((l) => Object.keys(l.val ?? {})))] as Role[];
  const data = roles.map((role, i) => {
    const { x, y } = evalPoints(logs, role);
    return { type: 'scatter', mode: 'lines+markers', name: role, x, y, line: { color: ROLE_COLORS[role] ?? PALETTE[i % PALETTE.length], width: role === 'general' ? 3 : 2 }, marker: { size: 5 } };
  });
  return {
    data, layout: baseLayout(`Pretraining (${model}): val loss on every role`, 'step', 'val loss'),
    caption: 'Lower is better. Black is the data this model trains on; the other colours show how far that carries to each domain (a flat line: none).',
  };
}

/**
 * SFT curves for every task in one figure (a 2-column grid of subplots, one per task): per model at its
 * best LR, mean over seeds. key 'general' = forgetting during SFT, 'sft' = in-domain val loss.
 */
export function sftCurvesGrid(result: ExperimentResult, key: 'general' | 'sft' = 'general'): Figure {
  const tasks = result.plan.experiment.sftTasks;
  const cols = tasks.length > 1 ? 2 : 1;
  const rows = Math.ceil(tasks.length / cols);
  const data: PlotlyTrace[] = [];
  const layout: Record<string, unknown> = {
    ...baseLayout(key === 'general' ? 'General val loss during SFT (forgetting), best LR, mean over seeds' : 'SFT val loss during SFT, best LR, mean over seeds', '', ''),
    grid: { rows, columns: cols, pattern: 'independent' },
    height: 320 * rows + 80,
    annotations: [] as Record<string, unknown>[],
  };
  tasks.forEach((task, i) => {
    const sub = sftCurves(result, task, key);
    const ax = i === 0 ? '' : String(i + 1);
    for (const t of sub.data) data.push({ ...t, xaxis: `x${ax}`, yaxis: `y${ax}`, legendgroup: String(t.name).split(' (')[0], showlegend: i === 0 });
    layout[`xaxis${ax}`] = { title: { text: `SFT step (${task})` }, ...stepTicks(sub.data) };
    layout[`yaxis${ax}`] = { title: { text: key === 'general' ? 'general val loss' : `${task} val loss` } };
  });
  return { data, layout, caption: sftCurvesCaption(key) };
}

/** 00-setup's matmul check: median and fastest GFLOP/s per size, on a log axis ticked at the sizes measured. */
export function matmulSpeedFigure(rows: MatmulSpeed[], backend: string): Figure {
  const n = rows.map((r) => r.n);
  return {
    data: [
      { type: 'scatter', mode: 'lines+markers', name: 'median', x: n, y: rows.map((r) => r.gflops), line: { color: PALETTE[0], width: 2 }, marker: { size: 7 } },
      { type: 'scatter', mode: 'lines+markers', name: 'fastest run', x: n, y: rows.map((r) => r.bestGflops), line: { color: PALETTE[0], width: 1, dash: 'dot' }, marker: { size: 5, symbol: 'circle-open' } },
    ],
    layout: {
      ...baseLayout(`Matmul throughput on ${backend}`, 'matrix size n (n×n · n×n)', 'GFLOP/s'),
      xaxis: { title: { text: 'matrix size n (n×n · n×n)' }, type: 'log', tickvals: n, ticktext: n.map(String) },
      yaxis: { title: { text: 'GFLOP/s' }, rangemode: 'tozero' },
      width: 640, height: 380,
    },
    caption: describeMatmulSpeed(rows),
  };
}
