// What the data checks of a built data set found, read from its manifest: documents removed because they
// state a sciq held-out item's definition with its answer (the knowledge and instruction roles come from the
// same dictionaries and WordNet that sciq's questions quote), SFT examples left out because prompt and
// response do not fit the context, and how much of the math role is synthetic GSM-style problems (the
// contrast of the math-synthetic ablation). Numbers only come from the manifest; nothing is typed in.
import * as aq from 'arquero';
import { ROLES, SFT_TASKS } from '../config';
import type { DataManifest } from '../data/build';
import { withCaption, type Table } from './tables';

/** One row per role checked against sciq's held-out items: what the leak filter found and removed. */
export function leakCheckTable(m: DataManifest): Table {
  const rows = ROLES.flatMap((role) => {
    const c = m.roles[role]?.cleaning;
    if (c?.sciqLeakHeldOutItems === undefined) return [];
    return [{
      role,
      'sciq held-out items': c.sciqLeakHeldOutItems,
      'docs quoting a held-out definition': c.sciqLeakDocsWithHeldOutGloss,
      'docs removed (definition with its answer)': c.sciqLeakDocsRemoved,
      'items leaked before the filter': c.sciqLeakItemsLeakedBefore,
      'items whose definition remains (never with its answer)': c.sciqLeakItemsGlossOnlyAfter,
    }];
  });
  return withCaption(aq.from(rows), 'Whole corpus of each role, before the preset’s selection. sciq asks for the term a WordNet definition defines; a document leaks an item of sciq’s val or test split when it states that definition and names the term or a synonym. Those documents are removed before training; a definition without its term stays (it does not give the answer away).');
}

/** One row per SFT task: examples kept per split and those left out at build time because they did not fit the context. */
export function sftFitTable(m: DataManifest): Table {
  const rows = SFT_TASKS.map((task) => {
    const e = m.sft[task];
    return {
      task,
      'train / val / test kept': `${e.sizes.train} / ${e.sizes.val} / ${e.sizes.test}`,
      'left out, too long (train / val / test)': e.tooLong ? `${e.tooLong.train} / ${e.tooLong.val} / ${e.tooLong.test}` : 'not recorded',
    };
  });
  return withCaption(aq.from(rows), `Examples whose prompt, response and end token do not fit the SFT context (${m.sizes.sftContext} tokens) are left out when the data are built, before each split is capped at its size, so no prompt or response is ever cut.`);
}

/** The parts of roles the ablations sample on their own, with their share of the role's train tokens. */
export function rolePartsTable(m: DataManifest): Table {
  const rows = Object.entries(m.parts ?? {}).map(([part, p]) => ({
    part,
    'of role': p.role,
    'docs train / val': `${p.documents.train} / ${p.documents.val}`,
    'tokens train': p.tokens.train,
    'share of the role’s train tokens': `${(100 * p.tokens.train / m.roles[p.role].train.numTokens).toFixed(1)}%`,
  }));
  return withCaption(aq.from(rows), 'Parts of a role keep its split and tokenizer; an ablation arm that samples a part in place of its role differs from the role’s arm only in the documents left out.');
}

/** The checks in a paragraph, with the counts that matter for reading the study. */
export function describeDataChecks(m: DataManifest): string {
  const checked = ROLES.filter((r) => m.roles[r]?.cleaning?.sciqLeakHeldOutItems !== undefined);
  const lines: string[] = [];
  for (const role of checked) {
    const c = m.roles[role].cleaning;
    lines.push(`- **${role}**: ${c.sciqLeakDocsRemoved} document${c.sciqLeakDocsRemoved === 1 ? '' : 's'} removed that stated one of sciq’s ${c.sciqLeakHeldOutItems} held-out items’ definitions with its answer (${c.sciqLeakItemsLeakedBefore} items were leaked before the filter); ${c.sciqLeakItemsGlossOnlyAfter} items’ definitions still occur in kept documents, never with their term.`);
  }
  const out = SFT_TASKS.map((t) => ({ t, n: m.sft[t].tooLong ? m.sft[t].tooLong.train + m.sft[t].tooLong.val + m.sft[t].tooLong.test : 0 })).filter((x) => x.n > 0);
  lines.push(`- **SFT tasks**: ${out.length ? out.map((x) => `${x.t} left out ${x.n} example${x.n === 1 ? '' : 's'}`).join(', ') : 'no example was left out'} for not fitting the ${m.sizes.sftContext}-token context; kept prompts are whole.`);
  const synthetic = m.parts?.['math-synthetic'];
  if (synthetic) lines.push(`- **math**: ${(100 * synthetic.tokens.train / m.roles.math.train.numTokens).toFixed(1)}% of the math role’s train tokens are synthetic word problems from the gsm task’s generator (train templates only; gsm’s val and test use other templates): format overlap, not item leakage. The math-synthetic ablation trains the math mixture without them.`);
  return lines.join('\n');
}
