// SYNTHETIC grade-school math word problems in GSM8K's format: a question, a worked solution with
// <<calculator>> annotations, and a final "#### answer". No GSM8K-like set exists in npm or Debian,
// so these are generated from templates with a seeded PRNG. They are split BY TEMPLATE: test (and
// val) templates are never seen in training, so accuracy measures transfer, not memorised templates.
import { Rng } from '../prng';

export interface MathProblem { template: string; question: string; solution: string; answer: number }
type Gen = (r: Rng) => { q: string; steps: string[]; answer: number };

const NAMES = ['Ava', 'Ben', 'Carlos', 'Dana', 'Eli', 'Fatima', 'Grace', 'Hiro', 'Ines', 'Jamal', 'Kira', 'Liam', 'Maya', 'Noah', 'Olga', 'Priya', 'Quinn', 'Rosa', 'Sam', 'Tariq', 'Uma', 'Victor', 'Wen', 'Yusuf', 'Zoe'];
const FRUITS = ['apples', 'oranges', 'pears', 'plums', 'peaches', 'lemons', 'mangoes', 'apricots'];
const ITEMS = ['pencils', 'stickers', 'marbles', 'cards', 'books', 'shells', 'stamps', 'buttons'];

/** "a op b = c" with GSM8K's calculator annotation. */
function c(expr: string, v: number): string { return `${expr} = <<${expr.replace(/ /g, '')}=${v}>>${v}`; }

