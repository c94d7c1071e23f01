// A pretrained Hugging Face tokenizer.json loaded from a local path (GPT-NeoX-20B, GPT-2 and other byte-level
// BPEs), instead of training one. Files in the wild differ from what today's library saves: merges as "a b"
// strings or [a, b] pairs, special tokens that also sit in the vocabulary, an NFC normaliser, add_prefix_space.
// Added tokens are matched in the raw text first, as the library does (so a literal <|endoftext|> in a document
// becomes the EOS id, exactly as GPT-NeoX's own data pipeline encoded it).
// What our encoder does not implement is refused with one line naming the file and field, never guessed at.
import * as fs from 'fs';
import { BpeTokenizer, EOS_TOKEN, type TokenizerJson } from './bpe';

export interface PretrainedOptions {
  /** The added token that ends a document (default <|endoftext|>). */
  eosToken?: string;
  /** Embedding rows to report when larger than the ids used (Pythia pads 50277 → 50304). */
  padTo?: number;
}

const SUPPORTED_NORMALIZERS = new Set(['NFC']);

/** Load and check a byte-level BPE tokenizer.json; every refusal is one line naming the file and field. */
export function loadPretrainedTokenizer(file: string, opts: PretrainedOptions = {}): BpeTokenizer {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw new Error(`tokenizer: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? e})`); }
  let json: TokenizerJson;
  try { json = JSON.parse(text); } catch (e) { throw new Error(`tokenizer: ${file} does not parse as JSON (${(e as Error).message})`); }
  const fail = (field: string, why: string): never => { throw new Error(`tokenizer: ${file}: ${field} ${why}`); };
  const bad = (field: string, why: string): undefined => { fail(field, why); return undefined; };
  if (!json || typeof json !== 'object') fail('(root)', 'is not an object');
  const model = (json.model?.type === 'BPE' ? json.model : bad('model.type', `is ${JSON.stringify(json.model?.type)}; only BPE models are supported`))!;
  if (!model.vocab || typeof model.vocab !== 'object') fail('model.vocab', 'is missing');
  if (!Array.isArray(model.merges)) fail('model.merges', 'is missing or not an array');
  model.merges.forEach((m, i) => {
    const ok = typeof m === 'string' ? m.split(' ').length === 2 : Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string';
    if (!ok) fail(`model.merges[${i}]`, `is ${JSON.stringify(m)}; expected "a b" or ["a", "b"]`);
  });
  if ((model as { byte_fallback?: boolean }).byte_fallback) fail('model.byte_fallback', 'is true (SentencePiece-style BPE); only byte-level BPE is supported');
  if ((model as { ignore_merges?: boolean }).ignore_merges) fail('model.ignore_merges', 'is true; not supported');
  const pre = json.pre_tokenizer as { type?: string; use_regex?: boolean } | null | undefined;
  if (pre?.type !== 'ByteLevel') fail('pre_tokenizer.type', `is ${JSON.stringify(pre?.type)}; only a ByteLevel pre-tokenizer is supported`);
  if (pre?.use_regex === false) fail('pre_tokenizer.use_regex', 'is false; not supported');
  const norm = json.normalizer as { type?: string } | null | undefined;
  if (norm && !SUPPORTED_NORMALIZERS.has(norm.type ?? '')) fail('normalizer.type', `is ${JSON.stringify(norm.type)}; supported: none or NFC`);
  if (json.added_tokens !== undefined && !Array.isArray(json.added_tokens)) fail('added_tokens', 'is not an array');
  for (const [i, t] of (json.added_tokens ?? []).entries()) {
    if (typeof t?.content !== 'string' || !Number.isInteger(t?.id)) fail(`added_tokens[${i}]`, 'needs a string content and an integer id');
    if (t.lstrip || t.rstrip || t.single_word) fail(`added_tokens[${i}]`, `(${JSON.stringify(t.content)}) uses lstrip/rstrip/single_word, which this encoder does not implement`);
  }
  const eosToken = opts.eosToken ?? EOS_TOKEN;
  try {
    return new BpeTokenizer(json, text, opts.padTo ?? 0, eosToken, true);
  } catch (e) {
    throw new Error(`tokenizer: ${file}: ${(e as Error).message.replace(/^tokenizer:?\s*/, '')}`);
  }
}
