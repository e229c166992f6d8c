// End-to-end, keyboard only (issue 14): the asymmetric MST regimen (30 mg in
// the morning, 60 mg in the evening) beside morphine concentrate 20 mg/mL,
// 0.5 mL four times a day, which whole-mL measures cannot reduce. The plan
// keeps the concentrate exactly as it is, says what to ask the prescriber and
// offers a switch to 10 mg in 5 mL with its equivalence and source; the
// clinician accepts it (an `accept_switch` edit the core applies), and the
// printed leaflet names the morning and evening doses. Then a custom rate
// faster than a rapid taper asks for a reason, which is kept with the plan. A plan
// that reduces nothing (MXL 30 mg once a day) prints no leaflet, and says why.
// MST 30 mg in the morning and MST 60 mg in the evening entered as two items
// plan as one line; co-codamol's codeine-with-separate-paracetamol switch is
// offered as a choice for finer steps and taken only when accepted.
// Axe-checked in each new state; screenshots in target/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { KEY, Session, waitFor, assertAxeClean, practiceAndNewPatient } from "./webdriver.mjs";

let s;
const saveDir = mkdtempSync(path.join(tmpdir(), "stepdown-switch-"));

before(async () => {
  s = await Session.start({ args: ["--save-dir", saveDir] });
});

after(async () => {
  if (s) await s.end();
});

const axeClean = (name) => assertAxeClean(s, name);
const total = () => s.text("[data-testid=ome-total]");
const scrollTo = (css) => s.execute(`document.querySelector(${JSON.stringify(css)}).scrollIntoView()`);

