// End-to-end (issue 18): a patient reviewed in the app with a plan that began
// four weeks ago; followed up twice today, once on plan (continue) and once at
// a dose different from the plan's (re-plan from it, leaflet printed for the
// new plan); then the Outcomes screen and its CSV exports and one-page report
// agree with `stepdown outcomes` on the same store. axe on every new screen.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CLI, KEY, ROOT, Session, cliJson, waitFor, assertAxeClean, clipboardSet, clipboardText, practiceAndNewPatient } from "./webdriver.mjs";

let s;
const dir = mkdtempSync(path.join(tmpdir(), "stepdown-followup-"));
const db = path.join(dir, "stepdown.db");
const saveDir = mkdtempSync(path.join(tmpdir(), "stepdown-followup-out-"));

// The app's "today" is this computer's local date; the plan began 28 days before it.
const pad = (n) => String(n).padStart(2, "0");
const local = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const now = new Date();
const today = local(now);
const start = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 28);
const next = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 14);

before(async () => {
  s = await Session.start({ db, args: ["--save-dir", saveDir] });
});

after(async () => {
  if (s) await s.end();
});

async function choose(select, value) {
  await s.click(`${select} option[value="${value}"]`);
}

async function typeDate(prefix, d) {
  for (const [part, v] of [["day", d.getDate()], ["month", d.getMonth() + 1], ["year", d.getFullYear()]]) {
    await s.clear(`[data-testid=${prefix}-${part}]`);
    await s.type(`[data-testid=${prefix}-${part}]`, String(v));
  }
}

let reviewId;
let stepTotal;

test("a patient is reviewed in the app with a plan that began four weeks ago", async () => {
  await practiceAndNewPatient(s, "Fran Followup", "943 476 5919");
  await s.type("[data-testid=product-search]", "MST 30");
  await waitFor(async () => (await s.findAll("[role=option]")).length === 1, "MST 30");
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(() => s.exists("[data-testid=item-0-units_per_dose]"), "MST 30 added");
  await s.clear("[data-testid=item-0-units_per_dose]");
  await s.type("[data-testid=item-0-units_per_dose]", "2");
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "120 mg", "120 mg: 2 tablets twice a day");
  await s.tick("[data-testid=preset-standard]");
  await typeDate("taper-start", start);
  await s.press("[data-testid=make-plan]");
  await waitFor(() => s.exists("[data-testid=plan-summary]"), "plan made");
  // The shared decision (NICE NG215), recorded with the review.
  await s.type("[data-testid=shared-goals]", "Play with my grandchildren without feeling drowsy");
  await s.tick("[data-testid=shared-agreement-agreed]");
  await s.type("[data-testid=shared-support]", "Sam Followup (daughter)");
  await s.type("[data-testid=shared-schedule]", "Phone every 2 weeks; seen before each step");
  await assertAxeClean(s, "the consultation with the shared decision");
  await s.press("[data-testid=save-review]");
  await waitFor(async () => /version 1/.test(await s.text("[data-testid=saved-status]")), "saved");
  const patients = cliJson(["patient", "list", "--db", db]);
  const reviews = cliJson(["review", "history", "--db", db, "--patient", String(patients[0].id)]);
  reviewId = reviews[0].review_id;
  const stored = cliJson(["review", "show", "--db", db, "--review", String(reviewId)]);
  assert.equal(stored.plan.start_date, local(start), "the plan began four weeks ago");
  assert.deepEqual(stored.shared_decision, {
    goals: "Play with my grandchildren without feeling drowsy",
    agreement: "agreed",
    support_person: "Sam Followup (daughter)",
    review_schedule: "Phone every 2 weeks; seen before each step",
  });
});

test("the follow-up screen shows today's step and its dose, as the core places it", async () => {
  await s.press("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=show-history]"), "patients");
  await s.press("[data-testid=show-history]");
  await waitFor(() => s.exists("[data-testid=follow-up]"), "history with a follow-up button");
  await s.press("[data-testid=follow-up]");
  await waitFor(() => s.exists("[data-testid=followup-step]"), "follow-up screen");
  const due = cliJson(["followup", "due", "--db", db, "--review", String(reviewId), "--today", today]);
  assert.equal(due.position.place, "on-step");
  stepTotal = due.position.total_ome_mg_per_day;
  assert.equal(await s.text("[data-testid=followup-position-words]"), due.position.words);
  const step = await s.text("[data-testid=followup-step]");
  const stepName = new RegExp(`Step ${due.position.step.step} of ${due.position.step.of_steps}`);
  assert.match(await s.text("[data-testid=followup-position]"), stepName);
  assert.equal((await s.text("[data-testid=followup-position]")).match(new RegExp(stepName.source, "g")).length, 1, "the step is named once, not again as the table's heading");
  assert.doesNotMatch(step, stepName);
  for (const d of due.position.step.items[0].doses) assert.ok(step.includes(d), `the step table shows "${d}"`);
  await s.screenshot("followup-open");
  await assertAxeClean(s, "the follow-up screen");
});

