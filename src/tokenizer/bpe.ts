// Byte-level BPE (GPT-2 / GPT-NeoX style). Training uses Hugging Face `tokenizers` (npm 0.23.2, native):
// its Node API always learns ~30k merges, and BPE learns merges in rank order, so a k-token vocabulary
// is exactly the 256-byte alphabet + the first merges + <|endoftext|>. We save that truncated
// tokenizer as a standard tokenizer.json (loadable by HF tokenizers anywhere), identified by its hash.
// Encoding is our own merge-rank encoder (synchronous, word-cached); tests check it equals the library.
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import type { Tokenizer } from '../data/types';

export const EOS_TOKEN = '<|endoftext|>';

/** GPT-2's reversible byte → printable-unicode map, used by byte-level BPE vocabularies. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => { out[b] = String.fromCharCode(cs[i]); });
  return out;
}
const BYTE_CHARS = bytesToUnicode();
const CHAR_TO_BYTE = new Map(BYTE_CHARS.map((c, b) => [c, b]));

/** The ByteLevel pre-tokenizer's split (GPT-2 regex), as HF tokenizers applies it with use_regex=true. */
export const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** The JSON a tokenizer is saved as (HF tokenizers' format). */
export interface TokenizerJson {
  version: string;
  added_tokens: Array<{ id: number; content: string; special: boolean; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean }>;
  /** Merges as [a, b] pairs (what tokenizers >= 0.20 saves) or "a b" strings (older files, GPT-NeoX-20B's). */
  model: { type: 'BPE'; vocab: Record<string, number>; merges: Array<[string, string] | string> } & Record<string, unknown>;
  [k: string]: unknown;
}

/**
 * Truncate a trained byte-level BPE (its saved JSON) to `vocabSize` ids: 256 byte tokens (ids 0..255,
 * in byte order), then merged tokens in merge-rank order, then <|endoftext|> as the last id.
 */
export function truncateBpe(trained: { model: { merges: Array<[string, string] | string> } }, vocabSize: number | 'all'): TokenizerJson {
  // No prototype: a merge can spell a name such as "constructor", which a plain object already "has".
  const vocab: Record<string, number> = Object.create(null);
  BYTE_CHARS.forEach((c, b) => { vocab[c] = b; });
  let next = 256;
  const merges: Array<[string, string]> = [];
  const target = vocabSize === 'all' ? Infinity : vocabSize - 1; // last id is EOS
  for (const m of trained.model.merges) {
    if (next >= target) break;
    const [a, b] = typeof m === 'string' ? (m.split(' ') as [string, string]) : m;
    // A merge's parts always exist already (merges are learned in order); guard anyway.
    if (vocab[a] === undefined || vocab[b] === undefined) throw new Error(`tokenizer: merge "${a} ${b}" uses a token not yet in the vocabulary`);
    merges.push([a, b]);
    if (vocab[a + b] === undefined) vocab[a + b] = next++;
  }
  if (vocabSize !== 'all' && next < target) throw new Error(`tokenizer: the trained BPE has only ${next} tokens, fewer than the requested vocabulary ${vocabSize}; train on more text`);
  const eosId = next;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: eosId, content: EOS_TOKEN, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
}

/**
 * Train a byte-level BPE with HF tokenizers on the given text files and truncate it to `vocabSize`.
 * Deterministic for a given input (the library breaks count ties by pair order).
 */
export function trainBpe(files: string[], vocabSize: number | 'all'): TokenizerJson {
  // Loaded lazily: the native binding is only needed when training.
  const hf = require('tokenizers') as typeof import('tokenizers');
  const tok = new hf.Tokenizer(hf.BPE.empty());
  tok.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
  tok.train(files);
  const tmp = path.join(path.dirname(files[0]), `.bpe-trained-${process.pid}.json`);
  tok.save(tmp);
  const trained = JSON.parse(fs.readFileSync(tmp, 'utf8'));
  fs.rmSync(tmp, { force: true });
  return truncateBpe(trained, vocabSize);
}

/** Canonical serialisation (stable key order from truncateBpe), so the hash identifies the tokenizer. */
export function serializeTokenizer(json: TokenizerJson): string {
  return JSON.stringify(json) + '\n';
}

export function tokenizerHash(serialized: string): string {
  return crypto.createHash('sha256').update(serialized).digest('hex').slice(0, 16);
}

/** A loaded byte-level BPE with a synchronous, cached merge-rank encoder. */
export class BpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly hash: string;
  readonly eosId: number;
  /** id → bytes */
  private readonly idBytes: Uint8Array[];
  /** "a b" (token strings) → [rank, merged id] */
  private readonly ranks = new Map<string, number>();
  private readonly vocab: Record<string, number>;
  /** The vocabulary as a Map: a plain object would answer "constructor" or "toString" from its prototype. */
  private readonly ids: Map<string, number>;
  private readonly cache = new Map<string, number[]>();
  private readonly decoder = new TextDecoder('utf-8');

  /** Added tokens (special or not) matched in raw text before pre-tokenisation, as HF tokenizers does. */
  private readonly added = new Map<string, number>();
  private readonly addedPattern: RegExp | null;
  private readonly nfc: boolean;
  private readonly addPrefixSpace: boolean;
  private readonly unkId: number | undefined;

  /**
   * `padTo`: report a larger vocabulary (embedding rows) than the BPE uses, as Pythia pads 50277 → 50304.
   * `eosToken`: the added token that ends a document (GPT-NeoX and GPT-2 both use <|endoftext|>).
   * `matchAddedTokens`: cut added tokens out of the text first, as the HF library does (pretrained
   * tokenizer.json files). Off for our own tokenizers: there, "<|endoftext|>" inside a document is text.
   */
  constructor(readonly json: TokenizerJson, serialized = serializeTokenizer(json), padTo = 0, eosToken = EOS_TOKEN, matchAddedTokens = false) {
    this.hash = tokenizerHash(serialized);
    this.vocab = json.model.vocab;
    this.ids = new Map(Object.entries(this.vocab));
    const addedTokens = json.added_tokens ?? [];
    const eos = addedTokens.find((t) => t.content === eosToken) ?? (this.ids.has(eosToken) ? { id: this.ids.get(eosToken)!, content: eosToken } : undefined);
    if (!eos) throw new Error(`tokenizer: no ${eosToken} token in tokenizer ${this.hash}`);
    this.eosId = eos.id;
    for (const t of addedTokens) this.added.set(t.content, t.id);
    // Longest first, so "<|endoftext|>" wins over a shorter added token that is its prefix.
    const contents = [...this.added.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    this.addedPattern = contents.length && matchAddedTokens ? new RegExp(contents.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : null;
    const unk = json.model.unk_token;
    this.unkId = typeof unk === 'string' ? this.ids.get(unk) : undefined;
    this.nfc = (json.normalizer as { type?: string } | null | undefined)?.type === 'NFC';
    this.addPrefixSpace = (json.pre_tokenizer as { add_prefix_space?: boolean } | null | undefined)?.add_prefix_space === true;
    const used = Math.max(eos.id, ...Object.values(this.vocab), ...addedTokens.map((t) => t.id)) + 1;
    if (padTo && padTo < used) throw new Error(`tokenizer ${this.hash}: cannot pad ${used} ids to ${padTo}`);
    this.vocabSize = Math.max(used, padTo);
    json.model.merges.forEach((m, r) => {
      const key = typeof m === 'string' ? m : m[0] + ' ' + m[1];
      if (!this.ranks.has(key)) this.ranks.set(key, r);
    });
    this.idBytes = new Array(used);
    const utf8 = new TextEncoder();
    for (const t of addedTokens) this.idBytes[t.id] = utf8.encode(t.content);
    for (const [tok, id] of Object.entries(this.vocab)) {
      if (this.added.has(tok)) continue; // special tokens stored in the vocabulary too (GPT-NeoX's <|endoftext|> is id 0)
      const bytes = new Uint8Array(tok.length);
      for (let i = 0; i < tok.length; i++) {
        const b = CHAR_TO_BYTE.get(tok[i]);
        if (b === undefined) throw new Error(`tokenizer ${this.hash}: token ${JSON.stringify(tok)} is not byte-level`);
        bytes[i] = b;
      }
      this.idBytes[id] = bytes;
    }
    this.idBytes[this.eosId] = utf8.encode(eosToken);
  }

  static load(file: string, padTo = 0): BpeTokenizer {
    let text: string;
    try { text = fs.readFileSync(file, 'utf8'); } catch { throw new Error(`tokenizer: cannot read ${file}`); }
    let json: TokenizerJson;
    try { json = JSON.parse(text); } catch { throw new Error(`tokenizer: ${file} is not valid JSON (truncated or corrupt)`); }
    if (json?.model?.type !== 'BPE' || !json.model.vocab || !Array.isArray(json.model.merges)) throw new Error(`tokenizer: ${file} is not a BPE tokenizer.json (model.type/vocab/merges missing)`);
    return new BpeTokenizer(json, text, padTo);
  }

  /** BPE on one pre-token (already mapped to byte characters): apply the lowest-rank merge until none applies. */
  private bpe(word: string): number[] {
    let parts = Array.from(word);
    // HF drops characters missing from the vocabulary before merging (when there is no unk_token).
    if (this.unkId === undefined && parts.some((p) => !this.ids.has(p))) parts = parts.filter((p) => this.ids.has(p));
    while (parts.length > 1) {
      let best = Infinity, at = -1;
      for (let i = 0; i < parts.length - 1; i++) {
        const r = this.ranks.get(parts[i] + ' ' + parts[i + 1]);
        if (r !== undefined && r < best) { best = r; at = i; }
      }
      if (at < 0) break;
      const a = parts[at], b = parts[at + 1];
      // Merge every occurrence of this pair left to right, as HF does for one rank.
      const out: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i < parts.length - 1 && parts[i] === a && parts[i + 1] === b) { out.push(a + b); i++; }
        else out.push(parts[i]);
      }
      parts = out;
    }
    // A byte missing from the vocabulary (a tokenizer trained on text that never had it) is dropped, as HF
    // tokenizers does for a BPE without unk_token; with an unk_token it becomes that id.
    const ids: number[] = [];
    for (const p of parts) {
      const id = this.ids.get(p) ?? this.unkId;
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }

  encode(text: string): number[] {
    if (!this.addedPattern) return this.encodeOrdinary(this.nfc ? text.normalize('NFC') : text, []);
    // Added tokens are cut out of the raw text first; the pieces between them are encoded normally.
    const out: number[] = [];
    let last = 0;
    for (const m of text.matchAll(this.addedPattern)) {
      if (m.index! > last) this.encodeOrdinary(this.nfc ? text.slice(last, m.index).normalize('NFC') : text.slice(last, m.index), out);
      out.push(this.added.get(m[0])!);
      last = m.index! + m[0].length;
    }
    if (last < text.length) this.encodeOrdinary(this.nfc ? text.slice(last).normalize('NFC') : text.slice(last), out);
    return out;
  }

  private encodeOrdinary(text: string, out: number[]): number[] {
    if (this.addPrefixSpace && text.length > 0 && text[0] !== ' ') text = ' ' + text;
    const enc = new TextEncoder();
    for (const m of text.matchAll(PRETOKENIZE)) {
      const piece = m[0];
      let ids = this.cache.get(piece);
      if (!ids) {
        const bytes = enc.encode(piece);
        let mapped = '';
        for (let i = 0; i < bytes.length; i++) mapped += BYTE_CHARS[bytes[i]];
        ids = this.bpe(mapped);
        if (this.cache.size < 500_000) this.cache.set(piece, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
    return out;
  }

  /** Bytes of the ids, UTF-8 decoded (invalid sequences, e.g. a window cut mid-character, become U+FFFD). */
  decode(ids: ArrayLike<number>): string {
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.idBytes[ids[i]];
      if (!b) throw new Error(`tokenizer ${this.hash}: id ${ids[i]} out of range (vocab ${this.vocabSize})`);
      n += b.length;
    }
    const buf = new Uint8Array(n);
    let o = 0;
    for (let i = 0; i < ids.length; i++) { const b = this.idBytes[ids[i]]; buf.set(b, o); o += b.length; }
    return this.decoder.decode(buf);
  }

  /** The token's text, for display. */
  tokenText(id: number): string { return this.decode([id]); }
}
