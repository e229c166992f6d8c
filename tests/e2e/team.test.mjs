// End-to-end (issue 19, acceptance): two app windows on one team store on
// PostgreSQL, signed in as two pharmacists (seat_alice, seat_bob) of one
// practice. Both open the same review; Alice saves first, Bob's save is
// refused naming Alice (the role she signed in as, not a typed name) and his
// entry is reapplied on top. On the worklist, a patient Alice claims shows as
// hers in Bob's window, and Bob's claim of it is refused naming her. axe on
// every screen.
//
// Needs the throwaway cluster: `tests/pg/with-cluster.sh tests/e2e/run.sh
// tests/e2e/team.test.mjs` (`make test` runs e2e that way). Without
// STEPDOWN_TEST_PG_URL every test here is reported as skipped, with why.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { APP, CLI, KEY, ROOT, Session, sleep, waitFor, assertAxeClean } from "./webdriver.mjs";

const BASE = process.env.STEPDOWN_TEST_PG_URL;
const SKIP = BASE ? false : "STEPDOWN_TEST_PG_URL is not set: run under tests/pg/with-cluster.sh (make test does) to test two windows on a team store";
if (SKIP) console.log(`team.test.mjs skipped: ${SKIP}`);

const EXTRACT = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/extract.csv");
const dir = mkdtempSync(path.join(tmpdir(), "stepdown-team-"));
const SCHEMA = `e2e_team_${process.pid}`;
const TODAY = "2026-11-24";
// Ports of their own, clear of run.sh's driver (4444/4445).
const PORTS = { alice: 4460, bob: 4462 };

/** The store address for `role` on this test's schema. */
function urlAs(role) {
  const base = BASE.split("&").map((kv) => (kv.startsWith("user=") ? `user=${role}` : kv)).join("&");
  return `${base}&options=-csearch_path%3D${SCHEMA}`;
}

function psql(sql) {
  execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", BASE, "-c", sql], { stdio: ["ignore", "pipe", "pipe"] });
}

/** Runs the CLI as `role`, returning its exit status and parsed stdout. */
function cli(role, args) {
  try {
    return { status: 0, json: JSON.parse(execFileSync(CLI, [...args, "--db", urlAs(role)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })) };
  } catch (e) {
    return { status: e.status, json: e.stdout ? JSON.parse(e.stdout) : null, stderr: String(e.stderr) };
  }
}

const drivers = [];
/** A tauri-driver whose apps open the team store as `role` (STEPDOWN_DB). */
async function startDriver(role, port) {
  const log = openSync(path.join(ROOT, `target/e2e-tauri-driver-${role}.log`), "w");
  const child = spawn("tauri-driver", ["--port", String(port), "--native-port", String(port + 1), "--native-driver", "/usr/bin/WebKitWebDriver"], {
    env: { ...process.env, STEPDOWN_DB: urlAs(`seat_${role}`) },
    stdio: ["ignore", log, log],
  });
  drivers.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(() => fetch(`${url}/status`).then((r) => r.ok), `tauri-driver for ${role}`);
  return url;
}

async function openWindow(role) {
  const s = await Session.launch(APP, ["--today", TODAY], await startDriver(role, PORTS[role]));
  await waitFor(() => s.find("[data-testid=service-name]").then(() => true), `${role}'s window`);
  await s.screenshot(`team-${role}-opened`);
  return s;
}

let alice;
let bob;
let patientId;
let reviewId;

