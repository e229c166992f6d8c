// End-to-end (issue 19, concurrency that loses nothing): the window and
// another seat (the CLI, on the same database file) work on one store.
// A review opened in the window is saved meanwhile by the other seat; the
// window's save is refused with who saved first and when, the entry kept as a
// draft, then reapplied on top. A worklist patient claimed by the other seat
// shows as theirs in the window, and the window's own claim of a patient they
// took meanwhile is refused naming them. axe on both screens.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CLI, KEY, Session, cliJson, waitFor, assertAxeClean, practiceAndNewPatient } from "./webdriver.mjs";

const EXTRACT = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/extract.csv");
const dir = mkdtempSync(path.join(tmpdir(), "stepdown-seats-"));
const db = path.join(dir, "stepdown.db");
const OTHER = "Bob Otherseat";
let s;
let reviewId;

before(async () => {
  // The extract's issues are in October and November 2026.
  s = await Session.start({ db, args: ["--today", "2026-11-24"] });
});

after(async () => {
  if (s) await s.end();
});

/** Runs the CLI as the other seat, returning its exit status and parsed stdout. */
function other(args) {
  try {
    return { status: 0, json: JSON.parse(execFileSync(CLI, [...args, "--db", db], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })) };
  } catch (e) {
    return { status: e.status, json: e.stdout ? JSON.parse(e.stdout) : null, stderr: String(e.stderr) };
  }
}

test("a review saved by another seat meanwhile: the window's save shows who saved first and keeps the entry", async () => {
  await practiceAndNewPatient(s, "Sam Seats", "943 476 5919");
  await s.type("[data-testid=product-search]", "MST 30");
  await waitFor(async () => (await s.findAll("[role=option]")).length === 1, "MST 30");
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(() => s.exists("[data-testid=item-0-units_per_dose]"), "MST 30 added");
  await s.press("[data-testid=save-review]");
  await waitFor(async () => /version 1/.test(await s.text("[data-testid=saved-status]")), "version 1 saved");
  const patients = cliJson(["patient", "list", "--db", db]);
  reviewId = cliJson(["review", "history", "--db", db, "--patient", String(patients[0].id)])[0].review_id;

  // The other seat opened version 1 too, and saves first.
  const input = path.join(dir, "other.json");
  writeFileSync(input, JSON.stringify({
    patient_id: patients[0].id, review_id: reviewId, base_version: 1, reviewer: OTHER,
    notes: "Spoke to the patient by phone",
    items: [{ drug: "morphine", route: "oral", release: "modified", strength_mg: 30, units_per_dose: 1, doses_per_day: 2 }],
  }));
  assert.equal(other(["review", "save", input]).json.version, 2);

  // The window, still on version 1, saves its own change.
  await s.type("[data-testid=review-notes]", "Agreed a 10% reduction in clinic");
  await s.press("[data-testid=save-review]");
  await waitFor(() => s.exists("[data-testid=save-conflict]"), "the conflict is shown");
  const who = await s.text("[data-testid=save-conflict-who]");
  assert.match(who, new RegExp(`^Saved by ${OTHER} at \\d\\d:\\d\\d \\(version 2\\) after you opened version 1\\.$`));
  assert.match(await s.text("[data-testid=save-conflict]"), /it is kept as a draft/);
  assert.equal(await s.execute("return document.querySelector('[data-testid=save-review]').disabled"), true, "no second save over theirs");
  const drafts = cliJson(["review", "drafts", "list", "--db", db, "--review", String(reviewId)]);
  assert.equal(drafts.length, 1);
  assert.equal(drafts[0].input.notes, "Agreed a 10% reduction in clinic", "the entry typed in the window is kept");
  assert.equal(cliJson(["review", "show", "--db", db, "--review", String(reviewId)]).version, 2, "theirs is not overwritten");
  await s.execute("document.querySelector('[data-testid=save-conflict]').scrollIntoView()");
  await s.screenshot("seats-review-conflict");
  await assertAxeClean(s, "the review with a save conflict");
});

test("the kept entry is reapplied on top of the other seat's version", async () => {
  await s.press("[data-testid=conflict-reapply]");
  await waitFor(async () => /version 3/.test(await s.text("[data-testid=saved-status]")), "saved as version 3");
  assert.equal(await s.exists("[data-testid=save-conflict]"), false);
  const latest = cliJson(["review", "show", "--db", db, "--review", String(reviewId)]);
  assert.equal(latest.version, 3);
  assert.equal(latest.notes, "Agreed a 10% reduction in clinic");
  assert.equal(cliJson(["review", "show", "--db", db, "--review", String(reviewId), "--version", "2"]).notes, "Spoke to the patient by phone");
  assert.deepEqual(cliJson(["review", "drafts", "list", "--db", db, "--review", String(reviewId)]), []);
  // Saving again starts from version 3: no conflict.
  await s.type("[data-testid=review-notes]", ". Leaflet given.");
  await s.press("[data-testid=save-review]");
  await waitFor(async () => /version 4/.test(await s.text("[data-testid=saved-status]")), "saved as version 4");
  assert.equal(cliJson(["audit", "verify", "--db", db]).ok, true);
});

