// What each experiment shows, as Markdown sentences built from the measured cells — so the prose of a
// notebook carries computed numbers, never typed-in ones. Each function states its comparison plainly,
// says whether the 95% CI excludes zero, and puts the paper's number beside ours where one exists.
import type { SftTaskName } from '../config';
import type { ExperimentResult } from '../experiments/result';
import { BASELINE } from '../experiments/plan';
import { EXPERIMENTS } from '../experiments/definitions';
import { sftCells, sftConvergence, pm, seedsText, accuracyText, CHANCE_ACCURACY, type SftCell, type SftConvergence } from './tables';
import type { Correlation, ClusterCorrelation, SeedCi } from './stats';
import { gridRow, pairedDifference } from './agreement';
import { PAPER_HEADLINE, PAPER_PROXIMITY_R, PAPER_FINDINGS, paperBaseline, paperRelImprovement } from './paper';

const pct = (x: number, d = 1) => `${(100 * x).toFixed(d)}%`;

function ciWords(c: SeedCi): string {
  if (!Number.isFinite(c.halfWidth)) return `(${seedsText(c)} seed${c.n === 1 ? '' : 's'}: no interval)`;
  const where = c.lo > 0 ? 'better than the baseline' : c.hi < 0 ? 'worse than the baseline' : 'not distinguishable from the baseline (inconclusive)';
  return `(95% CI [${pct(c.lo)}, ${pct(c.hi)}] over ${seedsText(c)} seeds: ${where})`;
}

/** The loss a sentence reports: held-out test loss where measured, else val. */
function lossWords(c: SftCell): string {
  return c.testLoss.n ? `SFT test loss ${pm(c.testLoss, 3)}` : `SFT val loss ${pm(c.sftLoss, 3)}`;
}

/** A caveat line for presets whose numbers exercise the code but are not evidence. */
export function presetCaveat(result: ExperimentResult): string {
  const s = result.plan.scale;
  if (s.preset !== 'tiny') return '';
  return `> **Preset \`tiny\`**: ${s.pretrain.totalSteps} pretraining steps of a ${s.model.dModel}-wide, ${s.model.nLayers}-layer model. These numbers check that the pipeline works end to end; they are not evidence about midtraining. Run the \`small\` preset for that.\n`;
}

/** The baseline: what SFT reaches from general-only pretraining, and its forgetting. */
export function describeBaseline(result: ExperimentResult): string {
  const cells = sftCells(result).filter((c) => c.model === BASELINE);
  const base = result.plan.runs[0];
  const rec = result.records[base.id];
  const general = rec?.summary?.finalVal.general;
  const lines = [
    `The baseline pretrained for ${result.plan.scale.pretrain.totalSteps} steps on general data reaches a general val loss of **${general?.toFixed(3) ?? '—'}**.`,
    '',
    ...cells.map((c) => {
      const conv = sftConvergence(result, BASELINE, c.task);
      return `- **${c.task}** (best LR ${c.bestLr}${c.lrAtEdge ? ', at the edge of the sweep' : ''}, chosen on val): ${lossWords(c)}; general val loss after SFT ${pm(c.forgetting, 3)} (change over SFT ${pm(c.forgettingChange, 3)}); accuracy ${accuracyText(c.accuracy)}.` +
        (conv ? ` ${convergenceWords(conv)}` : '');
    }),
  ];
  return lines.join('\n');
}

/** Has SFT flattened? A fall over the last interval under 5% of the whole fall reads as flat. */
export function convergenceWords(c: SftConvergence): string {
  const path = `SFT val loss after steps ${c.steps.join(' / ')}: ${c.loss.map((x) => x.toFixed(2)).join(' / ')}`;
  const span = c.steps[c.steps.length - 1] - c.steps[c.steps.length - 2];
  if (!Number.isFinite(c.lastDropShare)) return `${path} (it did not fall).`;
  const share = `${(100 * c.lastDropShare).toFixed(0)}% of its fall since step ${c.steps[0]}`;
  return c.lastDropShare < 0.05
    ? `${path}: close to flat (the last ${span} steps lowered it by ${c.lastDrop.toFixed(2)}, ${share}).`
    : `${path}: still falling (the last ${span} steps lowered it by ${c.lastDrop.toFixed(2)}, ${share}): measured before convergence.`;
}