test("follow-up 1: on plan, PEG and SOWS scored, continue", async () => {
  await s.tick("[data-testid=actual-on-plan]");
  for (const [i, v] of [[0, 6], [1, 5], [2, 5]]) await choose(`[data-testid=peg-${i}]`, v);
  for (let i = 0; i < 10; i++) await choose(`[data-testid=sows-${i}]`, i === 6 ? 2 : i % 3 === 0 ? 1 : 0);
  await s.type("[data-testid=followup-goals]", "Walk the dog every day");
  await s.tick("[data-testid=decision-continue]");
  await typeDate("followup-next", next);
  await s.press("[data-testid=followup-save]");
  await waitFor(() => s.exists("[data-testid=followup-saved]"), "saved");
  const saved = await s.text("[data-testid=followup-saved-ome]");
  assert.match(saved, new RegExp(`Taking ${stepTotal} mg OME a day; the plan said ${stepTotal} mg`));
  assert.match(saved, /PEG score 5\.3 out of 10/);
  assert.match(saved, /SOWS\) 5 out of 30/);
  const list = cliJson(["followup", "list", "--db", db, "--review", String(reviewId)]);
  assert.equal(list.length, 1);
  assert.equal(list[0].record.input.decision, "continue");
  assert.equal(list[0].record.current_ome_mg_per_day, stepTotal);
  assert.equal(list[0].record.input.goals, "Walk the dog every day");
  assert.equal(list[0].record.input.next_review, local(next));
  assert.equal((await s.findAll("[data-testid=followup-row]")).length, 1);
  await s.screenshot("followup-continued");
  await assertAxeClean(s, "the follow-up screen after a save");
});

test("follow-up 2: a dose different from the plan, re-planned from it, leaflet printed for the new plan", async () => {
  await s.tick("[data-testid=actual-different-dose]");
  await waitFor(() => s.exists("[data-testid=item-0-doses_per_day]"), "the regimen to change");
  assert.equal(await s.execute("return document.querySelector('[data-testid=item-0-units_per_dose]').value"), "2", "it starts from the reviewed regimen");
  // They take one MST 30 twice a day: 60 mg, not the plan's figure.
  await s.clear("[data-testid=item-0-units_per_dose]");
  await s.type("[data-testid=item-0-units_per_dose]", "1");
  await s.tick("[data-testid=decision-replan]");
  await s.screenshot("followup-replan-entry");
  await assertAxeClean(s, "the follow-up form with a different dose");
  await s.press("[data-testid=followup-save]");
  await waitFor(() => s.exists("[data-testid=followup-replanned]"), "re-planned");
  assert.notEqual(stepTotal, 60, "the dose taken differs from the plan's");
  assert.match(await s.text("[data-testid=followup-saved-ome]"), /Taking 60 mg OME a day/);
  assert.match(await s.text("[data-testid=followup-replanned]"), /version 2/);
  const history = cliJson(["review", "history", "--db", db, "--review", String(reviewId)]);
  assert.equal(history.versions.length, 2, "the earlier plan stays as version 1");
  const v2 = cliJson(["review", "show", "--db", db, "--review", String(reviewId), "--version", "2"]);
  assert.equal(v2.plan.start_date, today, "the new plan starts on the follow-up date");
  assert.equal(v2.plan.ome_start, 60, "from the dose taken now");
  // The screen now places the patient on the new plan.
  await waitFor(async () => /Version 2 of the review/.test(await s.text("[data-testid=followup-position]")), "new version shown");
  await s.press("[data-testid=followup-print-leaflet]");
  await waitFor(async () => (await s.exists("[data-testid=followup-print-status]")) || (await s.exists("[data-testid=followup-print-error]")), "leaflet printed");
  assert.ok(!(await s.exists("[data-testid=followup-print-error]")), await s.execute("return document.querySelector('[data-testid=followup-print-error]')?.textContent ?? ''"));
  const pdfs = readdirSync(saveDir).filter((f) => f.startsWith("stepdown-plan-"));
  assert.equal(pdfs.length, 1);
  const prints = cliJson(["review", "history", "--db", db, "--review", String(reviewId)]).leaflet_prints;
  assert.equal(prints.length, 1);
  assert.equal(prints[0].version, 2, "recorded against the new plan's version");
  const text = execFileSync("pdftotext", [path.join(saveDir, pdfs[0]), "-"], { encoding: "utf8" });
  assert.match(text, /Fran Followup/);
  await s.screenshot("followup-replanned");
});

