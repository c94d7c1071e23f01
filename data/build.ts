// `npm run data -- --preset tiny|small`: build (or load) a preset's data and print a summary table.
// `npm run data -- --config path/to/data-config.json [--workers N]`: build (or load) a data config of local files.
// Also writes the committed copies of the manifest and role cards to data/manifests/<preset>.json and
// data/cards/<preset>.md, and the data's shape (sizes and SFT token lengths, what src/data/synthetic
// generates data like) to data/shapes/<preset>.json (no timestamps: rebuilding unchanged data leaves them unchanged).
import * as fs from 'fs';
import * as path from 'path';
import { PRESETS, projectRoot, type PresetName } from '../src/config';
import { ensureData, readManifest } from '../src/data/build';
import { renderCards, summaryRows } from '../src/data/cards';
import { ensureLocalData } from '../src/data/local/build';
import { measureDataShape } from '../src/data/synthetic/shape';

function parseArgs(argv: string[]): { preset: PresetName; config?: string; workers?: number } {
  let preset: string = 'tiny';
  let config: string | undefined, workers: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--preset') preset = argv[++i];
    else if (argv[i] === '--config') config = argv[++i];
    else if (argv[i] === '--workers') workers = Number(argv[++i]);
    else if (argv[i].startsWith('--preset=')) preset = argv[i].slice('--preset='.length);
    else throw new Error(`data: unknown argument "${argv[i]}" (usage: npm run data -- --preset ${PRESETS.join('|')})`);
  }
  if (!(PRESETS as readonly string[]).includes(preset)) throw new Error(`data: unknown preset "${preset}" (expected ${PRESETS.join(', ')})`);
  return { preset: preset as PresetName, config, workers };
}

function table(rows: Record<string, string | number>[]): string {
  const cols = Object.keys(rows[0]);
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(cols), line(w.map((n) => '-'.repeat(n))), ...rows.map((r) => line(cols.map((c) => String(r[c]))))].join('\n');
}

async function main(): Promise<void> {
  const { preset, config, workers } = parseArgs(process.argv.slice(2));
  if (config) {
    const local = await ensureLocalData(config, undefined, { workers });
    const { roles, tasks } = summaryRows(local);
    console.log(`\nData config ${config} (preset ${local.preset}): tokenizer ${local.tokenizer.hash} (vocab ${local.tokenizer.vocabSize}), data hash ${local.manifestHash}, in ${local.dir}\n`);
    console.log(table(roles.map((r) => ({ ...r, sources: String(r.sources).split(', ').length + ' files' }))) + '\n');
    console.log(table(tasks));
    return;
  }
  const bundle = await ensureData(preset);
  const manifest = readManifest(preset);
  const root = projectRoot();
  for (const [dir, name, text] of [
    ['manifests', `${manifest.preset}.json`, JSON.stringify(manifest, null, 2) + '\n'],
    ['cards', `${manifest.preset}.md`, renderCards(bundle, manifest)],
    ['shapes', `${manifest.preset}.json`, JSON.stringify(measureDataShape(bundle.dir, preset), null, 2) + '\n'],
  ] as const) {
    const file = path.join(root, 'data', dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.tmp`, text);
    fs.renameSync(`${file}.tmp`, file);
  }
  const { roles, tasks } = summaryRows(bundle);
  console.log(`\nPreset ${preset}: tokenizer ${bundle.tokenizer.hash} (vocab ${bundle.tokenizer.vocabSize}), data hash ${bundle.manifestHash}, in ${bundle.dir}\n`);
  console.log(table(roles) + '\n');
  console.log(table(tasks) + '\n');
  console.log(`Cards: data/cards/${manifest.preset}.md   Manifest: data/manifests/${manifest.preset}.json`);
}

main().catch((e) => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