/** Per task: the model with the lowest SFT val loss, its improvement over the baseline, and the paper's cell. */
export function describeMixtures(result: ExperimentResult): string {
  const cells = sftCells(result);
  const lines: string[] = [];
  for (const task of result.plan.experiment.sftTasks) {
    const cs = cells.filter((c) => c.task === task && c.model !== BASELINE);
    if (cs.length === 0) continue;
    const best = cs.reduce((a, b) => (b.relImprovement.mean > a.relImprovement.mean ? b : a));
    const leastForget = cs.reduce((a, b) => (b.forgetting.mean < a.forgetting.mean ? b : a));
    const paper = paperBest(task);
    lines.push(
      `- **${task}**: best mixture **${best.model}**${best.paperName ? ` (${best.paperName})` : ''}, ${lossWords(best)}, ` +
        `relative improvement ${pct(best.relImprovement.mean)} ${ciWords(best.relImprovement)}. ` +
        `Least forgetting: ${leastForget.model} (general val loss ${pm(leastForget.forgetting, 3)}).` +
        (paper ? ` Paper (410M): best ${paper.mixture}, ${pct(paper.rel)} better than C4-only.` : ''),
    );
  }
  return lines.join('\n');
}

function paperBest(task: SftTaskName): { mixture: string; rel: number } | undefined {
  const mix = PAPER_HEADLINE.find((p) => p.task === task && p.model !== BASELINE);
  return mix && paperBaseline(task) ? { mixture: mix.mixture, rel: paperRelImprovement(mix) } : undefined;
}

/** Continued pretraining against the mixtures of the same domain: does 100% domain data forget more? */
export function describeCpt(result: ExperimentResult): string {
  const cells = sftCells(result);
  const lines: string[] = [];
  for (const task of result.plan.experiment.sftTasks) {
    const cs = cells.filter((c) => c.task === task);
    for (const cpt of cs.filter((c) => c.weight >= 1)) {
      const mix = cs.find((c) => c.role === cpt.role && c.weight < 1);
      if (!mix) continue;
      const more = cpt.forgetting.mean > mix.forgetting.mean;
      lines.push(`- **${task}**, ${cpt.role}: CPT general val loss after SFT ${pm(cpt.forgetting, 3)} vs mixture ${pm(mix.forgetting, 3)} (mean CPT forgets ${more ? 'more' : 'less'}; each at its own best LR — the paired verdicts at one LR are in the findings notebook); change over SFT ${pm(cpt.forgettingChange, 3)} vs ${pm(mix.forgettingChange, 3)}; ${lossWords(cpt)} vs ${lossWords(mix)}.`);
    }
  }
  lines.push('', `Paper: ${PAPER_FINDINGS.cpt}`);
  return lines.join('\n');
}

/** An ablation along start or weight: the order of improvements and forgetting along the axis. */
export function describeAblation(result: ExperimentResult, axis: 'startFraction' | 'weight', task: SftTaskName = 'pycode'): string {
  const cs = sftCells(result).filter((c) => c.task === task && c.model !== BASELINE).sort((a, b) => a[axis] - b[axis]);
  if (cs.length === 0) return 'No finished runs.';
  const name = axis === 'startFraction' ? 'start' : 'weight';
  const best = cs.reduce((a, b) => (b.relImprovement.mean > a.relImprovement.mean ? b : a));
  const rows = cs.map((c) => `${name} ${pct(c[axis], 0)}: ${pct(c.relImprovement.mean)} ${ciWords(c.relImprovement)}, forgetting ${pm(c.forgetting, 3)}`);
  const trend = monotone(cs.map((c) => c.relImprovement.mean));
  return [
    `On **${task}**, the largest improvement over the baseline comes at ${name} **${pct(best[axis], 0)}** (${pct(best.relImprovement.mean)}). Along the ${name} axis the improvement is ${trend}.`,
    '',
    ...rows.map((r) => `- ${r}`),
    '',
    `Paper: ${axis === 'startFraction' ? PAPER_FINDINGS.timing : PAPER_FINDINGS.weight}`,
  ].join('\n');
}