before(async () => {
  if (SKIP) return;
  // The owner makes the schema and runs the migrations (its first opening);
  // an admin's set-up follows: the practice and both pharmacists on it.
  psql(`CREATE SCHEMA ${SCHEMA}`);
  const owner = cli("stepdown_test_owner", ["settings", "set", "--practice-name", "Riverside Surgery", "--practice-phone", "01632 960 123"]);
  assert.equal(owner.status, 0, `the owner migrates the team store: ${owner.stderr}`);
  psql(`SET search_path = ${SCHEMA};
        INSERT INTO practices (code, name) VALUES ('A81001', 'Riverside Surgery');
        INSERT INTO seat_practices (role_name, practice_code) VALUES ('seat_alice', 'A81001'), ('seat_bob', 'A81001');`);
  // Alice's earlier work, through the CLI: a patient, a first review, an extract.
  const added = cli("seat_alice", ["patient", "add", "--name", "Sam Team", "--nhs-number", "943 476 5919"]);
  assert.equal(added.status, 0, added.stderr);
  patientId = added.json.id;
  const input = path.join(dir, "first.json");
  writeFileSync(input, JSON.stringify({
    patient_id: patientId, review_id: null, reviewer: "seat_alice", notes: "First review",
    items: [{ drug: "morphine", route: "oral", release: "modified", strength_mg: 30, units_per_dose: 1, doses_per_day: 2 }],
  }));
  const first = cli("seat_alice", ["review", "save", input]);
  assert.equal(first.status, 0, first.stderr);
  reviewId = first.json.review_id;
  const imported = cli("seat_alice", ["import", EXTRACT, "--today", TODAY]);
  assert.equal(imported.status, 0, `the extract imported: ${imported.stderr}`);
  alice = await openWindow("alice");
  bob = await openWindow("bob");
});

after(async () => {
  for (const s of [alice, bob]) if (s) await s.end().catch(() => {});
  for (const d of drivers) d.kill();
  if (BASE) {
    try {
      psql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    } catch {
      // The cluster is thrown away after the run anyway.
    }
  }
});

test("each window says which team store it is on and who signed in, never the password", { skip: SKIP }, async () => {
  for (const [s, role] of [[alice, "seat_alice"], [bob, "seat_bob"]]) {
    await waitFor(() => s.exists("[data-testid=team-store]"), `${role}'s team store shown`);
    const shown = await s.text("[data-testid=team-store]");
    assert.match(shown, new RegExp(`^Team store: postgres(ql)?://.*, signed in as ${role}$`));
    assert.ok(shown.includes(`user=${role}`), shown);
    assert.doesNotMatch(shown, /password/i);
    assert.match(await s.text("footer"), /Records are kept on the team store named above\./);
    await s.screenshot(`team-${role}-start`);
    await assertAxeClean(s, `${role}'s window on the team store`);
  }
});

/** Opens the patient's latest review in `s` from their history. */
async function openReview(s) {
  await s.press("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=show-history]"), "the patient listed");
  await s.press("[data-testid=show-history]");
  await waitFor(async () => (await s.findAll("[data-testid=history-row]")).length === 1, "the review in the history");
  await s.press("[data-testid=open-review]");
  await waitFor(async () => (await s.execute("return document.querySelector('[data-testid=review-notes]')?.value")) === "First review", "the review open");
}

