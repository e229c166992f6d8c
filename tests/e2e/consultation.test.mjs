// End-to-end: building a regimen in the Consultation screen, keyboard only,
// and seeing the total daily OME update with its working.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { KEY, Session, seriousViolations, waitFor } from "./webdriver.mjs";

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

test("typing 'oxy' lists oxycodone products; arrow keys and Enter add one", async () => {
  await s.type("[data-testid=product-search]", "oxy");
  await waitFor(async () => (await s.findAll("[role=option]")).length > 0, "search results");
  const first = await s.text("#product-option-0");
  assert.match(first, /^Oxycodone/);
  await s.screenshot("consultation-search");
  await s.type("[data-testid=product-search]", KEY.escape);
  await s.clear("[data-testid=product-search]");
});

test("two items: MST 60 twice a day plus oxycodone 10 mg MR give 150 mg and a high-dose tag", async () => {
  await s.type("[data-testid=product-search]", "MST 60");
  await waitFor(async () => (await s.findAll("[role=option]")).length === 1, "one MST 60 result");
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(async () => (await total()) === "120 mg", "total 120 mg");
  await s.type("[data-testid=product-search]", "oxycodone modified 10");
  await waitFor(async () => (await s.findAll("[role=option]")).length >= 1, "oxycodone 10 MR result");
  assert.match(await s.text("#product-option-0"), /Oxycodone 12-hourly modified-release tablets 10 mg/);
  await s.type("[data-testid=product-search]", KEY.enter);
  // 60 mg x 2 x 1 = 120; 10 mg x 2 x 1.5 = 30; total 150 (UK profile, Opioids Aware factors).
  await waitFor(async () => (await total()) === "150 mg", "total 150 mg");
  assert.ok(await s.exists("[data-testid=high-dose-tag]"));
  assert.match(await s.text("[data-testid=item-1-working]"), /1\.5/);
  await s.screenshot("consultation-two-items");
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
});

test("the total follows each keystroke, and bad entries are named beside the field without losing them", async () => {
  await s.clear("[data-testid=item-0-doses_per_day]");
  await s.type("[data-testid=item-0-doses_per_day]", "1");
  await waitFor(async () => (await total()) === "90 mg", "total 90 mg after one dose a day");
  await s.clear("[data-testid=item-0-doses_per_day]");
  await s.type("[data-testid=item-0-doses_per_day]", "two");
  await waitFor(() => s.exists("[data-testid=error-summary]"), "error summary");
  assert.match(await s.text("[data-testid=error-summary]"), /Enter a number/);
  assert.equal(
    await s.execute("return document.querySelector('[data-testid=item-0-doses_per_day]').value"),
    "two",
  );
  await s.clear("[data-testid=item-0-doses_per_day]");
  await s.type("[data-testid=item-0-doses_per_day]", "-2");
  await waitFor(async () => /greater than 0/.test(await s.text("[data-testid=error-summary]")), "core's message");
  await s.screenshot("consultation-error");
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
  await s.clear("[data-testid=item-0-doses_per_day]");
  await s.type("[data-testid=item-0-doses_per_day]", "2");
  await waitFor(async () => (await total()) === "150 mg", "back to 150 mg");
  assert.equal(await s.exists("[data-testid=error-summary]"), false);
});

test("a medicine outside the catalogue (methadone) is entered by hand and never converted", async () => {
  await s.click("[data-testid=manual-entry] summary");
  await s.execute(
    "const d = document.querySelector('[data-testid=manual-drug]'); d.value = 'methadone'; d.dispatchEvent(new Event('change', {bubbles: true}));" +
      "const f = document.querySelector('[data-testid=manual-form]'); f.value = 'solution'; f.dispatchEvent(new Event('change', {bubbles: true}));",
  );
  await s.type("[data-testid=manual-strength]", "1");
  await s.click("[data-testid=manual-add]");
  await waitFor(async () => (await s.findAll("[data-testid=regimen-item]")).length === 3, "third item");
  await s.type("[data-testid=item-2-ml_per_dose]", "60");
  await s.type("[data-testid=item-2-doses_per_day]", "1");
  await waitFor(() => s.exists("[data-testid=ome-warnings]"), "incomplete warning");
  assert.match(await s.text("[data-testid=ome-warnings]"), /incomplete/i);
  assert.match(await s.text("[data-testid=item-2-working]"), /Not converted/);
  // Methadone is left out of the total, never guessed.
  assert.equal(await total(), "150 mg");
  await s.screenshot("consultation-methadone");
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
  await s.click("[data-testid=regimen-item]:nth-child(3) button.nhsuk-button--secondary");
  await waitFor(async () => (await s.findAll("[data-testid=regimen-item]")).length === 2, "removed");
});