// Each code line of a coded summary, checked against the SNOMED CT concepts
// table (assets/reference/snomed_concepts.json): id and term as listed there.
const SNOMED = JSON.parse(readFileSync(path.join(ROOT, "assets/reference/snomed_concepts.json"), "utf8")).rows;
function assertCodesFromTable(text) {
  const lines = text.split("\n");
  const codes = lines.slice(1, lines.indexOf(""));
  assert.ok(codes.length > 0, "the coded summary starts with its codes");
  for (const line of codes) {
    const [, id, term] = line.match(/ (\d{6,18}) \|([^|]+)\| /) ?? [];
    assert.ok(id, `a code line carries a SNOMED CT id and term: ${line}`);
    assert.ok(SNOMED.some((r) => r.concept_id === id && r.term === term), `${id} |${term}| is in snomed_concepts.json`);
  }
  return codes;
}

/** Clears the clipboard (a marker, read back), presses `button`, waits for the success banner, and returns what the clipboard then holds. */
async function copyWith(button, testid) {
  const marker = `stepdown-e2e: nothing copied yet (${Date.now()})`;
  clipboardSet(marker);
  await waitFor(() => clipboardText() === marker, "the marker on the clipboard");
  await s.press(`[data-testid=${button}]`);
  await waitFor(async () => (await s.exists(`[data-testid=${testid}-copied]`)) || (await s.exists(`[data-testid=${testid}-not-copied]`)), `${button} pressed`);
  assert.ok(
    !(await s.exists(`[data-testid=${testid}-not-copied]`)),
    `the copy was refused: ${await s.execute(`return document.querySelector('[data-testid=${testid}-not-copied]')?.textContent ?? ''`)}`,
  );
  // The confirmation sits in a live region, so a screen reader announces it.
  assert.equal(await s.execute(`return document.querySelector('[data-testid=${testid}-copied]').closest('[role=status]')?.getAttribute('aria-live') ?? null`), "polite");
  return clipboardText();
}

test("the coded summary copied: SNOMED CT codes of the review, its plans and both follow-ups, then the summary", async () => {
  const clip = await copyWith("followup-copy-coded", "followup-coded");
  assert.match(await s.text("[data-testid=followup-coded-copied]"), /Coded summary copied/);
  const shown = await s.execute("return document.querySelector('[data-testid=followup-coded-text]').value");
  // What the core gives the CLI for the same version (each copy audited).
  const cli = execFileSync(CLI, ["review", "summary", "--db", db, "--review", String(reviewId), "--version", "2", "--coded"], { encoding: "utf8" });
  assert.equal(clip, cli, "the system clipboard holds the core's coded summary, byte for byte");
  assert.equal(shown, cli, "the page shows the same text");
  const codes = assertCodesFromTable(clip);
  assert.deepEqual(
    codes.map((l) => l.replace(/^\d+ \w+ \d{4}  /, "")),
    [
      "182836005 |Review of medication|  review",
      "287031000000100 |Review of opioid medication|  review",
      `395067002 |Optimisation of drug dosage|  reduction plan from ${codes[2].match(/from (.*)$/)[1]}`,
      "287031000000100 |Review of opioid medication|  follow-up",
      "287031000000100 |Review of opioid medication|  follow-up",
      "395067002 |Optimisation of drug dosage|  new reduction plan (version 2)",
    ],
  );
  assert.match(clip, /Follow-ups \(2\)/);
  await s.execute("document.querySelector('[data-testid=followup-coded-copied]').scrollIntoView()");
  await s.screenshot("followup-coded-summary");
  await assertAxeClean(s, "the follow-up screen after the coded summary was copied");
});

