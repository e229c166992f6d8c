// End-to-end, issue 15 (reference data fit for UK practice): a strength the UK
// does not make is warned beside the item, and the flags added for issue 15
// show with their figures: a benzodiazepine (clobazam), a serotonergic
// antidepressant with fentanyl (mirtazapine), paracetamol at under 50 kg,
// codeine above its licensed maximum, and morphine oral solution issued in
// more than 300 mL. Oxycodone with naloxone (Targinact) keeps both parts from the
// search to the plan. Axe-checked with the warning, the plan and the flags showing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { KEY, Session, waitFor, assertAxeClean } from "./webdriver.mjs";

let s;

before(async () => {
  s = await Session.start();
  await s.click("[data-testid=nav-consultation]");
  await waitFor(() => s.exists("[data-testid=product-search]"), "product search");
});

after(async () => {
  if (s) await s.end();
});

const total = () => s.text("[data-testid=ome-total]");
const axeClean = (name) => assertAxeClean(s, name);
const items = async () => (await s.findAll("[data-testid=regimen-item]")).length;

/** Adds the only product a search finds. */
async function addProduct(query, label) {
  await s.clear("[data-testid=product-search]");
  await s.type("[data-testid=product-search]", query);
  await waitFor(async () => (await s.findAll("[role=option]")).length >= 1, `a result for ${query}`);
  assert.match(await s.text("#product-option-0"), label);
  const before = await items();
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(async () => (await items()) === before + 1, `${query} added`);
}

test("a buprenorphine patch typed as 0.02 micrograms/hour is warned beside the item, naming the real strengths", async () => {
  await s.click("[data-testid=manual-entry] summary");
  await s.execute(
    "const d = document.querySelector('[data-testid=manual-drug]'); d.value = 'buprenorphine'; d.dispatchEvent(new Event('change', {bubbles: true}));" +
      "const f = document.querySelector('[data-testid=manual-form]'); f.value = 'patch'; f.dispatchEvent(new Event('change', {bubbles: true}));",
  );
  await s.type("[data-testid=manual-strength]", "0.02");
  await s.click("[data-testid=manual-add]");
  await waitFor(() => s.exists("[data-testid=item-0-strength-warning]"), "strength warning");
  const warning = await s.text("[data-testid=item-0-strength-warning]");
  assert.match(warning, /Check the strength/);
  assert.match(warning, /0\.02 micrograms\/hour is not a UK strength of buprenorphine patches; the nearest are 5 or 10 micrograms\/hour/);
  // Beside the item: inside its card, straight after the product and its strength.
  const placed = await s.execute(
    "const w = document.querySelector('[data-testid=item-0-strength-warning]');" +
      "const card = w.closest('[data-testid=regimen-item]');" +
      "const heading = card.querySelector('h3');" +
      "let prev = w.previousElementSibling; while (prev && prev.tagName === 'P') prev = prev.previousElementSibling;" +
      "return [card !== null, prev === heading, heading.textContent];",
  );
  assert.deepEqual(placed.slice(0, 2), [true, true], `warning placement: ${placed}`);
  assert.match(placed[2], /0\.02 micrograms\/hour/);
  // Still converted (a product outside the catalogue may be real): 0.02 x 24 / 1000 x ... is tiny, not refused.
  assert.match(await total(), /mg$/);
  await s.execute("document.querySelector('[data-testid=regimen-item]').scrollIntoView({block: 'center'})");
  await s.screenshot("reference-strength-warning");
  await axeClean("strength warning");
  await s.click("[data-testid=regimen-item] button.nhsuk-button--secondary");
  await waitFor(async () => (await items()) === 0, "removed");
});

