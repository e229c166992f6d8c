// End-to-end: the Patients screen on a fresh store, adding a patient with the
// NHS number checked as typed, then a saved review with two versions.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { KEY, Session, seriousViolations, waitFor, assertAxeClean } from "./webdriver.mjs";

let s;

before(async () => {
  s = await Session.start();
});

after(async () => {
  if (s) await s.end();
});

const axeClean = (name) => assertAxeClean(s, name);

test("an empty store offers demo patients, which load as synthetic records", async () => {
  await waitFor(() => s.exists("[data-testid=no-patients]"), "empty-store message");
  await s.screenshot("patients-empty");
  await axeClean("patients (empty)");
  await s.click("[data-testid=load-demo]");
  await waitFor(async () => (await s.findAll("[data-testid=patient-row]")).length > 0, "demo patients listed");
  assert.match(await s.text("[data-testid=patients-notice]"), /demo patients/);
  await s.screenshot("patients-demo");
  await axeClean("patients (demo)");
});

test("adding a patient checks the NHS number as it is typed and keeps entries on error", async () => {
  await s.click("[data-testid=add-patient]");
  await waitFor(() => s.exists("#patient-name"), "patient form");
  await s.type("#patient-name", "Alex Testpatient");
  await s.type("[data-testid=patient-nhs]", "94347");
  await waitFor(async () => /5 of 10 digits/.test(await s.text("[data-testid=nhs-check]")), "partial count");
  await s.type("[data-testid=patient-nhs]", "65918");
  await waitFor(async () => /check digit/i.test(await s.text("[data-testid=nhs-check]")), "check digit message");
  await s.type("[data-testid=patient-nhs]", KEY.backspace + "9");
  await waitFor(async () => /Valid NHS number 943 476 5919/.test(await s.text("[data-testid=nhs-check]")), "valid number");
  // A date of birth in the future is refused, with the message beside the field.
  await s.type("[data-testid=patient-dob-day]", "1");
  await s.type("[data-testid=patient-dob-month]", "1");
  await s.type("[data-testid=patient-dob-year]", "2099");
  await s.click("[data-testid=patient-save]");
  await waitFor(() => s.exists("[data-testid=patient-error-summary]"), "error summary");
  assert.match(await s.text("[data-testid=patient-error-summary]"), /future/i);
  assert.equal(await s.execute("return document.getElementById('patient-name').value"), "Alex Testpatient");
  await s.screenshot("patients-add-error");
  await axeClean("add patient with an error");
  for (const [part, value] of [["day", "14"], ["month", "3"], ["year", "1956"]]) {
    await s.clear(`[data-testid=patient-dob-${part}]`);
    await s.type(`[data-testid=patient-dob-${part}]`, value);
  }
  await s.click("[data-testid=patient-save]");
  await waitFor(async () => /Added Alex Testpatient/.test(await s.text("[data-testid=patients-notice]")), "added notice");
  const rows = await s.findAll("[data-testid=patient-row]");
  assert.equal(rows.length, 1, "the search shows the new patient");
});

test("a consultation for the patient saves as a review, and saving again adds a version", async () => {
  await s.click("[data-testid=start-consultation]");
  await waitFor(async () => /Alex Testpatient/.test(await s.text("[data-testid=consultation-patient]")), "patient banner");
  await s.type("[data-testid=product-search]", "MST 60");
  await waitFor(async () => (await s.findAll("[role=option]")).length === 1, "MST 60");
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "120 mg", "total");
  // No reviewer yet: the store says which field is missing and nothing is lost.
  await s.click("[data-testid=save-review]");
  await waitFor(() => s.exists("[data-testid=reviewer-error]"), "reviewer required, named beside the field");
  assert.equal((await s.findAll("[data-testid=regimen-item]")).length, 1, "the regimen is kept");
  await s.type("[data-testid=review-reviewer]", "P. Harmacist");
  await s.type("[data-testid=review-notes]", "Agreed to start reducing.");
  await s.click("[data-testid=save-review]");
  await waitFor(async () => /version 1/.test(await s.text("[data-testid=saved-status]")), "version 1");
  await s.click("[data-testid=save-review]");
  await waitFor(async () => /version 2/.test(await s.text("[data-testid=saved-status]")), "version 2");
  await s.screenshot("consultation-saved");
  await axeClean("consultation saved");
});

test("the latest review reopens with its regimen, notes and total", async () => {
  await s.click("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=patient-search]"), "patient search");
  await s.clear("[data-testid=patient-search]");
  await s.type("[data-testid=patient-search]", "Testpatient");
  await waitFor(async () => (await s.findAll("[data-testid=patient-row]")).length === 1, "one match");
  await s.click("[data-testid=open-latest]");
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "120 mg", "reopened total");
  assert.equal(await s.execute("return document.querySelector('[data-testid=review-notes]').value"), "Agreed to start reducing.");
  await s.click("[data-testid=save-review]");
  await waitFor(async () => /version 3/.test(await s.text("[data-testid=saved-status]")), "version 3 of the same review");
});

test("history shows the review's OME on a chart and compares two versions side by side", async () => {
  await s.click("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=patient-search]"), "patient search");
  await s.clear("[data-testid=patient-search]");
  await s.type("[data-testid=patient-search]", "Testpatient");
  await waitFor(async () => (await s.findAll("[data-testid=show-history]")).length === 1, "history button");
  await s.click("[data-testid=show-history]");
  await waitFor(async () => (await s.findAll("[data-testid=history-row]")).length === 1, "one review");
  assert.match(await s.text("[data-testid=history-row]"), /120 mg/);
  const title = await s.execute("return document.querySelector('[data-testid=ome-chart] title').textContent");
  assert.match(title, /120 mg/);
  await s.click("[data-testid=compare-versions]");
  await waitFor(async () => (await s.findAll("[data-testid=compare] .nhsuk-card")).length === 2, "two versions side by side");
  assert.match(await s.text("[data-testid=compare]"), /Version 2[\s\S]*Version 3/);
  await s.screenshot("history");
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
});

test("settings: a threshold that is not a number is named; a valid one is saved", async () => {
  await s.click("[data-testid=nav-settings]");
  await waitFor(() => s.exists("#settings-threshold"), "settings form");
  await s.type("#settings-threshold", "lots");
  await s.click("[data-testid=settings-save]");
  await waitFor(() => s.exists("[data-testid=settings-error-summary]"), "settings error");
  assert.match(await s.text("[data-testid=settings-error-summary]"), /Enter a number/);
  await s.clear("#settings-threshold");
  await s.type("#settings-threshold", "120");
  await s.type("#settings-practice-name", "Riverside Surgery");
  await s.click("[data-testid=settings-save]");
  await waitFor(() => s.exists("[data-testid=settings-saved]"), "saved");
  await s.screenshot("settings");
  await axeClean("settings");
});
