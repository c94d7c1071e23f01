// Data sizes per preset. Presets scale sizes, never the protocol (same roles, tasks, splits, seeds).
import { PRESETS, type PresetName } from '../config';

export interface DataPreset {
  preset: PresetName;
  /** The built data set this preset uses (its folder under <cache>/data); the pythia-* presets share one. */
  dataName: 'tiny' | 'small' | 'pythia';
  /** The preset whose documents are used (pythia-* reuse the small corpus: bring your own data for more). */
  dataFrom: 'tiny' | 'small';
  /** Model vocabulary size (embedding rows). Token ids are < this. */
  vocabSize: number;
  /**
   * Ids the BPE actually uses (byte alphabet + merges + EOS). Equal to vocabSize except for pythia-*,
   * whose 50304 rows (GPT-NeoX's padded size) exceed what our trainer learns (~30k); the rest is padding, as in Pythia.
   */
  bpeVocabSize: number | 'all';
  /** Per role: characters of documents in the train / val split (whole documents, seeded order). */
  trainChars: number;
  valChars: number;
  /** Per role: characters of train documents the tokenizer is trained on. */
  tokenizerSampleChars: number;
  /** Per SFT task: maximum examples per split. */
  sft: { train: number; val: number; test: number };
  /** SFT examples longer than this (prompt + response characters) are dropped (or, for FAQ answers, cut at a paragraph). */
  sftMaxChars: number;
  /** The model context SFT examples must fit (prompt + response + eos, in tokens): the model preset's contextLength. */
  sftContext: number;
  /** Synthetic worked word problems added to the math role (train templates only). */
  mathSynthetic: number;
  /** Seed for splits, sampling and generation. */
  seed: number;
}

const TINY: DataPreset = {
  preset: 'tiny', dataName: 'tiny', dataFrom: 'tiny', vocabSize: 2048, bpeVocabSize: 2048,
  // ~1.3M chars ≈ 350–450k tokens at 2k vocab: plenty for ~1-minute CPU runs of ~50–100k tokens.
  trainChars: 1_300_000, valChars: 130_000, tokenizerSampleChars: 500_000,
  sft: { train: 400, val: 80, test: 80 }, sftMaxChars: 600, sftContext: 128, mathSynthetic: 600, seed: 1234,
};

const SMALL: DataPreset = {
  preset: 'small', dataName: 'small', dataFrom: 'small', vocabSize: 8192, bpeVocabSize: 8192,
  // General prose is ~50M chars in all: small uses all of it; other roles are capped to the same.
  trainChars: 60_000_000, valChars: 1_500_000, tokenizerSampleChars: 3_000_000,
  sft: { train: 5000, val: 500, test: 500 }, sftMaxChars: 1500, sftContext: 256, mathSynthetic: 20_000, seed: 1234,
};

export function dataPreset(preset: PresetName): DataPreset {
  switch (preset) {
    case 'tiny': return TINY;
    case 'small': return SMALL;
    case 'pythia-70m': case 'pythia-160m': case 'pythia-410m':
      // The paper's configs use GPT-NeoX's 50k vocabulary and ~128B tokens of C4: far beyond the data here.
      // We build the small corpus with our largest BPE, padded to 50304 rows; bring your own data for real runs.
      return { ...SMALL, preset, dataName: 'pythia', vocabSize: 50304, bpeVocabSize: 'all', sftMaxChars: 4000, sftContext: 2048 };
    default:
      throw new Error(`data: unknown preset "${preset}" (expected one of ${PRESETS.join(', ')})`);
  }
}