test("Targinact: the search fills both parts, the working converts only the oxycodone, and the plan keeps oxycodone with naloxone", async () => {
  await addProduct("targinact 20", /Oxycodone with naloxone 12-hourly modified-release tablets 20 mg\/10 mg/);
  const card = await s.text("[data-testid=regimen-item]");
  assert.match(card, /with 10 mg naloxone, which adds nothing to the oral morphine equivalent/);
  assert.match(card, /Targinact/);
  // Prefilled: one tablet, 12-hourly. 20 x 2 = 40 mg oxycodone x 1.5 = 60 mg OME.
  await waitFor(async () => (await total()) === "60 mg", "total 60 mg");
  assert.equal(await s.exists("[data-testid=item-0-strength-warning]"), false, "20 mg/10 mg is a real tablet");
  await s.click("[data-testid=ome-panel] details summary");
  const working = await s.text("[data-testid=ome-panel] details");
  assert.match(working, /20 mg\/10 mg × 2 a day = 40 mg of oxycodone × 1\.5 = 60 mg OME \(oxycodone part only: naloxone adds no OME\)/);
  await s.click("[data-testid=make-plan]");
  await waitFor(async () => (await s.findAll("[data-testid=plan-step]")).length > 3, "plan steps");
  const table = await s.text("[data-testid=plan-table]");
  assert.match(table, /oxycodone with naloxone 12-hourly slow-release tablets/);
  // Every strength in every step is an oxycodone with naloxone tablet, both parts shown.
  const strengths = await s.execute(
    "return [...document.querySelectorAll('[data-testid=plan-step] .app-plan-item')].flatMap((el) => [...el.textContent.matchAll(/(\\d+(?:\\.\\d+)?) mg(?:\\/(\\d+(?:\\.\\d+)?) mg)?/g)].map((m) => m[0]))",
  );
  assert.ok(strengths.length > 0, "strengths in the plan table");
  for (const st of strengths) {
    assert.match(st, /^(5 mg\/2\.5 mg|10 mg\/5 mg|20 mg\/10 mg|40 mg\/20 mg)$/, `plan strength ${st} (all: ${strengths})`);
  }
  assert.doesNotMatch(table, /oxycodone 12-hourly slow-release tablets/, "never plain oxycodone tablets");
  await s.execute("document.querySelector('[data-testid=plan-table]').scrollIntoView({block: 'start'})");
  await s.screenshot("reference-targinact-plan");
  await axeClean("Targinact plan");
  await s.click("[data-testid=regimen-item] button.nhsuk-button--secondary");
  await waitFor(async () => (await items()) === 0, "removed");
});