test("asymmetric MST with a concentrate that cannot go on: question, switch offered and accepted, leaflet by time of day", async () => {
  await practiceAndNewPatient(s, "Sam Switch", "9434765919");

  // MST 30 mg: one tablet in the morning, two in the evening, as one item.
  await s.type("[data-testid=product-search]", "MST 30");
  await waitFor(async () => (await s.findAll("[role=option]")).length === 1, "one MST 30 result");
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(async () => (await total()) === "60 mg", "60 mg as prefilled");
  await s.tick("[data-testid=item-0-by-time]");
  await waitFor(() => s.exists("[data-testid=item-0-time-evening]"), "per-time fields");
  await s.clear("[data-testid=item-0-time-evening]");
  await s.type("[data-testid=item-0-time-evening]", "2");
  await waitFor(async () => (await total()) === "90 mg", "MST 90 mg a day");

  // Morphine concentrate 20 mg/mL, 0.5 mL four times a day (10 mg a dose, 40 mg a day).
  await s.type("[data-testid=product-search]", "concentrate");
  await waitFor(async () => (await s.findAll("[role=option]")).length >= 1, "concentrate result");
  assert.match(await s.text("#product-option-0"), /concentrat/i);
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(() => s.exists("[data-testid=item-1-ml_per_dose]"), "concentrate item");
  await s.clear("[data-testid=item-1-ml_per_dose]");
  await s.type("[data-testid=item-1-ml_per_dose]", "0.5");
  await s.clear("[data-testid=item-1-doses_per_day]");
  await s.type("[data-testid=item-1-doses_per_day]", "4");
  await waitFor(async () => (await total()) === "130 mg", "total 130 mg (90 + 40)");

  // The plan: step 1 is the regimen exactly; the concentrate is kept, with the question and the switch.
  await s.tick("[data-testid=preset-standard]");
  await s.press("[data-testid=make-plan]");
  await waitFor(() => s.exists("[data-testid=plan-held]"), "held items shown");
  assert.match(await s.text("[data-testid=plan-table]"), /morning/i);
  assert.match(await s.text("[data-testid=plan-table]"), /evening/i);
  const steps = await s.findAll("[data-testid=plan-step]");
  assert.ok(steps.length > 3, "a plan with steps");
  assert.match(await s.text("[data-testid=held-1]"), /whole 1 mL measures/);
  assert.match(await s.text("[data-testid=prescriber-query-1]"), /Question for the prescriber: Ask the prescriber how this dose is given now/);
  assert.ok(await s.exists("[data-testid=switch-offer-1]"), "a switch is offered for the concentrate");
  assert.match(await s.text("[data-testid=switch-offer-1] [data-testid=switch-becomes]"), /5 mL/);
  assert.match(await s.text("[data-testid=switch-offer-1] [data-testid=switch-equivalence]"), /same morphine/i);
  assert.match(await s.text("[data-testid=switch-offer-1] [data-testid=switch-source]"), /SmPC|BNF/);
  // Offered, not applied: no step gives 10 mg in 5 mL yet.
  assert.doesNotMatch(await s.text("[data-testid=plan-table]"), /(^|[^.\d])5 mL \(10 mg\)/);
  await scrollTo("[data-testid=plan-held]");
  await s.screenshot("switch-offered");
  await axeClean("plan with a held item, its question and a switch offered");

  // Accept: the core applies the edit and makes the plan again.
  await s.press("[data-testid=accept-switch-1]");
  await waitFor(async () => /Switch accepted/.test(await s.text("[data-testid=plan-edits]").catch(() => "")), "switch recorded");
  const table = await s.text("[data-testid=plan-table]");
  // Doses read in mL and mg ("5 mL (10 mg)"), never "of 2 mg/mL" beside the 20 mg/mL concentrate.
  assert.match(table, /(^|[^.\d])5 mL \(10 mg\)/, "the concentrate became 5 mL of 10 mg in 5 mL");
  assert.doesNotMatch(table, /2 mg\/mL/);
  assert.doesNotMatch(table, /0\.5 mL/);
  assert.equal(await s.exists("[data-testid=switch-offer-1]"), false, "no switch offered once accepted");
  // Step 1 still totals the regimen as entered.
  const first = await s.execute("return document.querySelectorAll('[data-testid=plan-step]')[0].textContent");
  assert.match(first, /130 mg/);
  await scrollTo("[data-testid=plan-edits]");
  await s.screenshot("switch-accepted");
  await axeClean("plan after the switch was accepted");

  // Which goes first is the clinician's choice: the long-acting MST by default (the
  // reference rule, with its source); the solution can be put first, and back.
  const order = async () => (await s.findAll("[data-testid=order-item]")).length;
  assert.equal(await order(), 2);
  assert.match(await s.text("[data-testid=order-source]"), /Mayo Clinic/);
  assert.match(await s.text("[data-testid=plan-order] li:first-child"), /slow-release tablets/);
  await s.press("[data-testid=reduce-first-1]");
  await waitFor(async () => /Set by the clinician/.test(await s.text("[data-testid=order-source]")), "clinician's order");
  assert.match(await s.text("[data-testid=plan-order] li:first-child"), /oral solution/);
  // Step 2 now reduces the solution and leaves the MST as it was.
  const second = await s.execute("return document.querySelectorAll('[data-testid=plan-step]')[1].textContent");
  assert.match(second, /evening: 2 × 30 mg/);
  assert.match(second, /(^|[^.\d])4 mL \(8 mg\)/);
  await scrollTo("[data-testid=plan-order]");
  await s.screenshot("order-chosen");
  await axeClean("plan with the clinician's reduction order");
  await s.press("[data-testid=usual-order]");
  await waitFor(async () => /^Source: Mayo Clinic/.test(await s.text("[data-testid=order-source]")), "usual order back");

  // Saved with the switch; the leaflet names the morning and the evening doses.
  await s.press("[data-testid=save-review]");
  await waitFor(async () => /version 1/.test(await s.text("[data-testid=saved-status]")), "saved");
  await s.press("[data-testid=print-leaflet]");
  await waitFor(async () => /Leaflet saved/.test(await s.text("[data-testid=output-status]")), "leaflet written");
  const files = readdirSync(saveDir).filter((f) => f.endsWith(".pdf"));
  assert.equal(files.length, 1, `one PDF in ${saveDir}: ${files}`);
  const text = execFileSync("pdftotext", ["-layout", path.join(saveDir, files[0]), "-"], { encoding: "utf8" });
  assert.match(text, /Sam Switch/);
  assert.match(text, /Morning/);
  assert.match(text, /Evening/);
  assert.match(text, /5 mL/);
  assert.doesNotMatch(text, /0\.5 mL/, "the leaflet follows the accepted switch");
});

