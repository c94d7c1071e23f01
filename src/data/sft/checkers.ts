// Answer checkers: does a generated continuation of a prompt answer it correctly? One per SFT task.
// They are deliberately strict and simple so "accuracy" means the same thing at every model size.
import type { SftExample } from '../types';
import type { SftTaskName } from '../../config';

/** GSM8K convention: the number after the first "####" (commas allowed), compared numerically. */
export function checkGsm(generated: string, ex: SftExample): boolean {
  const m = generated.match(/####\s*(-?[\d,]*\.?\d+)/);
  if (!m) return false;
  return Math.abs(Number(m[1].replace(/,/g, '')) - Number(ex.answer)) < 1e-6;
}

/** The letter of option i (A, B, C, D, ...). */
export function choiceLetter(i: number): string { return String.fromCharCode(65 + i); }

/** The response that picks option i: the form multiple-choice examples are trained on and options are scored in. */
export function choiceResponse(i: number, choice: string): string { return ` ${choiceLetter(i)}. ${choice}`; }

/** GSM answers are complete once the number after the first "####" is followed by a character that cannot extend it. */
export function gsmAnswerEnded(generated: string): boolean {
  return /####\s*-?[\d,]*\.?\d+[^\d,.]/.test(generated);
}

/** Multiple choice: the first standalone option letter A–D in the generation must be the answer letter. */
export function checkChoice(generated: string, ex: SftExample): boolean {
  const m = generated.match(/\b([A-D])\b/);
  return m !== null && m[1] === ex.answer;
}

/** Code: the function body up to the first line back at column 0, whitespace-normalised, must equal the reference body. */
export function codeBody(generated: string): string {
  const lines = generated.replace(/\r/g, '').split('\n');
  const kept: string[] = [];
  for (const l of lines) {
    if (kept.length > 0 && l.length > 0 && !/^\s/.test(l)) break; // dedent to column 0 ends the function
    if (l.includes('<|endoftext|>')) { kept.push(l.split('<|endoftext|>')[0]); break; }
    kept.push(l);
  }
  return kept.join('\n');
}
export function normalizeCode(s: string): string {
  return s.split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).filter(Boolean).join('\n');
}
/** Code answers are complete once a line goes back to column 0 (what codeBody stops at). */
export function codeAnswerEnded(generated: string): boolean {
  return codeBody(generated) !== generated.replace(/\r/g, '');
}
export function checkCode(generated: string, ex: SftExample): boolean {
  return normalizeCode(codeBody(generated)) === normalizeCode(ex.answer);
}

/** Lower-cased word tokens, for the open-ended task's overlap score. */
function words(s: string): string[] { return s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []; }

/** Unigram F1 (SQuAD style) between a generation and the reference answer. */
export function tokenF1(generated: string, reference: string): number {
  const g = words(generated), r = words(reference);
  if (!g.length || !r.length) return 0;
  const counts = new Map<string, number>();
  for (const w of r) counts.set(w, (counts.get(w) ?? 0) + 1);
  let common = 0;
  for (const w of g) { const c = counts.get(w) ?? 0; if (c > 0) { common++; counts.set(w, c - 1); } }
  if (common === 0) return 0;
  const p = common / g.length, rc = common / r.length;
  return (2 * p * rc) / (p + rc);
}

/** Open-ended answers (LIMA-style): counted correct when unigram F1 with the reference is at least 0.4. A weak proxy; the loss is the primary metric. */
export const LIMA_F1_THRESHOLD = 0.4;
export function checkOpen(generated: string, ex: SftExample): boolean {
  return tokenF1(generated.split('<|endoftext|>')[0], ex.answer) >= LIMA_F1_THRESHOLD;
}

export const CHECKERS: Record<SftTaskName, (generated: string, ex: SftExample) => boolean> = {
  pycode: checkCode,
  gsm: checkGsm,
  sciq: checkChoice,
  lima: checkOpen,
};

/** Where decoding may stop early because the checker's verdict can no longer change (absent: at eos or the token cap). */
export const ANSWER_ENDED: Partial<Record<SftTaskName, (generated: string) => boolean>> = {
  pycode: codeAnswerEnded,
  gsm: gsmAnswerEnded,
};