test("a kept entry can be discarded instead: the window then shows the other seat's version", async () => {
  const patients = cliJson(["patient", "list", "--db", db]);
  const input = path.join(dir, "other2.json");
  writeFileSync(input, JSON.stringify({
    patient_id: patients[0].id, review_id: reviewId, base_version: 4, reviewer: OTHER,
    notes: "Patient prefers to wait a month",
    items: [{ drug: "morphine", route: "oral", release: "modified", strength_mg: 30, units_per_dose: 1, doses_per_day: 2 }],
  }));
  assert.equal(other(["review", "save", input]).json.version, 5);
  await s.type("[data-testid=review-notes]", " Follow up in 2 weeks.");
  await s.press("[data-testid=save-review]");
  await waitFor(() => s.exists("[data-testid=save-conflict]"), "the second conflict is shown");
  assert.match(await s.text("[data-testid=save-conflict-who]"), /\(version 5\) after you opened version 4\./);
  await s.press("[data-testid=conflict-discard]");
  await waitFor(async () => !(await s.exists("[data-testid=save-conflict]")), "the conflict is gone");
  await waitFor(async () => (await s.execute("return document.querySelector('[data-testid=review-notes]').value")) === "Patient prefers to wait a month", "their version is open");
  assert.deepEqual(cliJson(["review", "drafts", "list", "--db", db, "--review", String(reviewId)]), []);
  assert.equal(cliJson(["review", "show", "--db", db, "--review", String(reviewId)]).version, 5, "nothing saved by discarding");
});

test("a worklist patient claimed by another seat shows as theirs, and a claim they took meanwhile is refused naming them", async () => {
  cliJson(["import", EXTRACT, "--db", db, "--today", "2026-11-24"]);
  assert.equal(other(["worklist", "claim", "--patient", "P001", "--actor", OTHER]).json.holder, OTHER);
  await s.press("[data-testid=nav-case-finding]");
  await waitFor(async () => (await s.findAll("[data-testid=worklist-row]")).length >= 3, "worklist rows");
  const rowOf = async (id) => {
    for (const r of await s.findAll("[data-testid=worklist-row]")) {
      const text = await s.cmd("GET", `/element/${r}/text`);
      if (text.includes(id)) return text;
    }
    throw new Error(`no row for ${id}`);
  };
  // Presses a button in the row of patient `id` from the keyboard.
  const pressIn = async (id, testid) => {
    for (const r of await s.findAll("[data-testid=worklist-row]")) {
      if (!(await s.cmd("GET", `/element/${r}/text`)).includes(id)) continue;
      const button = await s.cmd("POST", `/element/${r}/element`, { using: "css selector", value: `[data-testid=${testid}]` });
      return s.cmd("POST", `/element/${Object.values(button)[0]}/value`, { text: KEY.enter });
    }
    throw new Error(`no row for ${id}`);
  };
  const p001 = await rowOf("P001");
  assert.match(p001, new RegExp(`${OTHER}, since \\d\\d:\\d\\d`));
  assert.match(p001, /To contact/);
  assert.equal(await s.exists("#status-P001"), false, "their patient's status is theirs to change");

  // The window claims P002 and books them.
  await pressIn("P002", "worklist-claim-button");
  await waitFor(async () => /You, since/.test(await rowOf("P002")), "P002 claimed by this seat");
  await s.click('#status-P002 option[value="booked"]');
  await waitFor(() => cliJson(["worklist", "--db", db, "--today", "2026-11-24", "--mine", "--actor", "P. Harmacist"]).patients.some((p) => p.claim?.status === "booked"), "P002 booked");
  const refused = other(["worklist", "claim", "--patient", "P002", "--actor", OTHER]);
  assert.equal(refused.status, 3);
  assert.equal(refused.json.conflict.holder, "P. Harmacist");

  // The other seat takes P004 while the window still shows it unclaimed.
  const before = await rowOf("P004");
  assert.match(before, /Not claimed/);
  assert.equal(other(["worklist", "claim", "--patient", "P004", "--actor", OTHER]).status, 0);
  await pressIn("P004", "worklist-claim-button");
  await waitFor(() => s.exists("[data-testid=claim-error]"), "the refused claim is explained");
  assert.match(await s.text("[data-testid=claim-error]"), new RegExp(`Patient P004 is claimed by ${OTHER} since \\d\\d:\\d\\d\\.`));
  await waitFor(async () => new RegExp(`${OTHER}, since`).test(await rowOf("P004")), "the list now shows who holds P004");

  // Mine, and not claimed.
  await s.click('#filter-claim option[value="mine"]');
  await waitFor(async () => (await s.findAll("[data-testid=worklist-row]")).length === 1, "only this seat's patient");
  assert.match(await s.text("[data-testid=worklist-row]"), /P002/);
  await s.execute("document.querySelector('[data-testid=worklist-table]').scrollIntoView()");
  await s.screenshot("seats-worklist-mine");
  await s.click('#filter-claim option[value=""]');
  await waitFor(async () => (await s.findAll("[data-testid=worklist-row]")).length >= 3, "everyone again");
  await s.execute("document.querySelector('[data-testid=claim-error]').scrollIntoView()");
  await s.screenshot("seats-worklist-claims");
  await assertAxeClean(s, "the worklist with claims");
  assert.equal(cliJson(["audit", "verify", "--db", db]).ok, true);
});