test("both open one review; Alice saves first; Bob's save is refused naming her, and reapplied on top", { skip: SKIP }, async () => {
  await openReview(alice);
  await openReview(bob);
  for (const [s, role] of [[alice, "seat_alice"], [bob, "seat_bob"]]) {
    await waitFor(async () => (await s.execute("return document.querySelector('[data-testid=review-reviewer]').value")) === role, `${role} as the reviewer`);
    assert.equal(await s.execute("return document.querySelector('[data-testid=review-reviewer]').readOnly"), true, "not a name anyone can type");
  }

  await alice.clear("[data-testid=review-notes]");
  await alice.type("[data-testid=review-notes]", "Alice: agreed a 10% reduction");
  await alice.press("[data-testid=save-review]");
  await waitFor(async () => /version 2/.test(await alice.text("[data-testid=saved-status]")), "Alice saved version 2");

  await bob.clear("[data-testid=review-notes]");
  await bob.type("[data-testid=review-notes]", "Bob: spoke to the patient by phone");
  await bob.press("[data-testid=save-review]");
  await waitFor(() => bob.exists("[data-testid=save-conflict]"), "Bob sees the conflict");
  assert.match(await bob.text("[data-testid=save-conflict-who]"), /^Saved by seat_alice at \d\d:\d\d \(version 2\) after you opened version 1\.$/);
  assert.match(await bob.text("[data-testid=save-conflict]"), /it is kept as a draft/);
  const drafts = cli("seat_bob", ["review", "drafts", "list", "--review", String(reviewId)]).json;
  assert.equal(drafts.length, 1);
  assert.equal(drafts[0].input.notes, "Bob: spoke to the patient by phone", "Bob's entry is kept");
  assert.equal(cli("seat_bob", ["review", "show", "--review", String(reviewId)]).json.notes, "Alice: agreed a 10% reduction", "Alice's is not overwritten");
  await bob.execute("document.querySelector('[data-testid=save-conflict]').scrollIntoView()");
  await bob.screenshot("team-bob-review-conflict");
  await assertAxeClean(bob, "Bob's review with a save conflict");
  await alice.screenshot("team-alice-review-saved");
  await assertAxeClean(alice, "Alice's saved review");

  await bob.press("[data-testid=conflict-reapply]");
  await waitFor(async () => /version 3/.test(await bob.text("[data-testid=saved-status]")), "Bob's entry saved as version 3");
  const latest = cli("seat_alice", ["review", "show", "--review", String(reviewId)]).json;
  assert.equal(latest.version, 3);
  assert.equal(latest.notes, "Bob: spoke to the patient by phone");
  assert.equal(latest.reviewer, "seat_bob", "the version names the seat that signed in");
  assert.equal(cli("seat_alice", ["review", "show", "--review", String(reviewId), "--version", "2"]).json.reviewer, "seat_alice");
  await bob.execute("document.querySelector('[data-testid=review-reviewer]').scrollIntoView({ block: 'center' })");
  await bob.screenshot("team-bob-reapplied");
  await assertAxeClean(bob, "Bob's review after reapplying");
});

/** The text of patient `id`'s worklist row in `s`. */
async function rowOf(s, id) {
  for (const r of await s.findAll("[data-testid=worklist-row]")) {
    const text = await s.cmd("GET", `/element/${r}/text`);
    if (text.includes(id)) return text;
  }
  throw new Error(`no row for ${id}`);
}

/** Presses a button in the worklist row of patient `id` from the keyboard. */
async function pressIn(s, id, testid) {
  for (const r of await s.findAll("[data-testid=worklist-row]")) {
    if (!(await s.cmd("GET", `/element/${r}/text`)).includes(id)) continue;
    const button = await s.cmd("POST", `/element/${r}/element`, { using: "css selector", value: `[data-testid=${testid}]` });
    return s.cmd("POST", `/element/${Object.values(button)[0]}/value`, { text: KEY.enter });
  }
  throw new Error(`no row for ${id}`);
}

async function openWorklist(s) {
  await s.press("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=add-patient]"), "patients");
  await s.press("[data-testid=nav-case-finding]");
  await waitFor(async () => (await s.findAll("[data-testid=worklist-row]")).length >= 3, "worklist rows");
}

