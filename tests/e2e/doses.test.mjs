// End-to-end, keyboard only: an asymmetric regimen (MST 30 mg: one tablet in
// the morning, two in the evening) entered as ONE item with a dose per time of
// day; the OME working shows each time; the plan keeps both times and reduces
// the larger (evening) dose first; the printed leaflet names the morning and
// evening doses. Axe-checked with the per-time fields showing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { KEY, Session, waitFor, assertAxeClean, practiceAndNewPatient } from "./webdriver.mjs";

let s;
const saveDir = mkdtempSync(path.join(tmpdir(), "stepdown-doses-"));

before(async () => {
  s = await Session.start({ args: ["--save-dir", saveDir] });
});

after(async () => {
  if (s) await s.end();
});

const axeClean = (name) => assertAxeClean(s, name);

test("MST 30 mg morning + 60 mg evening is one item: OME 90 mg with the working, plan and leaflet keep both times", async () => {
  await practiceAndNewPatient(s, "Alex Uneven", "9434765919");
  await s.type("[data-testid=product-search]", "MST 30");
  await waitFor(async () => (await s.findAll("[role=option]")).length === 1, "one MST 30 result");
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "60 mg", "60 mg as prefilled (1 twice a day)");

  // Doses by time of day: the usual times come prefilled from "1 twice a day".
  await s.tick("[data-testid=item-0-by-time]");
  await waitFor(() => s.exists("[data-testid=item-0-time-evening]"), "per-time fields");
  assert.equal(await s.exists("[data-testid=item-0-units_per_dose]"), false, "per-dose field replaced");
  assert.equal(await s.execute("return document.querySelector('[data-testid=item-0-time-morning]').value"), "1");
  const label = await s.execute("return document.querySelector('label[for=' + JSON.stringify(document.querySelector('[data-testid=item-0-time-evening]').id) + ']').textContent");
  assert.match(label, /Evening/);
  await s.clear("[data-testid=item-0-time-evening]");
  await s.type("[data-testid=item-0-time-evening]", "2");
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "90 mg", "total 90 mg");
  assert.equal(
    await s.text("[data-testid=item-0-working]"),
    "30 mg morning + 60 mg (2 × 30 mg) evening = 90 mg × 1 = 90 mg OME",
  );
  assert.equal((await s.findAll("[data-testid=regimen-item]")).length, 1, "one item, not two");

  // A slip at one time is named beside that time, and what was typed is kept.
  await s.clear("[data-testid=item-0-time-evening]");
  await s.type("[data-testid=item-0-time-evening]", "two");
  await waitFor(() => s.exists("[data-testid=error-summary]"), "error summary");
  assert.match(await s.text("[data-testid=regimen-item]"), /Enter a number/);
  await s.screenshot("doses-by-time-error");
  await axeClean("per-time entry with an error");
  await s.clear("[data-testid=item-0-time-evening]");
  await s.type("[data-testid=item-0-time-evening]", "2");
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "90 mg", "back to 90 mg");

  // The plan keeps morning and evening and takes the evening (larger) dose down first.
  await s.tick("[data-testid=preset-standard]");
  await s.press("[data-testid=make-plan]");
  await waitFor(async () => (await s.findAll("[data-testid=plan-step]")).length > 3, "plan");
  const table = await s.text("[data-testid=plan-table]");
  assert.match(table, /morning/i);
  assert.match(table, /evening/i);
  await s.execute("document.querySelector('[data-testid=plan-table]').scrollIntoView()");
  await s.screenshot("doses-by-time-plan");
  await axeClean("plan of an asymmetric regimen");

  // Save and print: the leaflet names the morning and the evening doses.
  await s.press("[data-testid=save-review]");
  await waitFor(async () => /version 1/.test(await s.text("[data-testid=saved-status]")), "saved");
  await s.press("[data-testid=print-leaflet]");
  await waitFor(async () => /Leaflet saved/.test(await s.text("[data-testid=output-status]")), "leaflet written");
  const files = readdirSync(saveDir).filter((f) => f.endsWith(".pdf"));
  assert.equal(files.length, 1, `one PDF in ${saveDir}: ${files}`);
  const text = execFileSync("pdftotext", ["-layout", path.join(saveDir, files[0]), "-"], { encoding: "utf8" });
  assert.match(text, /Alex Uneven/);
  assert.match(text, /Morning/);
  assert.match(text, /Evening/);
  assert.doesNotMatch(text, /\b(bd|MR|OME|prn)\b/, "no jargon in the patient's leaflet");

  // The summary carries the per-time working.
  await s.press("[data-testid=copy-summary]");
  await waitFor(() => s.exists("[data-testid=summary-text]"), "summary shown");
  const summary = await s.execute("return document.querySelector('[data-testid=summary-text]').value");
  assert.match(summary, /90/);
  assert.match(summary, /morning/i);
  assert.match(summary, /evening/i);
  await axeClean("consultation with outputs");
});