/** The grid: best and worst cells, and whether late starts tolerate less weight. */
export function describeGrid(result: ExperimentResult, task: SftTaskName = 'pycode'): string {
  const cs = sftCells(result).filter((c) => c.task === task && c.model !== BASELINE);
  if (cs.length === 0) return 'No finished runs.';
  const best = cs.reduce((a, b) => (b.relImprovement.mean > a.relImprovement.mean ? b : a));
  const worst = cs.reduce((a, b) => (b.relImprovement.mean < a.relImprovement.mean ? b : a));
  const row = gridRow(result, task);
  return [
    `Best cell: start ${pct(best.startFraction, 0)}, weight ${pct(best.weight, 0)} (${pct(best.relImprovement.mean)}); worst: start ${pct(worst.startFraction, 0)}, weight ${pct(worst.weight, 0)} (${pct(worst.relImprovement.mean)}).`,
    row.verdict === 'not run' ? '' : `${row.comparison}: ${row.ours} — ${row.verdict === 'agrees' ? 'late starts tolerate less weight, as the paper’s v2 reports' : row.verdict === 'disagrees' ? 'more weight helps even at the late start' : 'inconclusive: the interval spans zero'} (${row.why}).`,
    '',
    `Paper: ${PAPER_FINDINGS.timing}`,
  ].join('\n');
}

/**
 * The math mixture with and without its synthetic word problems, on gsm: the paired difference of SFT loss
 * (with − without, each arm at its own best LR, paired by seed), each arm's improvement over the baseline and
 * its accuracy — so the reader sees how much of the math mixture's gsm effect the GSM-style problems carry.
 */
export function describeMathSynthetic(result: ExperimentResult, task: SftTaskName = 'gsm'): string {
  const cells = sftCells(result).filter((c) => c.task === task);
  const withSyn = cells.find((c) => c.role === 'math');
  const without = cells.find((c) => c.role === 'math-natural');
  if (!withSyn || !without) return 'No finished runs of both arms.';
  const d = pairedDifference(result, withSyn.model, without.model, task, 'loss');
  const f3 = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
  const interval = Number.isFinite(d.halfWidth) ? `${f3(d.mean)} [${f3(d.lo)}, ${f3(d.hi)}] over ${seedsText(d)} seeds` : `${f3(d.mean)} (${seedsText(d)} seed${d.n === 1 ? '' : 's'}: no interval)`;
  const reading = !Number.isFinite(d.halfWidth)
    ? 'no interval, so no verdict'
    : d.lo <= 0 && d.hi >= 0
    ? 'the interval spans zero: inconclusive — at this scale the synthetic problems make no difference we can tell from seed noise'
    : d.mean < 0
      ? 'the synthetic problems lower the gsm loss: part of the math mixture\'s gsm effect comes from their GSM-style format'
      : 'the mixture without the synthetic problems reaches the lower gsm loss: they do not carry its gsm effect';
  return [
    `On **${task}**, the math mixture with its synthetic problems (\`${withSyn.model}\`) reaches ${lossWords(withSyn)}; without them (\`${without.model}\`) ${lossWords(without)}. ` +
      `Paired difference (with − without): ${interval} — ${reading}.`,
    '',
    `- Improvement over the baseline: with ${pct(withSyn.relImprovement.mean)} ${ciWords(withSyn.relImprovement)}; without ${pct(without.relImprovement.mean)} ${ciWords(without.relImprovement)}.`,
    `- Accuracy: with ${accuracyText(withSyn.accuracy)}; without ${accuracyText(without.accuracy)}.`,
    `- Forgetting (general val loss after SFT): with ${pm(withSyn.forgetting, 3)}, without ${pm(without.forgetting, 3)}.`,
  ].join('\n');
}