test("a worklist patient Alice claims shows as hers in Bob's window, and his claim is refused naming her", { skip: SKIP }, async () => {
  await openWorklist(bob);
  assert.match(await rowOf(bob, "P001"), /Not claimed/);
  await openWorklist(alice);
  await pressIn(alice, "P001", "worklist-claim-button");
  await waitFor(async () => /You, since/.test(await rowOf(alice, "P001")), "P001 claimed by Alice");
  await alice.screenshot("team-alice-worklist-claimed");
  await assertAxeClean(alice, "Alice's worklist with her claim");

  // Bob's window still shows P001 free: his claim is refused naming Alice.
  assert.match(await rowOf(bob, "P001"), /Not claimed/);
  await pressIn(bob, "P001", "worklist-claim-button");
  await waitFor(() => bob.exists("[data-testid=claim-error]"), "Bob's refused claim is explained");
  assert.match(await bob.text("[data-testid=claim-error]"), /Patient P001 is claimed by seat_alice since \d\d:\d\d\./);
  await waitFor(async () => /seat_alice, since/.test(await rowOf(bob, "P001")), "Bob's list shows Alice holds P001");

  // Opened afresh, Bob's worklist shows Alice's claim without his trying.
  await openWorklist(bob);
  assert.match(await rowOf(bob, "P001"), /seat_alice, since \d\d:\d\d/);
  assert.equal(await bob.exists("#status-P001"), false, "her patient's status is hers to change");
  await bob.execute("document.querySelector('[data-testid=worklist-table]').scrollIntoView()");
  await sleep(100);
  await bob.screenshot("team-bob-worklist-held-by-alice");
  await assertAxeClean(bob, "Bob's worklist showing Alice's claim");
  const verify = cli("seat_bob", ["audit", "verify"]);
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.json.ok, true);
});

test("a follow-up in Bob's window names the seat signed in, not a typed name; the CLI refuses another name", { skip: SKIP }, async () => {
  await bob.press("[data-testid=nav-patients]");
  await waitFor(() => bob.exists("[data-testid=show-history]"), "the patient listed");
  await bob.press("[data-testid=show-history]");
  await waitFor(() => bob.exists("[data-testid=follow-up]"), "a follow-up button in the history");
  await bob.press("[data-testid=follow-up]");
  await waitFor(async () => (await bob.execute("return document.querySelector('[data-testid=followup-reviewer]')?.value")) === "seat_bob", "seat_bob as the follow-up's reviewer");
  assert.equal(await bob.execute("return document.querySelector('[data-testid=followup-reviewer]').readOnly"), true, "not a name anyone can type");
  // Dated by the clock, not --today: the review was saved (by the CLI) today.
  const now = new Date();
  for (const [part, v] of [["day", now.getUTCDate()], ["month", now.getUTCMonth() + 1], ["year", now.getUTCFullYear()]]) {
    await bob.clear(`[data-testid=followup-date-${part}]`);
    await bob.type(`[data-testid=followup-date-${part}]`, String(v));
  }
  await bob.tick("[data-testid=actual-stopped]");
  await bob.tick("[data-testid=decision-end-plan]");
  await bob.press("[data-testid=followup-save]");
  await waitFor(async () => (await bob.exists("[data-testid=followup-saved]")) || (await bob.exists("[data-testid=followup-error]")), "the follow-up saved or refused");
  assert.equal(await bob.exists("[data-testid=followup-error]"), false, await bob.execute("return document.querySelector('[data-testid=followup-error]')?.textContent ?? ''"));
  const list = cli("seat_bob", ["followup", "list", "--review", String(reviewId)]).json;
  assert.equal(list.length, 1);
  assert.equal(list[0].record.input.reviewer, "seat_bob", "the follow-up names the seat that signed in");
  await bob.execute("document.querySelector('[data-testid=followup-saved]').scrollIntoView()");
  await bob.screenshot("team-bob-followup-saved");
  await assertAxeClean(bob, "Bob's follow-up on the team store");

  // The CLI records the role too: another typed name is refused naming both.
  const refused = cli("seat_bob", ["worklist", "claim", "--patient", "P002", "--actor", "A. Pharmacist"]);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /"A\. Pharmacist" is not the role this seat signed in as \(seat_bob\)/);
  const claimed = cli("seat_bob", ["worklist", "claim", "--patient", "P002", "--actor", "seat_bob"]);
  assert.equal(claimed.status, 0, claimed.stderr);
  assert.equal(claimed.json.holder, "seat_bob");
});
