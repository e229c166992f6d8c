// End-to-end: the core, never the UI, writes the clinical record. A store is
// prepared with the CLI (settings, a patient); in the app a dose is changed and
// Save pressed at once, and the stored total is the new regimen's; a bad dose
// is refused with its field error and saves nothing; History shows what the
// core computed; a printed leaflet's hash matches a re-render of its stored
// version (checked with `stepdown review reprint`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { KEY, Session, cliJson, waitFor, assertAxeClean } from "./webdriver.mjs";

let s;
const dir = mkdtempSync(path.join(tmpdir(), "stepdown-record-"));
const db = path.join(dir, "stepdown.db");
const saveDir = mkdtempSync(path.join(tmpdir(), "stepdown-record-leaflets-"));
let patientId;

before(async () => {
  cliJson(["settings", "set", "--db", db, "--practice-name", "Riverside Surgery", "--practice-phone", "01632 960 123", "--reviewer-name", "R. Ecord"]);
  patientId = cliJson(["patient", "add", "--db", db, "--name", "Robin Record", "--nhs-number", "943 476 5919"]).id;
  s = await Session.start({ db, args: ["--save-dir", saveDir] });
});

after(async () => {
  if (s) await s.end();
});

const axeClean = (name) => assertAxeClean(s, name);

const history = () => cliJson(["review", "history", "--db", db, "--patient", String(patientId)]);

test("a dose changed and Save pressed at once stores the new regimen's total", async () => {
  await waitFor(async () => (await s.findAll("[data-testid=patient-row]")).length === 1, "the CLI's patient listed");
  await s.click("[data-testid=start-consultation]");
  await waitFor(async () => /Robin Record/.test(await s.text("[data-testid=consultation-patient]")), "patient banner");
  await s.type("[data-testid=product-search]", "MST 60");
  await waitFor(async () => (await s.findAll("[role=option]")).length === 1, "MST 60");
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "120 mg", "120 mg at 2 doses a day");
  // Change the doses a day and save in the same breath, before the total has caught up.
  await s.clear("[data-testid=item-0-doses_per_day]");
  await s.type("[data-testid=item-0-doses_per_day]", "4");
  await s.click("[data-testid=save-review]");
  await waitFor(async () => /version 1/.test(await s.text("[data-testid=saved-status]")), "saved");
  const saved = history();
  assert.equal(saved.length, 1);
  assert.equal(saved[0].total_ome_mg_per_day, 240, "the stored total is the regimen's as saved, not the one on screen before");
  const stored = cliJson(["review", "show", "--db", db, "--review", String(saved[0].review_id)]);
  assert.equal(stored.assessment.ome.total_ome_mg_per_day, 240);
  assert.equal(stored.items[0].doses_per_day, 4, "beside the regimen it was computed from");
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "240 mg", "the screen shows what was stored");
});

test("a bad dose typed, then Save, is refused with the field error and saves nothing", async () => {
  await s.clear("[data-testid=item-0-doses_per_day]");
  await s.type("[data-testid=item-0-doses_per_day]", "-2");
  await s.click("[data-testid=save-review]");
  await waitFor(() => s.exists("[data-testid=save-error]"), "save refused");
  const itemText = await s.text("[data-testid=regimen-item]");
  assert.match(itemText, /doses|greater than 0|positive|at least/i, "the problem is named beside the item");
  // The summary beside the Save button names the field and links to it.
  assert.match(await s.text("[data-testid=save-error-list]"), /doses per day/i);
  await s.click("[data-testid=save-error-list] a");
  assert.equal(await s.execute("return document.activeElement.dataset.testid"), "item-0-doses_per_day", "the link moves focus to the field");
  await s.screenshot("record-save-refused");
  await axeClean("consultation with a refused save");
  const after = history();
  assert.equal(after.length, 1);
  assert.equal(after[0].version_count, 1, "no version was added");
  assert.equal(after[0].total_ome_mg_per_day, 240);
  // Put it right: the entry was kept, so only the field needs changing.
  await s.clear("[data-testid=item-0-doses_per_day]");
  await s.type("[data-testid=item-0-doses_per_day]", "2");
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "120 mg", "120 mg again");
});

test("a printed leaflet's hash matches a re-render of its stored version, and History shows the core's figures", async () => {
  await s.tick("[data-testid=preset-standard]");
  await s.press("[data-testid=make-plan]");
  await waitFor(async () => (await s.findAll("[data-testid=plan-step]")).length > 3, "plan");
  await s.press("[data-testid=print-leaflet]");
  await waitFor(async () => /Leaflet saved/.test(await s.text("[data-testid=output-status]")), "leaflet written");
  const versions = history();
  assert.equal(versions[0].version, 2, "printing saved the changed entry first, as a new version");
  assert.equal(versions[0].total_ome_mg_per_day, 120);
  const reviewId = String(versions[0].review_id);
  const prints = cliJson(["review", "history", "--db", db, "--review", reviewId]).leaflet_prints;
  assert.equal(prints.length, 1);
  assert.equal(prints[0].version, 2, "the print is recorded against the version it was rendered from");
  const files = readdirSync(saveDir).filter((f) => f.endsWith(".pdf"));
  assert.equal(files.length, 1);
  const onDisk = createHash("sha256").update(readFileSync(path.join(saveDir, files[0]))).digest("hex");
  assert.equal(onDisk, prints[0].pdf_sha256, "the file written is the one recorded");
  const check = cliJson(["review", "reprint", "--db", db, "--print-id", String(prints[0].id)]);
  assert.equal(check.matches, true);
  assert.equal(check.sha256, onDisk);

  await s.press("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=show-history]"), "history button");
  await s.press("[data-testid=show-history]");
  await waitFor(async () => (await s.findAll("[data-testid=history-row]")).length >= 1, "history rows");
  const rows = await s.findAll("[data-testid=history-row]");
  const texts = await Promise.all(rows.map((r) => s.cmd("GET", `/element/${r}/text`)));
  assert.ok(texts.some((t) => /120 mg/.test(t)), `version 2's total: ${texts}`);
  assert.ok(texts.some((t) => /240 mg/.test(t)) || texts.length === 1, `version 1's total: ${texts}`);
  assert.ok(!texts.some((t) => /\b(?!120|240)\d+ mg/.test(t) && !/120 mg|240 mg/.test(t)), `only computed totals: ${texts}`);
  await s.screenshot("record-history");
  await axeClean("history of a recorded review");
});