/** The proximity correlation beside the paper's: Pearson and Spearman with intervals that resample mixtures. */
export function describeProximity(corr: Correlation, resampled?: ClusterCorrelation): string {
  const ci = Number.isFinite(corr.lo) ? ` (Fisher z, which treats the cells as independent: [${corr.lo.toFixed(2)}, ${corr.hi.toFixed(2)}])` : ' (too few points for an interval)';
  const iv = (x: { lo: number; hi: number }) => Number.isFinite(x.lo) ? `[${x.lo.toFixed(2)}, ${x.hi.toFixed(2)}]` : '(no interval)';
  const boot = resampled
    ? ` The ${resampled.n} cells come from ${resampled.clusters} mixtures and share baselines, so they are not independent: a bootstrap that resamples whole mixtures (${resampled.resamples} resamples) gives Pearson 95% ${iv(resampled.pearson)} and Spearman ρ = ${resampled.spearman.r.toFixed(3)} ${iv(resampled.spearman)}${Number.isFinite(resampled.pearson.lo) && resampled.pearson.lo <= 0 && resampled.pearson.hi >= 0 ? ' — the interval spans zero: inconclusive' : ''}.`
    : '';
  return `Across ${corr.n} mixture × task cells, proximity advantage and relative improvement correlate with **r = ${corr.r.toFixed(3)}**${ci}.${boot} Paper (70M): r = ${PAPER_PROXIMITY_R}.`;
}

function monotone(ys: number[]): string {
  if (ys.length < 2) return 'a single point';
  const up = ys.every((y, i) => i === 0 || y >= ys[i - 1]);
  const down = ys.every((y, i) => i === 0 || y <= ys[i - 1]);
  return up ? 'increasing' : down ? 'decreasing' : 'not monotone';
}

/** The setup paragraph: preset, model, schedule, the SFT sweep, run counts and the data manifest hash. */
export function describeSetup(result: ExperimentResult): string {
  const s = result.plan.scale;
  const m = s.model;
  const pre = result.plan.runs.filter((r) => r.config.kind === 'pretrain');
  const sft = result.plan.runs.filter((r) => r.config.kind === 'sft');
  const tokens = s.pretrain.totalSteps * s.pretrain.batchSize * m.contextLength;
  const branches = pre.filter((r) => r.branch).map((r) => `\`${r.model}\`${r.branch!.paperName ? ` (${r.branch!.paperName})` : ''}`);
  const lines = [
    `**Preset \`${s.preset}\`.** Model: d ${m.dModel}, ${m.nLayers} layers, ${m.nHeads} heads, context ${m.contextLength}, vocabulary ${m.vocabSize}. ` +
      `Pretraining: ${s.pretrain.totalSteps} steps × ${s.pretrain.batchSize} sequences (${tokens.toLocaleString('en-US')} tokens for a full run), peak LR ${s.pretrain.optim.lr}, 10% warmup, cosine.`,
    `**Runs.** ${pre.length} pretraining run${pre.length === 1 ? '' : 's'} (the baseline${branches.length ? ` and ${branches.join(', ')}` : ''}); ` +
      `${sft.length} SFT runs: tasks ${result.plan.experiment.sftTasks.join(', ')} × LR ${s.sft.lrs.join(', ')} × seeds ${s.sft.seeds.join(', ')} (${s.sft.epochs} epoch${s.sft.epochs === 1 ? '' : 's'}${s.sft.maxExamples ? `, ≤ ${s.sft.maxExamples} examples` : ''}).`,
    result.plan.experiment.pretrainSeedAxis && s.pretrain.extraSeeds.length
      ? `**Pretraining seeds.** Every model is pretrained at seed ${s.pretrain.seed}; the baseline and the code and math branches are also pretrained at seed${s.pretrain.extraSeeds.length === 1 ? '' : 's'} ${s.pretrain.extraSeeds.join(', ')} and fine-tuned on their in-domain task, so those cells' intervals are over ${1 + s.pretrain.extraSeeds.length} pretraining seeds (each the mean of its SFT seeds); every other interval covers SFT seeds of one pretrained model only.`
      : `**Seeds.** One pretrained model per branch: intervals cover SFT seeds (data order and sampling), not pretraining.`,
    `**Data manifest** \`${result.plan.dataHash}\`.`,
    ...result.plan.experiment.notes.map((n) => `*Note:* ${n}`),
    ...(s.reductions.length ? ['**This preset departs from the paper in:**', ...s.reductions.map((r) => `- ${r}`)] : []),
  ];
  return [presetCaveat(result), ...lines].filter(Boolean).join('\n\n');
}

