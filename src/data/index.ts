// The data layer's public API: ensureData, presets, shards, SFT tasks, proximity, document samples.
export * from './types';
export { ensureData, chosenDataConfig, chosenBuiltinManifest, type EnsureDataOptions } from './ensure';
export { resolveDataConfig, listDataConfigs, type DataConfigRef } from './configs';
export { readManifest, dataDir, ROLE_DESCRIPTIONS, ROLE_SOURCES, DATA_FORMAT_VERSION, type DataManifest } from './build';
export { dataPreset, DEFAULT_DATA_CONFIG, type DataPreset, type BuiltinDataConfig } from './presets';
export { SOURCES, type SourceSpec } from './sources';
export { FileTokenShard, type ShardIndex } from './shards';
export { ensureLocalData, localDataDir, type LocalDataManifest } from './local/build';
export { loadDataConfig, type DataConfig } from './local/config';
export { Rng, mulberry32, hash32 } from './prng';
export { checkGsm, checkChoice, checkCode, checkOpen, tokenF1 } from './sft/checkers';
export { BpeTokenizer } from '../tokenizer/bpe';
export { sampleDocuments, sampleFromBundle, docOffsets, documentTokens } from './sample';
export { proximity, proximityTable, PAPER_MIX_WEIGHTS, cosine, jsd, jaccard, topK, type Proximity, type ProximityRow } from './proximity';
export { summaryRows, renderCards } from './cards';
export { withMixtureParts, mixtureParts, PART_SPECS } from './parts';
