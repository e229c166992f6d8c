// End-to-end: importing a small prescribing extract in the Case-finding
// screen, the worklist ranked by risk, the practice figures, and a
// consultation started from the worklist with the regimen filled in.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Session, seriousViolations, waitFor } from "./webdriver.mjs";

const EXTRACT = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/extract.csv");
const EXCLUSIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/exclusions.csv");
let s;

before(async () => {
  // The extract's issues are in October and November 2026.
  // The open dialog's test hook: the files the "dialog" returns (debug builds only).
  s = await Session.start({ args: ["--today", "2026-11-24", "--open-extract", EXTRACT, "--open-exclusions", EXCLUSIONS] });
});

after(async () => {
  if (s) await s.end();
});

test("an extract imports, ranks patients by risk and names every row it could not read", async () => {
  await s.click("[data-testid=nav-case-finding]");
  await waitFor(() => s.exists("[data-testid=extract-file]"), "case-finding screen");
  // The extract is read by the shell from the path chosen in the open dialog,
  // never sent over IPC: the page only ever sees the file's name.
  await s.click("[data-testid=extract-file]");
  await waitFor(async () => (await s.text("[data-testid=extract-chosen]")) === "Chosen: extract.csv", "extract chosen");
  // P003 is on the palliative-care register: left off the list, counted apart.
  await s.click("[data-testid=exclusions-file]");
  await waitFor(async () => (await s.text("[data-testid=exclusions-chosen]")) === "Chosen: exclusions.csv", "exclusions chosen");
  await s.screenshot("case-finding-files-chosen");
  await s.type("[data-testid=list-size]", "5000");
  await s.click("[data-testid=import-extract]");
  await waitFor(() => s.exists("[data-testid=import-report]"), "import report", 30000);
  const report = await s.text("[data-testid=import-report]");
  assert.match(report, /not understood/);
  assert.match(report, /from extract\.csv/, "the report names the file the shell read");
  // Each choice is used for one import.
  assert.equal(await s.text("[data-testid=extract-chosen]"), "No file chosen.");
  await waitFor(async () => (await s.findAll("[data-testid=worklist-row]")).length >= 3, "worklist rows");
  const first = await s.text("[data-testid=worklist-row]");
  assert.match(first, /P001/, "the high-dose patient with a benzodiazepine comes first");
  assert.match(first, /120 mg/);
  // Both figures side by side: 56 tablets of 60 mg every 28 days is 120 mg a day from supply too.
  assert.match(first, /supply: 120 mg/);
  assert.match(await s.text("[data-testid=worklist-excluded]"), /1 palliative care register/);
  assert.doesNotMatch(await s.text("[data-testid=worklist-table]"), /P003/);
  assert.ok(await s.exists("[data-testid=figures-table]"), "practice figures shown");
  await s.screenshot("case-finding");
  await s.execute("document.querySelector('[data-testid=worklist-table]').scrollIntoView()");
  await s.screenshot("case-finding-worklist");
  // The practice-figures chart carries a legend, axis values and each bar's count.
  assert.ok(await s.exists("[data-testid=figures-legend]"), "the chart has a legend");
  assert.match(await s.text("[data-testid=figures-chart]"), /People prescribed opioids/);
  await s.execute("document.querySelector('[data-testid=figures-chart]').scrollIntoView()");
  await s.screenshot("case-finding-figures-chart");
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
});

test("a worklist patient opens as a consultation with their regimen filled in", async () => {
  await s.click("[data-testid=worklist-consult]");
  await waitFor(async () => (await s.findAll("[data-testid=regimen-item]")).length >= 1, "regimen prefilled");
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "120 mg", "total 120 mg");
  await waitFor(() => s.exists("[data-testid=flag-benzodiazepine]"), "benzodiazepine flag from the extract");
  // The worklist's two figures stay beside the working: from instructions and from supply.
  await waitFor(() => s.exists("[data-testid=extract-figures]"), "the extract's figures");
  assert.equal(await s.text("[data-testid=extract-instruction]"), "120 mg");
  assert.equal(await s.text("[data-testid=extract-supply]"), "120 mg");
  assert.ok(!(await s.exists("[data-testid=extract-differ]")), "the figures agree");
  await s.execute("document.querySelector('[data-testid=extract-figures]').scrollIntoView()");
  await s.screenshot("consultation-from-extract");
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
});

