// Whether an SFT example fits a model's context whole. Examples that do not are left out, never cut: a cut
// prompt leaves the response's loss nearly unconditional, and a cut response teaches a truncated answer.

/** Prompt + response + the eos that ends it, at most contextLength + 1 tokens (a row's inputs are ids[:-1]). */
export function sftExampleFits(promptTokens: number, responseTokens: number, contextLength: number): boolean {
  return promptTokens > 0 && promptTokens + responseTokens + 1 <= contextLength + 1;
}
