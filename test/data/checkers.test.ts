// Answer checkers: each accepts the reference answer and rejects a wrong one.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkChoice, checkCode, checkGsm, checkOpen, codeAnswerEnded, gsmAnswerEnded, tokenF1 } from '../../src/data/sft/checkers';
import { dataPreset } from '../../src/data/presets';
import { MODEL_PRESETS } from '../../src/model/presets';
import { PRESETS } from '../../src/config';
import type { SftExample } from '../../src/data/types';

const ex = (answer: string, extra: Partial<SftExample> = {}): SftExample => ({ id: 'x', prompt: '', response: '', answer, ...extra });

test('gsm: number after ####, commas allowed, numeric comparison', () => {
  assert.equal(checkGsm(' 3 * 4 = <<3*4=12>>12\n#### 12', ex('12')), true);
  assert.equal(checkGsm('#### 1,200', ex('1200')), true);
  assert.equal(checkGsm('#### 12.0', ex('12')), true);
  assert.equal(checkGsm('#### 13', ex('12')), false);
  assert.equal(checkGsm('the answer is 12', ex('12')), false);
});

test('multiple choice: the first standalone letter decides', () => {
  assert.equal(checkChoice(' B. smilax', ex('B')), true);
  assert.equal(checkChoice(' C. cardamom', ex('B')), false);
  assert.equal(checkChoice(' Banana', ex('B')), false);
});

test('code: whitespace-normalised body up to the first dedent', () => {
  const ref = '    x = 1\n    return x + 1';
  assert.equal(checkCode('    x = 1\n    return   x + 1\n\ndef other():\n    pass', ex(ref)), true);
  assert.equal(checkCode('    x = 2\n    return x + 1', ex(ref)), false);
});

test('open-ended: unigram F1 ≥ 0.4', () => {
  assert.equal(tokenF1('the cat sat', 'the cat sat'), 1);
  assert.equal(tokenF1('', 'a'), 0);
  assert.equal(checkOpen('Use the pdb module as a debugger.', ex('The pdb module is a debugger.')), true);
  assert.equal(checkOpen('Bananas are yellow.', ex('The pdb module is a debugger.')), false);
});

test('answer ends: decoding stops only once the checker\'s verdict cannot change', () => {
  for (const partial of ['3 * 4 = 12', '#### ', '#### 1', '#### 1,2', '#### 12.', '#### -']) assert.equal(gsmAnswerEnded(partial), false, partial);
  for (const done of ['#### 12\n', '#### 1,200 ', '#### 12.5\nQuestion', '#### 7<']) assert.equal(gsmAnswerEnded(done), true, done);
  // Whatever follows an ended answer, the checker reads the same number.
  assert.equal(checkGsm('#### 12\n#### 13', ex('12')), true);
  assert.equal(codeAnswerEnded('    x = 1\n    return x\n'), false);
  assert.equal(codeAnswerEnded('    x = 1\n    return x\nd'), true);
  assert.equal(checkCode('    return x\ndef g():', ex('    return x')), true);
});

test('SFT examples are filtered at build time against the context of the model preset that uses the data', () => {
  for (const p of PRESETS) assert.equal(dataPreset(p).sftContext, MODEL_PRESETS[p].contextLength, p);
});
