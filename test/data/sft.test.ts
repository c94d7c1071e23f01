// SFT tasks: splits, disjointness, honesty of the synthetic task, checkers accept the references.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { SFT_TASKS } from '../../src/config';
import { ensureData, ROLE_SOURCES, TASK_SOURCES } from '../../src/data/build';
import { GSM_TEMPLATES, GSM_TEST_TEMPLATES, GSM_TRAIN_TEMPLATES, GSM_VAL_TEMPLATES, generateProblems } from '../../src/data/sft/gsm-templates';
import { docstringFunctions } from '../../src/data/sft/build-tasks';
import { scaleFor } from '../../src/experiments/scale';

test('every task has train/val/test, unique ids, disjoint splits, and its checker accepts every reference response', async () => {
  const b = await ensureData('tiny', { quiet: true });
  for (const name of SFT_TASKS) {
    const t = b.sft[name];
    assert.equal(t.name, name);
    // Examples longer than the preset's context are dropped at build time: the tasks tiny fine-tunes keep
    // enough to train and score; the others (long LIMA answers at context 128) keep some in every split.
    const [train, val, testMin] = (scaleFor('tiny').sftTasks ?? SFT_TASKS).includes(name) ? [200, 40, 40] : [40, 10, 10];
    assert.ok(t.train.length >= train && t.val.length >= val && t.test.length >= testMin, `${name}: ${t.train.length}/${t.val.length}/${t.test.length}`);
    const ids = [...t.train, ...t.val, ...t.test].map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, `${name}: duplicate ids`);
    const trainPrompts = new Set(t.train.map((e) => e.prompt));
    assert.ok(![...t.val, ...t.test].some((e) => trainPrompts.has(e.prompt)), `${name}: a val/test prompt is also in train`);
    for (const e of [...t.train, ...t.val, ...t.test]) {
      assert.ok(t.check(e.response, e), `${name} ${e.id}: checker rejects its own reference`);
      assert.ok(e.prompt.length > 0 && e.response.length > 0);
    }
    // A wrong answer is rejected (the checker is not trivially true).
    const e = t.test[0];
    assert.equal(t.check(' the quick brown fox #### -987654 Z', e), false, `${name}: checker accepts nonsense`);
    assert.ok(t.maxNewTokens > 0);
  }
});

test('gsm is synthetic, says so, and is split by template', async () => {
  const b = await ensureData('tiny', { quiet: true });
  assert.match(b.sft.gsm.description, /SYNTHETIC/);
  const tmpl = (id: string) => id.split('/')[2];
  const train = new Set(b.sft.gsm.train.map((e) => tmpl(e.id)));
  const val = new Set(b.sft.gsm.val.map((e) => tmpl(e.id)));
  const test = new Set(b.sft.gsm.test.map((e) => tmpl(e.id)));
  assert.deepEqual([...train].sort(), [...GSM_TRAIN_TEMPLATES].sort());
  assert.deepEqual([...test].sort(), [...GSM_TEST_TEMPLATES].sort());
  for (const t of test) assert.ok(!train.has(t) && !val.has(t));
  for (const t of val) assert.ok(!train.has(t));
  assert.equal(GSM_TRAIN_TEMPLATES.length + GSM_VAL_TEMPLATES.length + GSM_TEST_TEMPLATES.length, GSM_TEMPLATES.length);
});

test('generated problems are deterministic and their worked arithmetic is correct', () => {
  const a = generateProblems(GSM_TEMPLATES, 300, 7), b = generateProblems(GSM_TEMPLATES, 300, 7);
  assert.deepEqual(a, b);
  for (const p of a) {
    assert.ok(p.solution.endsWith(`#### ${p.answer}`));
    assert.ok(Number.isInteger(p.answer) && p.answer >= 0, `${p.template}: answer ${p.answer}`);
    for (const m of p.solution.matchAll(/<<([^=]+)=([^>]+)>>/g)) {
      // eslint-disable-next-line no-new-func
      const v = Function(`return (${m[1].replace(/\*\*/g, '**')})`)();
      assert.equal(v, Number(m[2]), `${p.template}: ${m[0]}`);
    }
  }
});

test('the code SFT task is disjoint from the code role by package; general uses no Debian documentation', () => {
  assert.deepEqual(TASK_SOURCES.pycode, ['sympy']);
  for (const role of Object.keys(ROLE_SOURCES) as Array<keyof typeof ROLE_SOURCES>) assert.ok(!ROLE_SOURCES[role].includes('sympy'), role);
  assert.deepEqual(ROLE_SOURCES.general, ['gutenberg', 'sotu', 'brown', 'spamAssassin']);
});

test('docstring → function extraction', () => {
  const src = 'def f(x):\n    """Add one to x.\n\n    More text.\n    """\n    y = x + 1\n    return y\n\ndef g():\n    pass\n';
  const fns = docstringFunctions(src);
  assert.equal(fns.length, 1);
  assert.equal(fns[0].name, 'f');
  assert.equal(fns[0].doc, 'Add one to x.');
  assert.equal(fns[0].body, '    y = x + 1\n    return y');
});

test('sciq examples show four choices with the answer at its letter', async () => {
  const b = await ensureData('tiny', { quiet: true });
  for (const e of b.sft.sciq.train.slice(0, 50)) {
    assert.equal(e.choices?.length, 4);
    assert.equal(new Set(e.choices).size, 4);
    assert.ok(e.response.includes(e.choices![Number('ABCD'.indexOf(e.answer))]));
    for (const [i, c] of e.choices!.entries()) assert.ok(e.prompt.includes(`${'ABCD'[i]}. ${c}`));
  }
});