test("patient details drive the risk flags, each with rationale, action and source", async () => {
  await waitFor(() => s.exists("[data-testid=flag-high-dose]"), "high-dose flag");
  assert.match(await s.text("[data-testid=flag-high-dose]"), /150/);
  await s.type("[data-testid=comed-input]", "Valium" + KEY.enter);
  await waitFor(() => s.exists("[data-testid=flag-benzodiazepine]"), "benzodiazepine flag from a brand name");
  const benzo = await s.text("[data-testid=flag-benzodiazepine]");
  assert.match(benzo, /Action:/);
  assert.match(benzo, /Source:.*MHRA/);
  await s.type("[data-testid=patient-age]", "130");
  await waitFor(() => s.exists("[data-testid=error-summary]"), "age error");
  assert.match(await s.text("[data-testid=error-summary]"), /age.*120/i);
  await s.clear("[data-testid=patient-age]");
  await s.type("[data-testid=patient-age]", "72");
  await waitFor(() => s.exists("[data-testid=flag-older-adult]"), "older-adult flag");
  // Most severe first: the first flag shown is a high-risk one.
  const first = await s.execute("return document.querySelector('.app-flag-list li').className");
  assert.match(first, /app-flag--high/);
  await s.screenshot("consultation-flags");
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
});

test("a suggested taper uses real strengths and dates; steps can be lengthened, paused and edited safely", async () => {
  await s.click("[data-testid=preset-standard]");
  for (const [part, value] of [["day", "1"], ["month", "12"], ["year", "2026"]]) {
    await s.clear(`[data-testid=taper-start-${part}]`);
    await s.type(`[data-testid=taper-start-${part}]`, value);
  }
  await s.click("[data-testid=make-plan]");
  await waitFor(async () => (await s.findAll("[data-testid=plan-step]")).length > 3, "plan steps");
  const totals = await s.execute(
    "return [...document.querySelectorAll('[data-testid=plan-step] td:nth-child(4)')].map(td => parseFloat(td.textContent))",
  );
  for (let i = 1; i < totals.length; i++) assert.ok(totals[i] <= totals[i - 1], `totals never rise: ${totals}`);
  assert.equal(totals.at(-1), 0, "the last step stops");
  assert.match(await s.text("[data-testid=plan-step]"), /1 December 2026/);
  await s.execute("document.querySelector('[data-testid=plan-table]').scrollIntoView()");
  await s.screenshot("consultation-plan");
  // Lengthen step 1 to 35 days.
  await s.click("[data-testid=edit-length-1]");
  await s.clear("[data-testid=edit-days]");
  await s.type("[data-testid=edit-days]", "35");
  await s.click("[data-testid=edit-apply]");
  await waitFor(async () => /35 days/.test(await s.text("[data-testid=plan-step]")), "35-day step 1");
  // Raising step 2's dose without saying why is refused, and the plan stays as it was.
  await s.click("[data-testid=edit-dose-2-0]");
  await s.clear("[data-testid=edit-count-0-0]");
  await s.type("[data-testid=edit-count-0-0]", "3");
  await s.click("[data-testid=edit-apply]");
  await waitFor(() => s.exists("[data-testid=edit-error]"), "refusal");
  assert.match(await s.text("[data-testid=edit-error]"), /increase|rise|higher|raise/i);
  await s.screenshot("consultation-plan-refused");
  // Marked as an intentional hold with a reason, it is accepted and warned about.
  await s.click("[data-testid=edit-hold]");
  await s.type("[data-testid=edit-reason]", "Pain flare after surgery");
  await s.click("[data-testid=edit-apply]");
  await waitFor(async () => /Pain flare after surgery/.test(await s.text("[data-testid=plan-table]")) || /Pain flare/.test(await s.text("[data-testid=plan-warnings]")), "hold accepted with its reason");
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
});

test("the regimen survives moving to another screen and back", async () => {
  await s.click("[data-testid=nav-about]");
  await s.click("[data-testid=nav-consultation]");
  await waitFor(async () => (await total()) === "150 mg", "total kept");
  assert.equal((await s.findAll("[data-testid=regimen-item]")).length, 2);
});