test("a custom rate faster than a rapid taper asks for a reason beside its field, and keeps it", async () => {
  await scrollTo("[data-testid=make-plan]");
  await s.tick("[data-testid=preset-custom]");
  await waitFor(() => s.exists("#taper-percent"), "custom rate fields");
  await s.clear("#taper-percent");
  await s.type("#taper-percent", "50");
  await s.clear("#taper-interval");
  await s.type("#taper-interval", "7");
  await s.press("[data-testid=make-plan]");
  await waitFor(() => s.exists("#taper-reason-error"), "reason asked for beside its field");
  assert.match(await s.text("#taper-reason-error"), /rapid taper/);
  assert.match(await s.text("[data-testid=error-summary]"), /reason/i);
  // The plan still on screen is the last good one, and says so.
  assert.match(await s.text("[data-testid=plan-stale]"), /last one that could be made/);
  await scrollTo("#taper-reason");
  await s.screenshot("taper-reason-required");
  await axeClean("custom rate without the reason it needs");

  await s.type("#taper-reason", "Opioids started 3 weeks ago after surgery; pain has resolved");
  await s.press("[data-testid=make-plan]");
  await waitFor(() => s.exists("[data-testid=plan-reason]"), "plan with the reason");
  assert.match(await s.text("[data-testid=plan-reason]"), /after surgery/);
  assert.equal(await s.exists("#taper-reason-error"), false);
  assert.equal(await s.exists("[data-testid=plan-stale]"), false);
  assert.match(await s.text("[data-testid=plan-warnings]"), /Outside guidance/);
  await scrollTo("[data-testid=plan-reason]");
  await s.screenshot("taper-reason-kept");
  await axeClean("plan with a reason for a fast rate");
});

test("a plan that reduces nothing (MXL 30 mg once a day, kept with a question) prints no leaflet, and says why", async () => {
  await s.press("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=add-patient]"), "patients");
  await s.press("[data-testid=add-patient]");
  await waitFor(() => s.exists("#patient-name"), "patient form");
  await s.type("#patient-name", "Pat Held");
  await s.press("[data-testid=patient-save]");
  await waitFor(() => s.exists("[data-testid=start-consultation]"), "patient added");
  await s.press("[data-testid=start-consultation]");
  await waitFor(() => s.exists("[data-testid=product-search]"), "consultation");
  await s.type("[data-testid=product-search]", "MXL 30");
  await waitFor(async () => (await s.findAll("[role=option]")).length === 1, "one MXL 30 result");
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(async () => (await total()) === "30 mg", "30 mg a day");
  await s.tick("[data-testid=preset-standard]");
  await s.press("[data-testid=make-plan]");
  await waitFor(() => s.exists("[data-testid=held-0]"), "kept at its dose with a question");
  assert.ok(await s.exists("[data-testid=switch-offer-0]"), "MST 15 mg twice a day offered");
  assert.equal((await s.findAll("[data-testid=plan-step]")).length, 1, "step 1 only: the current dose");

  await s.press("[data-testid=save-review]");
  await waitFor(async () => /version 1/.test(await s.text("[data-testid=saved-status]")), "saved");
  const before = readdirSync(saveDir).length;
  await s.press("[data-testid=print-leaflet]");
  await waitFor(() => s.exists("[data-testid=output-error]"), "print refused");
  assert.match(await s.text("[data-testid=output-error]"), /nothing in this plan is reduced/);
  assert.equal(readdirSync(saveDir).length, before, "no leaflet written");
  await scrollTo("[data-testid=output-error]");
  await s.screenshot("leaflet-nothing-reduced");
  await axeClean("a plan that reduces nothing, its leaflet refused");
});