test("the outcomes screen, its CSV exports and its report agree with stepdown outcomes", async () => {
  await s.press("[data-testid=nav-outcomes]");
  await waitFor(() => s.exists("[data-testid=outcomes-patient-chart]"), "outcomes");
  const o = cliJson(["outcomes", "--db", db]);
  assert.equal(o.patients.length, 1);
  const p = o.patients[0];
  assert.equal(p.baseline_ome_mg_per_day, 120);
  assert.equal(p.current_ome_mg_per_day, 60);
  assert.equal(p.change_percent, -50);
  assert.equal(p.reduced_by_half, true);
  assert.match(await s.text("[data-testid=outcomes-current]"), /^60 mg/);
  assert.equal(await s.text("[data-testid=outcomes-change]"), "-50%");
  const row = await s.text("[data-testid=outcomes-patient-row]");
  assert.match(row, /Fran Followup/);
  const last = o.months[o.months.length - 1];
  assert.equal(last.reduced_by_half, 1);
  const rows = await s.findAll("[data-testid=outcomes-month-row]");
  assert.equal(rows.length, o.months.length);
  const lastRow = (await s.execute("const r = document.querySelectorAll('[data-testid=outcomes-month-row]'); return [...r[r.length - 1].cells].map((c) => c.textContent.trim());"));
  assert.deepEqual(lastRow, [
    last.month,
    String(last.reviewed),
    String(last.people),
    String(last.active_plan),
    String(last.reduced),
    String(last.reduced_by_half),
    String(last.stopped),
    `${last.high_dose_now_below} of ${last.high_dose_at_baseline}`,
    String(last.incomplete_ome),
  ]);
  // The chart marks the reviews (circles), follow-ups (squares) and plan steps (dashed lines), with a legend.
  assert.match(await s.text("[data-testid=outcomes-patient-legend]"), /Plan.*Taken.*Review.*Follow-up/s);
  const marks = await s.execute(
    "const c = document.querySelector('[data-testid=outcomes-patient-chart]'); return [c.querySelectorAll('circle.app-chart__dot').length, c.querySelectorAll('rect.app-chart__followup').length, c.querySelectorAll('polyline.app-chart__plan').length];",
  );
  assert.deepEqual(marks, [1 + 2, 1 + 2, 2], "two versions (review points), two follow-ups (plus legend marks), two plans");
  await s.screenshot("outcomes");
  await s.execute("document.querySelector('[data-testid=outcomes-patient-chart]').scrollIntoView()");
  await s.screenshot("outcomes-patient-chart");
  await assertAxeClean(s, "the outcomes screen");

  await s.press("[data-testid=outcomes-csv-months]");
  await waitFor(async () => /Saved to/.test(await s.text("[data-testid=outcomes-status]")), "months CSV saved");
  await s.press("[data-testid=outcomes-csv-patients]");
  await waitFor(async () => /patients/.test(await s.text("[data-testid=outcomes-status]")), "patients CSV saved");
  const files = readdirSync(saveDir);
  const months = files.find((f) => f.startsWith("stepdown-outcomes-months"));
  const people = files.find((f) => f.startsWith("stepdown-outcomes-patients"));
  assert.equal(readFileSync(path.join(saveDir, months), "utf8"), execFileSync(CLI, ["outcomes", "--db", db, "--csv"], { encoding: "utf8" }));
  assert.equal(readFileSync(path.join(saveDir, people), "utf8"), execFileSync(CLI, ["outcomes", "--db", db, "--csv", "--patients"], { encoding: "utf8" }));
  assert.match(readFileSync(path.join(saveDir, people), "utf8"), /,120,.*,60,true,-50,true,true,false,/);

  await s.press("[data-testid=outcomes-report]");
  await waitFor(async () => /Report saved/.test(await s.text("[data-testid=outcomes-status]")), "report saved");
  const report = path.join(saveDir, readdirSync(saveDir).find((f) => f.startsWith("stepdown-outcomes-report")));
  assert.match(execFileSync("pdfinfo", [report], { encoding: "utf8" }), /Pages:\s+1\n/);
  const text = execFileSync("pdftotext", ["-layout", report, "-"], { encoding: "utf8" });
  assert.match(text, /Opioid reduction outcomes/);
  assert.match(text, /Riverside Surgery/);
  assert.match(text, /1 person reduced, 1 person by at least half/);
  assert.doesNotMatch(text, /Fran Followup/, "the practice report names no patient");
});

