// A byte-level BPE tokenizer of a given vocabulary size made without training (no corpus, no native
// library), for synthetic data: the 256 byte tokens, merges that make the SFT formats' fixed strings one
// token each ("Question", "Answer", '"""', indentation), then merges that spell lower-case "words" with a
// leading space (" a" … " z", " aa" … " zz", " aaa" …, each built from its prefix), then <|endoftext|> as
// the last id, as our trained tokenizers lay it out. Every such word encodes to exactly one token, so a
// text of k words is k tokens: synthetic prompts and responses get the token lengths they are made for.
import { bytesToUnicode, EOS_TOKEN, truncateBpe, type TokenizerJson } from '../../tokenizer/bpe';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const BYTE_CHARS = bytesToUnicode();
const SPACE = BYTE_CHARS[0x20]; // 'Ġ'

/**
 * Fixed strings of the SFT prompt formats (src/data/sft), merged first so that each is one token as in a
 * trained tokenizer. None is lower-case letters alone, so no merge of theirs splits a filler word.
 */
export const FORMAT_STRINGS = ['Question', 'Answer', '"""', '\n   ', '   '];

/** The merges that build `s` (byte-level characters) from its first character, one character at a time. */
function chain(s: string): Array<[string, string]> {
  const c = Array.from(Buffer.from(s, 'utf8'), (b) => BYTE_CHARS[b]).join('');
  return Array.from({ length: c.length - 1 }, (_, i): [string, string] => [c.slice(0, i + 1), c[i + 1]]);
}

/** The first n words in order of length, then alphabetically: every prefix of a word comes before it. */
export function syntheticWords(n: number): string[] {
  const out: string[] = [];
  let level = [''];
  while (out.length < n) {
    const next: string[] = [];
    for (const p of level) for (const c of LETTERS) { next.push(p + c); if (out.length < n) out.push(p + c); }
    level = next;
  }
  return out;
}

/** How many one-token words a synthetic tokenizer of this vocabulary has (syntheticWords(n) lists them). */
export function wordCount(vocabSize: number): number {
  return vocabSize - 257 - FORMAT_STRINGS.flatMap(chain).length;
}

/** The tokenizer JSON (our trained tokenizers' format): vocabSize ids, EOS last. */
export function syntheticTokenizerJson(vocabSize: number): TokenizerJson {
  const format = FORMAT_STRINGS.flatMap(chain);
  if (!Number.isInteger(vocabSize) || vocabSize < 258 + format.length) throw new Error(`synthetic tokenizer: vocabulary ${vocabSize} must be an integer ≥ ${258 + format.length} (256 bytes, the format strings, a word, EOS)`);
  // Word w is the merge of its prefix's token with its last letter; one-letter words merge Ġ and the letter.
  const words = syntheticWords(wordCount(vocabSize)).map((w): [string, string] => [SPACE + w.slice(0, -1), w.slice(-1)]);
  const merges = [...format, ...words];
  const json = truncateBpe({ model: { merges } }, vocabSize);
  if (json.added_tokens[0]?.content !== EOS_TOKEN || json.added_tokens[0].id !== vocabSize - 1) throw new Error('synthetic tokenizer: EOS is not the last id');
  return json;
}