test("MST 30 mg morning and MST 60 mg evening entered as two items plan as one line; co-codamol offers codeine with separate paracetamol, taken only when accepted", async () => {
  await s.press("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=add-patient]"), "patients");
  await s.press("[data-testid=add-patient]");
  await waitFor(() => s.exists("#patient-name"), "patient form");
  await s.type("#patient-name", "Jo Joined");
  await s.press("[data-testid=patient-save]");
  await waitFor(() => s.exists("[data-testid=start-consultation]"), "patient added");
  await s.press("[data-testid=start-consultation]");
  await waitFor(() => s.exists("[data-testid=product-search]"), "consultation");
  const items = async () => (await s.findAll("[data-testid=regimen-item]")).length;
  // Empties a field as a person would (a WebDriver clear alone sends no input event).
  const blank = async (css) => {
    await s.clear(css);
    await s.type(css, "1" + KEY.backspace);
  };
  const add = async (query, label) => {
    await s.clear("[data-testid=product-search]");
    await s.type("[data-testid=product-search]", query);
    await waitFor(async () => (await s.findAll("[role=option]")).length >= 1, `a result for ${query}`);
    assert.match(await s.text("#product-option-0"), label);
    const before = await items();
    await s.type("[data-testid=product-search]", KEY.enter);
    await waitFor(async () => (await items()) === before + 1, `${query} added`);
  };

  // MST 30 mg in the morning only, and MST 60 mg in the evening only: two entries.
  await add("MST 30", /30 mg/);
  await s.tick("[data-testid=item-0-by-time]");
  await waitFor(() => s.exists("[data-testid=item-0-time-evening]"), "per-time fields");
  await blank("[data-testid=item-0-time-evening]");
  await waitFor(async () => (await total()) === "30 mg", "MST 30 mg in the morning");
  await add("MST 60", /60 mg/);
  await s.tick("[data-testid=item-1-by-time]");
  await waitFor(() => s.exists("[data-testid=item-1-time-morning]"), "per-time fields");
  await blank("[data-testid=item-1-time-morning]");
  await waitFor(async () => (await total()) === "90 mg", "MST 60 mg in the evening: 90 mg a day");
  // Co-codamol 30/500, two four times a day: codeine 240 mg = 24 mg OME.
  await add("co-codamol 30", /Co-codamol .*30\/500 mg/);
  await s.clear("[data-testid=item-2-units_per_dose]");
  await s.type("[data-testid=item-2-units_per_dose]", "2");
  await s.clear("[data-testid=item-2-doses_per_day]");
  await s.type("[data-testid=item-2-doses_per_day]", "4");
  await waitFor(async () => (await total()) === "114 mg", "total 114 mg (90 + 24)");

  await s.tick("[data-testid=preset-standard]");
  await s.press("[data-testid=make-plan]");
  await waitFor(() => s.exists("[data-testid=plan-choices]"), "a switch offered as a choice");
  // One line: nothing kept at its dose, and the plan says the two entries are one item.
  assert.equal(await s.exists("[data-testid=plan-held]"), false, "nothing held");
  assert.match(await s.text("[data-testid=plan-warnings]"), /planned as one item/);
  const first = await s.execute("return document.querySelectorAll('[data-testid=plan-step]')[0].textContent");
  // Step 1 is the regimen as taken: the evening dose is the patient's own 60 mg tablet.
  assert.match(first, /morning: 1 × 30 mg/);
  assert.match(first, /evening: 1 × 60 mg/);
  assert.match(first, /114 mg/);
  // The co-codamol (now the second item) is reduced as it is; codeine + paracetamol is offered.
  assert.match(await s.text("[data-testid=choice-1]"), /never made on its own/);
  assert.match(await s.text("[data-testid=switch-offer-1] [data-testid=switch-becomes]"), /paracetamol 1000 mg a dose/);
  assert.match(await s.text("[data-testid=switch-offer-1] [data-testid=switch-source]"), /NHS Highland/);
  assert.match(await s.text("[data-testid=plan-table]"), /30\/500/);
  await s.execute("document.querySelector('[data-testid=plan-choices]').scrollIntoView()");
  await s.screenshot("joined-line-and-codeine-choice");
  await axeClean("two entries planned as one line, a finer-steps switch offered");

  await s.press("[data-testid=accept-switch-1]");
  await waitFor(async () => /Switch accepted/.test(await s.text("[data-testid=plan-edits]").catch(() => "")), "switch recorded");
  assert.match(await s.text("[data-testid=plan-edits]"), /paracetamol 1000 mg a dose/);
  const table = await s.text("[data-testid=plan-table]");
  assert.doesNotMatch(table, /30\/500/, "no co-codamol once the switch is accepted");
  assert.match(table, /codeine/i);
  assert.equal(await s.exists("[data-testid=plan-choices]"), false, "no choice once accepted");
  await s.execute("document.querySelector('[data-testid=plan-edits]').scrollIntoView()");
  await s.screenshot("codeine-choice-accepted");
  await axeClean("plan after the codeine switch was accepted");
});