test("the summary PDF of the new plan prints the shared decision and lists both follow-ups", async () => {
  await s.press("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=open-latest]"), "patients");
  await s.press("[data-testid=open-latest]");
  await waitFor(() => s.exists("[data-testid=save-summary-pdf]"), "the latest version open");
  assert.equal(await s.execute("return document.querySelector('[data-testid=shared-support]').value"), "Sam Followup (daughter)", "carried into the new version");
  assert.equal(await s.execute("return document.querySelector('[data-testid=shared-agreement-not-recorded]').checked"), true, "agreement to the new plan not yet recorded");
  await s.tick("[data-testid=shared-agreement-agreed]");
  await s.press("[data-testid=save-summary-pdf]");
  await waitFor(async () => /Summary saved to/.test(await s.text("[data-testid=output-status]")), "summary saved");
  assert.match(await s.text("[data-testid=output-status]"), /version 3/, "the change was saved first, as version 3");
  const file = path.join(saveDir, readdirSync(saveDir).find((f) => f.startsWith("stepdown-summary-")));
  const text = execFileSync("pdftotext", [file, "-"], { encoding: "utf8" }).replace(/\s+/g, " ");
  assert.match(text, /Shared decision \(NICE NG215\)/);
  assert.match(text, /Patient's goals: Play with my grandchildren without feeling drowsy/);
  assert.match(text, /Agreement: agreed to the plan/);
  assert.match(text, /Support person: Sam Followup \(daughter\)/);
  assert.match(text, /Review schedule: Phone every 2 weeks; seen before each step/);
  assert.match(text, /Follow-ups \(2\)/);
  assert.match(text, new RegExp(`on plan, ${stepTotal} mg OME/day; PEG 5.3/10; SOWS 5/30; decision: continue`));
  assert.match(text, /a different dose, 60 mg OME\/day \(plan \d+\); decision: replan \(new plan, version 2\)/);
  await s.screenshot("consultation-shared-decision");
});

test("the leaflet for the new plan can carry a dose calendar page to tick", async () => {
  await s.tick("[data-testid=print-calendar]");
  await s.press("[data-testid=print-leaflet]");
  await waitFor(async () => /Leaflet saved to/.test(await s.text("[data-testid=output-status]")), "leaflet saved");
  const prints = cliJson(["review", "history", "--db", db, "--review", String(reviewId)]).leaflet_prints;
  const last = prints[prints.length - 1];
  assert.equal(last.version, 3);
  const file = (await s.text("[data-testid=output-status]")).match(/saved to (.*\.pdf)/)[1];
  const text = execFileSync("pdftotext", ["-layout", file, "-"], { encoding: "utf8" });
  assert.match(text, /Your dose calendar/);
  // The first row is today (the new plan starts today), with the morning dose to tick.
  const d = new Date();
  const day = `${["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getDay()]} ${d.getDate()} ${["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getMonth()]}`;
  assert.match(text, new RegExp(`${day}\\s+\u2610 Morning`));
  // Re-rendered from its stored version and details, the print is the same file.
  assert.equal(cliJson(["review", "reprint", "--db", db, "--print-id", String(last.id)]).matches, true);
});

test("the consultation's Copy summary and Copy coded summary put the core's text on the clipboard", async () => {
  // The latest version (3) is open on the consultation screen, unchanged since it was saved.
  const summary = await copyWith("copy-summary", "summary");
  assert.match(await s.text("[data-testid=summary-copied]"), /^Success\s+Summary copied/);
  assert.equal(summary, execFileSync(CLI, ["review", "summary", "--db", db, "--review", String(reviewId), "--version", "3"], { encoding: "utf8" }));
  assert.equal(await s.execute("return document.querySelector('[data-testid=summary-text]').value"), summary);
  const coded = await copyWith("copy-coded-summary", "summary");
  assert.match(await s.text("[data-testid=summary-copied]"), /Coded summary copied/);
  assert.equal(coded, execFileSync(CLI, ["review", "summary", "--db", db, "--review", String(reviewId), "--version", "3", "--coded"], { encoding: "utf8" }));
  assertCodesFromTable(coded);
  assert.ok(coded.endsWith(summary), "the coded summary is the codes, then the summary");
  await s.execute("document.querySelector('[data-testid=summary-copied]').scrollIntoView()");
  await s.screenshot("consultation-coded-summary-copied");
  await assertAxeClean(s, "the consultation after the coded summary was copied");
});
