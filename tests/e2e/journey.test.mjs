// End-to-end, keyboard only: from an empty store to a printed leaflet and
// back again. Add a patient, add two regimen items, see the total and the
// high-dose flag, choose a preset, edit a step, save, print the leaflet to a
// file (its text checked with pdftotext), copy the summary, and reopen the
// review from history.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { KEY, Session, waitFor, assertAxeClean } from "./webdriver.mjs";

let s;
const saveDir = mkdtempSync(path.join(tmpdir(), "stepdown-leaflets-"));

before(async () => {
  s = await Session.start({ args: ["--save-dir", saveDir] });
});

after(async () => {
  if (s) await s.end();
});

const axeClean = (name) => assertAxeClean(s, name);

test("a new user goes from an empty store to a printed leaflet with the keyboard alone", async () => {
  // Settings first: the leaflet must say who to contact.
  await s.press("[data-testid=nav-settings]");
  await waitFor(() => s.exists("#settings-practice-name"), "settings");
  await s.type("#settings-practice-name", "Riverside Surgery");
  await s.type("#settings-practice-phone", "01632 960 123");
  await s.type("#settings-reviewer", "P. Harmacist");
  await s.press("[data-testid=settings-save]");
  await waitFor(() => s.exists("[data-testid=settings-saved]"), "settings saved");

  // Add a patient.
  await s.press("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=add-patient]"), "patients");
  await s.press("[data-testid=add-patient]");
  await waitFor(() => s.exists("#patient-name"), "patient form");
  await s.type("#patient-name", "Sam Journey");
  await s.type("[data-testid=patient-nhs]", "9434765919");
  await s.press("[data-testid=patient-save]");
  await waitFor(() => s.exists("[data-testid=start-consultation]"), "patient added");
  await s.press("[data-testid=start-consultation]");

  // Two regimen items.
  await waitFor(() => s.exists("[data-testid=product-search]"), "consultation");
  await s.type("[data-testid=product-search]", "MST 60");
  await waitFor(async () => (await s.findAll("[role=option]")).length === 1, "MST 60");
  await s.type("[data-testid=product-search]", KEY.enter);
  await s.type("[data-testid=product-search]", "oxycodone modified 10");
  await waitFor(async () => (await s.findAll("[role=option]")).length >= 1, "oxycodone MR 10");
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "150 mg", "total 150 mg");
  await waitFor(() => s.exists("[data-testid=flag-high-dose]"), "high-dose flag");

  // A preset, a plan, and one edit.
  await s.tick("[data-testid=preset-standard]");
  await s.press("[data-testid=make-plan]");
  await waitFor(async () => (await s.findAll("[data-testid=plan-step]")).length > 3, "plan");
  await s.press("[data-testid=add-pause-2]");
  await s.press("[data-testid=edit-apply]");
  await waitFor(async () => /pause/i.test(await s.text("[data-testid=plan-edits]")), "pause added");

  // Save, then print (standard print) to a file.
  await s.press("[data-testid=save-review]");
  await waitFor(async () => /version 1/.test(await s.text("[data-testid=saved-status]")), "saved");
  await s.press("[data-testid=print-leaflet]");
  await waitFor(async () => /Leaflet saved/.test(await s.text("[data-testid=output-status]")), "leaflet written");
  const files = readdirSync(saveDir).filter((f) => f.endsWith(".pdf"));
  assert.equal(files.length, 1, `one PDF in ${saveDir}: ${files}`);
  const text = execFileSync("pdftotext", ["-layout", path.join(saveDir, files[0]), "-"], { encoding: "utf8" });
  assert.match(text, /Sam Journey/);
  assert.match(text, /Riverside Surgery/);
  assert.match(text, /01632 960 123/);
  assert.match(text, /morphine/i);
  assert.match(text, /Page 1 of \d+/);
  assert.doesNotMatch(text, /\b(bd|MR|OME|prn)\b/, "no jargon in the patient's leaflet");
  await s.screenshot("journey-printed");

  // The clinician summary, recorded as copied.
  await s.press("[data-testid=copy-summary]");
  await waitFor(() => s.exists("[data-testid=summary-text]"), "summary shown");
  const summary = await s.execute("return document.querySelector('[data-testid=summary-text]').value");
  assert.match(summary, /150/);
  assert.match(summary, /P\. Harmacist/);
  await axeClean("consultation with plan and outputs");

  // Reopen from history.
  await s.press("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=show-history]"), "history button");
  await s.press("[data-testid=show-history]");
  await waitFor(async () => (await s.findAll("[data-testid=history-row]")).length === 1, "history row");
  assert.match(await s.text("[data-testid=history-row]"), /150 mg/);
  await s.press("[data-testid=history-row] button");
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "150 mg", "reopened");
  await waitFor(async () => (await s.findAll("[data-testid=plan-step]")).length > 3, "plan reopened with the review");
  assert.match(await s.text("[data-testid=plan-edits]"), /pause/i, "the clinician's edit came back too");
  assert.ok(existsSync(path.join(saveDir, files[0])));
});

test("a leaflet printed for a second patient carries that patient's name and plan, not the first's", async () => {
  await s.press("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=add-patient]"), "patients");
  await s.press("[data-testid=add-patient]");
  await waitFor(() => s.exists("#patient-name"), "patient form");
  await s.type("#patient-name", "Pat Second");
  await s.press("[data-testid=patient-save]");
  await waitFor(async () => /Added Pat Second/.test(await s.text("[data-testid=patients-notice]")), "second patient");
  await s.press("[data-testid=start-consultation]");
  await waitFor(async () => /Pat Second/.test(await s.text("[data-testid=consultation-patient]")), "consultation for Pat");
  await s.type("[data-testid=product-search]", "fentanyl 25");
  await waitFor(async () => (await s.findAll("[role=option]")).length >= 1, "fentanyl 25");
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "60 mg", "60 mg");
  await s.press("[data-testid=make-plan]");
  await waitFor(async () => (await s.findAll("[data-testid=plan-step]")).length > 1, "plan");
  await s.tick("[data-testid=print-large]");
  await s.press("[data-testid=print-leaflet]");
  await waitFor(async () => /Leaflet saved/.test(await s.text("[data-testid=output-status]")), "second leaflet");
  const pdf = readdirSync(saveDir).find((f) => f.includes("pat-second") && f.endsWith("-large-print.pdf"));
  assert.ok(pdf, `a large-print leaflet for Pat Second in ${readdirSync(saveDir)}`);
  const text = execFileSync("pdftotext", ["-layout", path.join(saveDir, pdf), "-"], { encoding: "utf8" });
  assert.match(text, /Pat Second/);
  assert.doesNotMatch(text, /Sam Journey/);
  assert.match(text, /patch/i);
  assert.doesNotMatch(text, /morphine/i, "the first patient's medicine is not in this leaflet");
});
