// reports/<preset>/summary.{csv,md}: the findings notebook's headline tables in files a reader (or a diff)
// can open without Jupyter — with the preset, the data manifest hash and code version that produced them.
import * as path from 'path';
import * as aq from 'arquero';
import { allResults, type AllResults } from './analysis';
import { summaryRows, paperComparisonRows, sftCells, intervalCaption, type Table } from './tables';
import { provenance, codeHash, gitDescribe, type FigureArtifact } from './artifacts';
import { writeFileAtomic } from './export';
import { describeProximity, describeAccuracy, describeMathSynthetic } from './findings';
import { paperAgreement, describeAgreement, AGREEMENT_CAPTION } from './agreement';

/** Writes summary.csv (every experiment's cells) and summary.md (paper comparison, agreement checks, figures, cells, proximity); returns the cells table. */
export function writeSummary(dir: string, f: AllResults, figures: readonly FigureArtifact[] = []): Table {
  const results = allResults(f);
  const table = aq.from(summaryRows(results));
  writeFileAtomic(path.join(dir, 'summary.csv'), table.toCSV());
  const prov = provenance(results);
  const paper = aq.from(paperComparisonRows(sftCells(f.midtraining)));
  const agreement = paperAgreement(f);
  // PNGs embedded by relative path, so summary.md shows the figures wherever Markdown renders (e.g. GitHub).
  const pngs = figures.flatMap((g) => g.files.filter((x) => x.endsWith('.png')).map((file) => ({ name: g.name, file: file.split(path.sep).join('/') })));
  const md = [
    `# Midtraining reproduction — summary (preset \`${f.midtraining.plan.scale.preset}\`)`,
    '',
    `Data manifest: ${prov.dataHash.map((h) => `\`${h}\``).join(', ')} · engine: ${prov.codeVersion.map((h) => `\`${h}\``).join(', ')} · code hash (src/ + notebooks/): \`${codeHash()}\` · git: \`${gitDescribe()}\` · ${prov.runs.length} runs (configs in \`runs.json\`; re-train any of them and compare its numbers with \`midtrain reproduce reports/${f.midtraining.plan.scale.preset} <run name>\`).`,
    '',
    '## Paper (410M) beside ours',
    '',
    paper.toMarkdown(),
    '## Where we agree with the paper',
    '',
    AGREEMENT_CAPTION,
    '',
    aq.from(agreement).toMarkdown(),
    describeAgreement(agreement, f),
    '',
    ...(pngs.length ? ['## Figures', '', ...pngs.map((p) => `![${p.name}](${p.file})`), ''] : []),
    '## Proximity',
    '',
    describeProximity(f.proximity.correlation, f.proximity.resampled),
    '',
    '## The math mixture with and without its synthetic problems',
    '',
    describeMathSynthetic(f.mathSynthetic),
    '',
    '## Every experiment',
    '',
    intervalCaption(results.flatMap((r) => sftCells(r))),
    '',
    describeAccuracy(results.flatMap((r) => sftCells(r))),
    '',
    table.toMarkdown(),
  ].join('\n');
  writeFileAtomic(path.join(dir, 'summary.md'), md + '\n');
  return table;
}
