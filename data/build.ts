// `npm run data -- --preset tiny|small|...`: build (or load) a preset's default data and print a summary table.
// `npm run data -- --config <name | path/to/config.json> [--preset P] [--workers N]`: build (or load) a data
// config: a name in data/configs/ (tiny, small, pythia: the built-in corpus) or a path (local files).
// `npm run data -- --list`: the named data configs. For built-in data it also writes the committed copies of the manifest and role cards to data/manifests/<preset>.json and
// data/cards/<preset>.md, and the data's shape (sizes and SFT token lengths, what src/data/synthetic
// generates data like) to data/shapes/<preset>.json (no timestamps: rebuilding unchanged data leaves them unchanged).
import * as fs from 'fs';
import * as path from 'path';
import { PRESETS, projectRoot, type PresetName } from '../src/config';
import { ensureData, readManifest } from '../src/data/build';
import { listDataConfigs, resolveDataConfig } from '../src/data/configs';
import { builtinSizes, DEFAULT_DATA_CONFIG, readBuiltinConfig } from '../src/data/presets';
import { renderCards, summaryRows } from '../src/data/cards';
import { ensureLocalData } from '../src/data/local/build';
import { measureDataShape } from '../src/data/synthetic/shape';

function parseArgs(argv: string[]): { preset?: PresetName; config?: string; workers?: number; list: boolean } {
  let preset: string | undefined;
  let config: string | undefined, workers: number | undefined, list = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--preset') preset = argv[++i];
    else if (argv[i] === '--list') list = true;
    else if (argv[i] === '--config') config = argv[++i];
    else if (argv[i] === '--workers') workers = Number(argv[++i]);
    else if (argv[i].startsWith('--preset=')) preset = argv[i].slice('--preset='.length);
    else throw new Error(`data: unknown argument "${argv[i]}" (usage: npm run data -- [--preset ${PRESETS.join('|')}] [--config <name|path>] [--workers N] [--list])`);
  }
  if (preset !== undefined && !(PRESETS as readonly string[]).includes(preset)) throw new Error(`data: unknown preset "${preset}" (expected ${PRESETS.join(', ')})`);
  return { preset: preset as PresetName | undefined, config, workers, list };
}

function table(rows: Record<string, string | number>[]): string {
  const cols = Object.keys(rows[0]);
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(cols), line(w.map((n) => '-'.repeat(n))), ...rows.map((r) => line(cols.map((c) => String(r[c]))))].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { workers } = args;
  if (args.list) {
    console.log(table(listDataConfigs().map((c) => ({ name: c.name, kind: c.kind, presets: c.presets.join(' '), description: c.description.length > 90 ? c.description.slice(0, 89) + '…' : c.description }))));
    return;
  }
  const chosen = args.config ? resolveDataConfig(args.config) : undefined;
  if (chosen?.kind === 'local') {
    const config = chosen.file;
    const local = await ensureLocalData(config, args.preset, { workers });
    const { roles, tasks } = summaryRows(local);
    console.log(`\nData config ${config} (preset ${local.preset}): tokenizer ${local.tokenizer.hash} (vocab ${local.tokenizer.vocabSize}), data hash ${local.manifestHash}, in ${local.dir}\n`);
    console.log(table(roles.map((r) => ({ ...r, sources: String(r.sources).split(', ').length + ' files' }))) + '\n');
    console.log(table(tasks));
    return;
  }
  const builtin = chosen ? readBuiltinConfig(chosen.file) : undefined;
  const preset: PresetName = args.preset ?? builtin?.presets[0] ?? 'tiny';
  const sizes = builtin ? builtinSizes(builtin, preset, chosen!.file) : undefined;
  const bundle = await ensureData(preset, { sizes });
  const manifest = readManifest(preset, sizes);
  const isDefault = manifest.preset === DEFAULT_DATA_CONFIG[preset];
  const root = projectRoot();
  for (const [dir, name, text] of [
    ['manifests', `${manifest.preset}.json`, JSON.stringify(manifest, null, 2) + '\n'],
    ['cards', `${manifest.preset}.md`, renderCards(bundle, manifest)],
    ...(isDefault ? [['shapes', `${manifest.preset}.json`, JSON.stringify(measureDataShape(bundle.dir, preset), null, 2) + '\n']] as const : []),
  ] as const) {
    const file = path.join(root, 'data', dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.tmp`, text);
    fs.renameSync(`${file}.tmp`, file);
  }
  const { roles, tasks } = summaryRows(bundle);
  console.log(`\nPreset ${preset}, data config ${manifest.preset} (built-in): tokenizer ${bundle.tokenizer.hash} (vocab ${bundle.tokenizer.vocabSize}), data hash ${bundle.manifestHash}, in ${bundle.dir}\n`);
  console.log(table(roles) + '\n');
  console.log(table(tasks) + '\n');
  console.log(`Cards: data/cards/${manifest.preset}.md   Manifest: data/manifests/${manifest.preset}.json`);
}

main().catch((e) => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