const NUMBER_WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

/** "two tasks (pycode and gsm)": a count in words with the names, for prose that must match the preset. */
export function countedList(items: readonly string[], noun: string): string {
  const n = NUMBER_WORDS[items.length] ?? String(items.length);
  const names = items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
  return `${items.length === 1 ? 'one' : n} ${noun}${items.length === 1 ? '' : 's'}${items.length ? ` (${names})` : ''}`;
}

/**
 * Which runs trained in this call and which came back finished from the run store, and the SFT tasks every
 * model is fine-tuned on — so the notebook's prose says what happened on this preset, not what usually does.
 */
export function describeRunSources(result: ExperimentResult): string {
  const runs = result.plan.runs;
  const trained = new Set(result.trainedNow ?? []);
  const pre = runs.filter((r) => r.config.kind === 'pretrain');
  const named = (rs: typeof runs) => rs.map((r) => `\`${r.model}\``).join(', ');
  const preTrained = pre.filter((r) => trained.has(r.id));
  const preStored = pre.filter((r) => !trained.has(r.id));
  const sft = runs.filter((r) => r.config.kind === 'sft');
  const sftTrained = sft.filter((r) => trained.has(r.id)).length;
  const full = EXPERIMENTS[result.plan.experiment.name]?.sftTasks ?? result.plan.experiment.sftTasks;
  const dropped = full.filter((t) => !result.plan.experiment.sftTasks.includes(t));
  const parts = [
    result.trainedNow === undefined
      ? `${runs.length} runs.`
      : trained.size === 0
        ? `All ${runs.length} runs came back finished from the run store; nothing trained now.`
        : `${trained.size} of ${runs.length} runs trained now` +
          (preTrained.length ? ` (pretraining: ${named(preTrained)}${sftTrained ? `; ${sftTrained} SFT run${sftTrained === 1 ? '' : 's'}` : ''})` : sftTrained ? ` (${sftTrained} SFT runs)` : '') +
          `; ${runs.length - trained.size === 0 ? 'none' : `the other ${runs.length - trained.size}`} came back finished from the run store` +
          (preStored.length ? ` (pretraining: ${named(preStored)})` : '') + '.',
    `Every model is fine-tuned on the ${countedList(result.plan.experiment.sftTasks, 'task')} the same way${dropped.length ? ` (preset \`${result.plan.scale.preset}\` leaves out ${dropped.join(', ')})` : ''}.`,
  ];
  return `**Runs.** ${parts.join(' ')}`;
}

/** Which accuracy cells carry no signal — at floor (none correct) or at chance — said plainly rather than read as findings. */
export function describeAccuracy(cells: SftCell[]): string {
  const seen = new Set<string>();
  const unique = cells.filter((c) => !seen.has(`${c.model}\u0000${c.task}`) && seen.add(`${c.model}\u0000${c.task}`));
  const lines: string[] = [];
  for (const task of [...new Set(unique.map((c) => c.task))]) {
    const cs = unique.filter((c) => c.task === task && c.accuracy.status !== 'not scored');
    if (cs.length === 0) continue;
    const floor = cs.filter((c) => c.accuracy.status === 'at floor');
    const chance = cs.filter((c) => c.accuracy.status === 'at chance');
    const scored = Math.min(...cs.map((c) => c.accuracy.scored));
    const parts = [
      floor.length ? `${floor.length} at floor (none correct${floor.length < cs.length ? `: ${floor.map((c) => c.model).join(', ')}` : ''})` : '',
      chance.length ? `${chance.length} at chance (${pct(CHANCE_ACCURACY[task] ?? 0, 0)}${chance.length < cs.length ? `: ${chance.map((c) => c.model).join(', ')}` : ''})` : '',
    ].filter(Boolean);
    lines.push(`- **${task}** (≥ ${scored} examples per cell): ${cs.length} cells, ${parts.length ? parts.join(', ') : 'none at floor or chance'}.`);
  }
  return lines.length ? ['Accuracy cells that carry no signal either way (Wilson 95% interval):', '', ...lines].join('\n') : 'No accuracy was scored.';
}