const T: Record<string, Gen> = {
  buyItems: (r) => { const n = r.pick(NAMES), k = r.int(3, 12), p = r.int(2, 15), m = k * p + r.int(5, 60);
    return { q: `${n} buys ${k} notebooks that cost $${p} each. ${n} pays with $${m}. How much change does ${n} get?`,
      steps: [`The notebooks cost ${c(`${k} * ${p}`, k * p)} dollars.`, `The change is ${c(`${m} - ${k * p}`, m - k * p)} dollars.`], answer: m - k * p }; },
  shareEqually: (r) => { const n = r.pick(NAMES), f = r.pick(FRUITS), g = r.int(2, 9), each = r.int(2, 12), extra = r.int(1, 20);
    const total = g * each + extra;
    return { q: `${n} picked ${total} ${f}, kept ${extra} and shared the rest equally among ${g} friends. How many ${f} did each friend get?`,
      steps: [`${n} shared ${c(`${total} - ${extra}`, total - extra)} ${f}.`, `Each friend got ${c(`${total - extra} / ${g}`, each)} ${f}.`], answer: each }; },
  weeklySavings: (r) => { const n = r.pick(NAMES), s = r.int(3, 25), w = r.int(2, 12), spent = r.int(1, s * w - 1);
    return { q: `${n} saves $${s} every week for ${w} weeks, then spends $${spent} on a gift. How much money is left?`,
      steps: [`${n} saved ${c(`${s} * ${w}`, s * w)} dollars.`, `After the gift, ${c(`${s * w} - ${spent}`, s * w - spent)} dollars are left.`], answer: s * w - spent }; },
  speedDistance: (r) => { const n = r.pick(NAMES), v = r.int(20, 70), h = r.int(2, 6), back = r.int(1, h);
    return { q: `${n} drives at ${v} miles per hour for ${h} hours, then ${back} more hours at the same speed. How many miles did ${n} drive in total?`,
      steps: [`${n} drove for ${c(`${h} + ${back}`, h + back)} hours.`, `The distance is ${c(`${v} * ${h + back}`, v * (h + back))} miles.`], answer: v * (h + back) }; },
  percentDiscount: (r) => { const price = r.int(1, 20) * 20, pct = r.pick([10, 20, 25, 30, 40, 50]);
    const off = (price * pct) / 100;
    return { q: `A jacket costs $${price}. It is on sale for ${pct}% off. What is the sale price?`,
      steps: [`The discount is ${c(`${price} * ${pct} / 100`, off)} dollars.`, `The sale price is ${c(`${price} - ${off}`, price - off)} dollars.`], answer: price - off }; },
  ageProblem: (r) => { const a = r.pick(NAMES), b = r.pick(NAMES.filter((x) => x !== a)), age = r.int(4, 20), k = r.int(2, 4), y = r.int(2, 10);
    return { q: `${a} is ${age} years old. ${b} is ${k} times as old as ${a}. How old will ${b} be in ${y} years?`,
      steps: [`${b} is ${c(`${age} * ${k}`, age * k)} years old now.`, `In ${y} years ${b} will be ${c(`${age * k} + ${y}`, age * k + y)} years old.`], answer: age * k + y }; },
  rectangleArea: (r) => { const w = r.int(3, 30), l = r.int(3, 30), cost = r.int(2, 9);
    return { q: `A rectangular garden is ${w} meters wide and ${l} meters long. Soil costs $${cost} per square meter. How much does soil for the whole garden cost?`,
      steps: [`The area is ${c(`${w} * ${l}`, w * l)} square meters.`, `The soil costs ${c(`${w * l} * ${cost}`, w * l * cost)} dollars.`], answer: w * l * cost }; },
  bakeSale: (r) => { const n = r.pick(NAMES), trays = r.int(2, 8), per = r.int(6, 24), sold = r.int(1, trays * per), price = r.int(1, 4);
    return { q: `${n} baked ${trays} trays of ${per} cookies and sold ${sold} cookies for $${price} each. How many cookies are left, and how much money was made? Give the money.`,
      steps: [`${n} baked ${c(`${trays} * ${per}`, trays * per)} cookies.`, `${n} made ${c(`${sold} * ${price}`, sold * price)} dollars.`], answer: sold * price }; },
  collectItems: (r) => { const a = r.pick(NAMES), it = r.pick(ITEMS), x = r.int(10, 60), more = r.int(5, 40), give = r.int(1, x + more - 1);
    return { q: `${a} has ${x} ${it}. ${a} finds ${more} more and then gives ${give} away. How many ${it} does ${a} have now?`,
      steps: [`After finding more, ${a} has ${c(`${x} + ${more}`, x + more)} ${it}.`, `After giving some away, ${a} has ${c(`${x + more} - ${give}`, x + more - give)} ${it}.`], answer: x + more - give }; },
  workHours: (r) => { const n = r.pick(NAMES), rate = r.int(8, 30), h = r.int(2, 8), d = r.int(2, 6);
    return { q: `${n} earns $${rate} per hour and works ${h} hours a day for ${d} days. How much does ${n} earn?`,
      steps: [`${n} works ${c(`${h} * ${d}`, h * d)} hours.`, `${n} earns ${c(`${h * d} * ${rate}`, h * d * rate)} dollars.`], answer: h * d * rate }; },
  classroom: (r) => { const rows = r.int(3, 9), per = r.int(3, 8), absent = r.int(1, rows * per - 1);
    return { q: `A classroom has ${rows} rows of ${per} desks. Every desk has one student, but ${absent} students are absent today. How many students are present?`,
      steps: [`There are ${c(`${rows} * ${per}`, rows * per)} students.`, `Present today: ${c(`${rows * per} - ${absent}`, rows * per - absent)}.`], answer: rows * per - absent }; },
  pizzaSlices: (r) => { const p = r.int(2, 8), s = r.pick([6, 8, 10, 12]), people = r.int(2, 6), each = r.int(1, Math.floor((p * s) / people));
    const left = p * s - people * each;
    return { q: `There are ${p} pizzas cut into ${s} slices each. ${people} people each eat ${each} slices. How many slices are left?`,
      steps: [`There are ${c(`${p} * ${s}`, p * s)} slices.`, `They eat ${c(`${people} * ${each}`, people * each)} slices.`, `Left: ${c(`${p * s} - ${people * each}`, left)}.`], answer: left }; },
  busTrip: (r) => { const start = r.int(10, 40), off = r.int(1, start), on = r.int(1, 30), off2 = r.int(1, start - off + on);
    const end = start - off + on - off2;
    return { q: `A bus starts with ${start} passengers. At the first stop ${off} get off and ${on} get on. At the second stop ${off2} get off. How many passengers are on the bus?`,
      steps: [`After the first stop: ${c(`${start} - ${off} + ${on}`, start - off + on)}.`, `After the second stop: ${c(`${start - off + on} - ${off2}`, end)}.`], answer: end }; },
  fractionOf: (r) => { const d = r.pick([2, 3, 4, 5]), total = d * r.int(4, 30), n = r.pick(NAMES);
    return { q: `${n} has ${total} marbles. One ${['', '', 'half', 'third', 'quarter', 'fifth'][d]} of them are blue. How many marbles are not blue?`,
      steps: [`Blue marbles: ${c(`${total} / ${d}`, total / d)}.`, `Not blue: ${c(`${total} - ${total / d}`, total - total / d)}.`], answer: total - total / d }; },
  tickets: (r) => { const a = r.int(2, 6), ca = r.int(5, 20), k = r.int(1, 6), ck = r.int(2, 10);
    const tot = a * ca + k * ck;
    return { q: `Adult tickets cost $${ca} and child tickets cost $${ck}. A family buys ${a} adult tickets and ${k} child tickets. How much do they pay?`,
      steps: [`Adults: ${c(`${a} * ${ca}`, a * ca)} dollars.`, `Children: ${c(`${k} * ${ck}`, k * ck)} dollars.`, `Total: ${c(`${a * ca} + ${k * ck}`, tot)} dollars.`], answer: tot }; },
  readingPages: (r) => { const n = r.pick(NAMES), pages = r.int(100, 400), perDay = r.int(10, 40), days = r.int(1, Math.floor(pages / perDay));
    return { q: `A book has ${pages} pages. ${n} reads ${perDay} pages a day for ${days} days. How many pages are left to read?`,
      steps: [`${n} read ${c(`${perDay} * ${days}`, perDay * days)} pages.`, `Left: ${c(`${pages} - ${perDay * days}`, pages - perDay * days)} pages.`], answer: pages - perDay * days }; },
  fuelCost: (r) => { const miles = r.int(5, 40) * 10, mpg = r.pick([10, 20, 25, 30, 40]), price = r.int(2, 6);
    const gal = miles / mpg;
    if (!Number.isInteger(gal)) return T.fuelCost(r);
    return { q: `A car goes ${mpg} miles on one gallon of fuel. Fuel costs $${price} per gallon. How much does fuel for a ${miles}-mile trip cost?`,
      steps: [`The trip needs ${c(`${miles} / ${mpg}`, gal)} gallons.`, `The fuel costs ${c(`${gal} * ${price}`, gal * price)} dollars.`], answer: gal * price }; },
  boxesPacking: (r) => { const per = r.int(4, 24), boxes = r.int(3, 20), loose = r.int(0, per - 1);
    const total = per * boxes + loose;
    return { q: `A factory packs ${total} cans into boxes of ${per}. How many full boxes can it make?`,
      steps: [`${c(`${per} * ${boxes}`, per * boxes)} cans fill ${boxes} boxes and ${loose} cans are left over, which is less than a box.`, `So it makes ${boxes} full boxes.`], answer: boxes }; },
  doubling: (r) => { const start = r.int(2, 20), days = r.int(2, 5);
    const end = start * 2 ** days;
    return { q: `A plant is ${start} cm tall and doubles its height every week. How tall is it after ${days} weeks?`,
      steps: [`Each week multiplies the height by 2, so it grows by a factor of ${c(`2 ** ${days}`, 2 ** days)}.`, `Height: ${c(`${start} * ${2 ** days}`, end)} cm.`], answer: end }; },
  averageScore: (r) => { const k = r.int(3, 5), avg = r.int(60, 95), scores: number[] = [];
    for (let i = 0; i < k - 1; i++) scores.push(r.int(avg - 10, Math.min(100, avg + 10)));
    const last = avg * k - scores.reduce((a, b) => a + b, 0);
    if (last < 0 || last > 100) return T.averageScore(r);
    const n = r.pick(NAMES);
    return { q: `${n} scored ${scores.join(', ')} on ${k - 1} tests. What score does ${n} need on the next test to average ${avg} over ${k} tests?`,
      steps: [`The total needed is ${c(`${avg} * ${k}`, avg * k)}.`, `So far: ${c(scores.join(' + '), avg * k - last)}.`, `Needed: ${c(`${avg * k} - ${avg * k - last}`, last)}.`], answer: last }; },
  timeMinutes: (r) => { const n = r.pick(NAMES), tasks = r.int(2, 6), mins = r.int(5, 40), brk = r.int(5, 30);
    return { q: `${n} has ${tasks} chores that take ${mins} minutes each, plus one ${brk}-minute break. How many minutes does it take in total?`,
      steps: [`The chores take ${c(`${tasks} * ${mins}`, tasks * mins)} minutes.`, `Total: ${c(`${tasks * mins} + ${brk}`, tasks * mins + brk)} minutes.`], answer: tasks * mins + brk }; },
  profit: (r) => { const k = r.int(10, 100), cost = r.int(1, 10), price = cost + r.int(1, 10);
    return { q: `A shop buys ${k} toys for $${cost} each and sells all of them for $${price} each. What is the profit?`,
      steps: [`Cost: ${c(`${k} * ${cost}`, k * cost)} dollars.`, `Revenue: ${c(`${k} * ${price}`, k * price)} dollars.`, `Profit: ${c(`${k * price} - ${k * cost}`, k * (price - cost))} dollars.`], answer: k * (price - cost) }; },
  legsCount: (r) => { const ch = r.int(2, 20), cow = r.int(2, 20);
    return { q: `A farm has ${ch} chickens and ${cow} cows. How many legs do the animals have in total?`,
      steps: [`Chickens: ${c(`${ch} * 2`, ch * 2)} legs.`, `Cows: ${c(`${cow} * 4`, cow * 4)} legs.`, `Total: ${c(`${ch * 2} + ${cow * 4}`, ch * 2 + cow * 4)} legs.`], answer: ch * 2 + cow * 4 }; },
  perimeterFence: (r) => { const s = r.int(3, 40), posts = r.int(2, 5);
    return { q: `A square field has sides of ${s} meters. A fence needs ${posts} posts per meter of perimeter. How many posts are needed?`,
      steps: [`The perimeter is ${c(`4 * ${s}`, 4 * s)} meters.`, `Posts: ${c(`${4 * s} * ${posts}`, 4 * s * posts)}.`], answer: 4 * s * posts }; },
};

/** Template names in a fixed order; the split below is by name. */
export const GSM_TEMPLATES = Object.keys(T).sort();
/** Held-out templates: never in SFT train nor in the math role. */
export const GSM_VAL_TEMPLATES = ['fractionOf', 'legsCount', 'profit', 'tickets'];
export const GSM_TEST_TEMPLATES = ['averageScore', 'busTrip', 'perimeterFence', 'pizzaSlices'];
export const GSM_TRAIN_TEMPLATES = GSM_TEMPLATES.filter((t) => !GSM_VAL_TEMPLATES.includes(t) && !GSM_TEST_TEMPLATES.includes(t));

/** n problems drawn (seeded) from the given templates, round-robin so each template is equally represented. */
export function generateProblems(templates: string[], n: number, seed: number): MathProblem[] {
  const r = new Rng(seed);
  const out: MathProblem[] = [];
  for (let i = 0; i < n; i++) {
    const name = templates[i % templates.length];
    const g = T[name](r);
    out.push({ template: name, question: g.q, solution: `${g.steps.join('\n')}\n#### ${g.answer}`, answer: g.answer });
  }
  return out;
}