test("the issue 15 flags show with this patient's figures, each with its action and source", async () => {
  await addProduct("durogesic 25", /Fentanyl 72-hour patches 25 micrograms\/hour/);
  await addProduct("co-codamol 30", /Co-codamol .*30\/500 mg/);
  // Two 30/500 tablets five times a day: codeine 300 mg (licensed maximum 240), paracetamol 5 g.
  await s.clear("[data-testid=item-1-units_per_dose]");
  await s.type("[data-testid=item-1-units_per_dose]", "2");
  await s.clear("[data-testid=item-1-doses_per_day]");
  await s.type("[data-testid=item-1-doses_per_day]", "5");
  await addProduct("oramorph", /Morphine oral solution 10 mg\/5 mL/);
  // One strength, as it is prescribed: not "10 mg/5 mL 2 mg/mL".
  const heading = await s.execute("return document.querySelectorAll('[data-testid=regimen-item] h3')[2].textContent.trim()");
  assert.equal(heading, "Morphine oral solution 10 mg/5 mL");
  await s.type("[data-testid=item-2-ml_per_dose]", "5");
  await s.type("[data-testid=item-2-doses_per_day]", "4");
  await s.tick("#" + (await s.execute("return document.querySelector('[data-testid=item-2-ml_per_dose]').id.replace('ml_per_dose', 'as_needed')")));
  // The mL supplied on each prescription is asked for, and labelled, on a liquid only.
  const label = await s.execute(
    "return document.querySelector('label[for=' + JSON.stringify(document.querySelector('[data-testid=item-2-quantity_per_issue]').id) + ']').textContent",
  );
  assert.match(label, /mL supplied on each prescription/);
  assert.equal(await s.exists("[data-testid=item-0-quantity_per_issue]"), false, "not on a patch");
  await s.type("[data-testid=item-2-quantity_per_issue]", "500");
  // 60 (patch) + 30 (codeine 300 mg x 0.1) + 40 (2 mg/mL x 5 mL x 4) = 130 mg.
  await waitFor(async () => (await total()) === "130 mg", "total 130 mg");

  await s.type("[data-testid=patient-weight_kg]", "38");
  // Each History and Conditions box sits beside the first line of its label, even in a
  // row stretched by a two-line label next to it (nhsuk centres labels otherwise).
  const offsets = await s.execute(`return [...document.querySelectorAll('.app-two-lists .nhsuk-checkboxes__item')].map((el) => {
    const box = el.querySelector('input').getBoundingClientRect();
    const label = el.querySelector('label').getBoundingClientRect();
    return [el.querySelector('label').textContent.trim(), Math.round(label.top - box.top)];
  })`);
  assert.ok(offsets.length >= 14, JSON.stringify(offsets));
  const spread = Math.max(...offsets.map(([, o]) => o)) - Math.min(...offsets.map(([, o]) => o));
  assert.ok(spread <= 4, `labels sit at different heights beside their boxes: ${JSON.stringify(offsets)}`);
  await s.type("[data-testid=comed-input]", "clobazam" + KEY.enter);
  await s.type("[data-testid=comed-input]", "mirtazapine" + KEY.enter);
  await s.type("[data-testid=comed-input]", "promethazine" + KEY.enter);
  // Chips in one row are the same height (nhsuk's list-item margin once made the first shorter).
  const chipHeights = await s.execute("return [...document.querySelectorAll('[data-testid=comed-list] li')].map((li) => li.getBoundingClientRect().height)");
  assert.equal(chipHeights.length, 3);
  assert.ok(chipHeights.every((h) => h === chipHeights[0]), `chip heights ${chipHeights}`);
  await waitFor(() => s.exists("[data-testid=flag-morphine-solution-quantity]"), "morphine solution flag");
  await waitFor(() => s.exists("[data-testid=flag-serotonergic]"), "serotonergic flag");

  const flag = (id) => s.text(`[data-testid=flag-${id}]`);
  assert.match(await flag("benzodiazepine"), /clobazam/);
  // A sedating antihistamine: the other-CNS-depressant flag (issue 15), not a benzodiazepine.
  assert.match(await flag("cns-depressant"), /promethazine/);
  assert.doesNotMatch(await flag("benzodiazepine"), /promethazine/);
  assert.match(await flag("serotonergic"), /Fentanyl taken with mirtazapine/);
  assert.match(await flag("serotonergic"), /Source: .*Durogesic/);
  // 38 kg: at most 60 mg/kg a day = 2,280 mg; the regimen gives 5,000 mg.
  assert.match(await flag("paracetamol-limit"), /5000/);
  assert.match(await flag("paracetamol-limit"), /2280/);
  assert.match(await flag("above-licensed-maximum"), /Codeine 300 mg a day is above the licensed maximum \(240 mg a day/);
  const liquid = await flag("morphine-solution-quantity");
  assert.match(liquid, /More than 300 mL of morphine oral solution is supplied at one issue/);
  // As the bottle states it: 2 mg/mL is never written where it could be read beside 20 mg/mL.
  assert.match(liquid, /morphine oral solution 10 mg\/5 mL, 500 mL at each issue \(1000 mg of morphine\)/);
  assert.match(liquid, /Action:/);
  assert.match(liquid, /Source: .*OpenPrescribing/);
  for (const id of ["benzodiazepine", "cns-depressant", "serotonergic", "paracetamol-limit", "above-licensed-maximum", "morphine-solution-quantity"]) {
    assert.match(await flag(id), /Action: .+/, `${id} has an action`);
    assert.match(await flag(id), /Source: .+/, `${id} has a source`);
  }
  for (const id of ["benzodiazepine", "paracetamol-limit", "morphine-solution-quantity"]) {
    await s.execute(`document.querySelector('[data-testid=flag-${id}]').scrollIntoView({block: 'start'})`);
    await s.screenshot(`reference-flag-${id}`);
  }
  await axeClean("issue 15 flags");

  // 300 mL is not over the threshold: the flag goes, the rest stay.
  await s.clear("[data-testid=item-2-quantity_per_issue]");
  await s.type("[data-testid=item-2-quantity_per_issue]", "300");
  await waitFor(async () => !(await s.exists("[data-testid=flag-morphine-solution-quantity]")), "no flag at 300 mL");
  assert.ok(await s.exists("[data-testid=flag-benzodiazepine]"));
  await s.execute("document.querySelector('[data-testid=item-2-quantity_per_issue]').scrollIntoView({block: 'center'})");
  await s.screenshot("reference-liquid-card");
});