test("audit markers show on the worklist and filter it", async () => {
  await s.click("[data-testid=nav-case-finding]");
  await waitFor(async () => (await s.findAll("[data-testid=worklist-row]")).length >= 3, "worklist rows");
  const markers = await s.findAll("[data-testid=worklist-marker]");
  assert.ok(markers.length >= 2, "markers shown");
  await s.click("[data-testid=filter-marker-combination]");
  await waitFor(async () => (await s.findAll("[data-testid=worklist-row]")).length === 1, "one combination-product patient");
  assert.match(await s.text("[data-testid=worklist-row]"), /P002/);
  assert.match(await s.text("[data-testid=worklist-row]"), /Combination product/);
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
  await s.click("[data-testid=filter-marker-combination]");
});

test("patients without a recent Stepdown review are marked and can be listed", async () => {
  // No consultation has been saved for anyone in this extract: each row carries the marker.
  await waitFor(async () => (await s.findAll("[data-testid=worklist-row]")).length >= 3, "worklist rows");
  const rows = (await s.findAll("[data-testid=worklist-row]")).length;
  await s.click("[data-testid=filter-marker-no-recent-review]");
  await waitFor(async () => (await s.findAll("[data-testid=worklist-row]")).length === rows, "every row kept");
  assert.match(await s.text("[data-testid=worklist-row]"), /No recent Stepdown review/);
  await s.execute("document.querySelector('[data-testid=worklist-table]').scrollIntoView()");
  await s.screenshot("case-finding-no-recent-review");
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
  await s.click("[data-testid=filter-marker-no-recent-review]");
});

// Issue 16: the CSV of Stepdown's EMIS Web list report (the generated sample
// in tests/cases: a title line above its headings, EMIS-style dates) imports
// with the "EMIS Web" export format, and is refused without it.
const EMIS = path.join(path.dirname(fileURLToPath(import.meta.url)), "../cases/extract_emis_web.csv");

test("an EMIS Web list report imports with its export format, and not without", async () => {
  await s.end();
  s = await Session.start({ args: ["--today", "2026-11-24", "--open-extract", EMIS] });
  await s.click("[data-testid=nav-case-finding]");
  await waitFor(() => s.exists("[data-testid=export-format] option[value=emis-web]"), "the EMIS Web format offered");
  // Without the format, the headings are not Stepdown's column names: nothing is imported.
  await s.click("[data-testid=extract-file]");
  await waitFor(async () => (await s.text("[data-testid=extract-chosen]")) === "Chosen: extract_emis_web.csv", "extract chosen");
  await s.click("[data-testid=import-extract]");
  await waitFor(() => s.exists("[data-testid=import-error]"), "import refused", 30000);
  assert.match(await s.text("[data-testid=import-error]"), /line 3 \(header\): missing columns patient_id, dose/);
  // With it, every row is read; the title line above the headings is named in the notes.
  await s.click("[data-testid=export-format] option[value=emis-web]");
  await waitFor(async () => /Stepdown's recipe/.test(await s.text("[data-testid=export-format-hint]")), "the format's hint");
  await s.click("[data-testid=extract-file]");
  await waitFor(async () => (await s.text("[data-testid=extract-chosen]")) === "Chosen: extract_emis_web.csv", "extract chosen again");
  await s.screenshot("case-finding-emis-format");
  await s.click("[data-testid=import-extract]");
  await waitFor(() => s.exists("[data-testid=import-report]"), "import report", 30000);
  const report = await s.text("[data-testid=import-report]");
  assert.match(report, /Imported 399 of 400 rows from extract_emis_web\.csv/);
  assert.match(report, /1 not understood/);
  await s.click("[data-testid=import-notes-summary]");
  await waitFor(async () => /Line 1: above the header/.test(await s.text("[data-testid=import-notes]")), "the title line named");
  await waitFor(async () => (await s.findAll("[data-testid=worklist-row]")).length >= 10, "worklist rows");
  await s.execute("document.querySelector('[data-testid=import-report]').scrollIntoView()");
  await s.screenshot("case-finding-emis-imported");
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
});
