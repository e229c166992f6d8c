// End-to-end (issue 19, "the same in Settings"): the Store part of Settings.
// The app runs with no --db and no STEPDOWN_DB, on folders of its own
// (XDG_DATA_HOME, XDG_CONFIG_HOME), as a person would start it.
// - Settings shows the store on this computer;
// - a team store address with a password in it is refused beside the field,
//   and nothing is saved;
// - (cluster) the address without its password, signed in as seat_alice with
//   a wrong password: the sign-in refused beside the password, still on the
//   store on this computer; with the right one: the window switches and its
//   header says "signed in as seat_alice"; the choice file holds no password;
// - (cluster) started again, the app asks seat_alice to sign in; a wrong
//   password is refused, the right one opens the team store;
// - started with --db, Settings says --db decides; a damaged choice file opens
//   the store on this computer, says why, and is left as it is.
// axe on every new screen and state.
//
// The cluster parts need tests/pg/with-cluster.sh (its stepdown_signin
// database, where roles sign in with passwords); without
// STEPDOWN_TEST_PG_URL they are reported as skipped, with why.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { APP, CLI, ROOT, Session, waitFor, assertAxeClean } from "./webdriver.mjs";

const BASE = process.env.STEPDOWN_TEST_PG_URL;
const SKIP = BASE ? false : "STEPDOWN_TEST_PG_URL is not set: run under tests/pg/with-cluster.sh (make test does) to sign in to a team store";
if (SKIP) console.log(`storechoice.test.mjs: the team store parts are skipped: ${SKIP}`);

const home = mkdtempSync(path.join(tmpdir(), "stepdown-storechoice-"));
const DATA = path.join(home, "data");
const CONFIG = path.join(home, "config");
const LOCAL_FILE = path.join(DATA, "uk.nhs.stepdown", "stepdown.db");
const CHOICE_FILE = path.join(CONFIG, "uk.nhs.stepdown", "store.json");
const SCHEMA = `e2e_choice_${process.pid}`;
const PORT = 4470; // clear of run.sh's (4444) and team.test.mjs's drivers

/** The sign-in database's address with this test's schema, without a role or password. */
function teamAddress() {
  const kept = BASE.replace("/stepdown_test?", "/stepdown_signin?").split("&").filter((kv) => !kv.startsWith("user="));
  return `${kept.join("&")}&options=-csearch_path%3D${SCHEMA}`;
}

/** The owner's address there (the owner signs in by trust; the seats need passwords). */
const ownerAddress = () => `${teamAddress()}&user=stepdown_test_owner`;

function psqlOwner(sql) {
  const url = BASE.replace("/stepdown_test?", "/stepdown_signin?");
  execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], { stdio: ["ignore", "pipe", "pipe"] });
}

let driver;
let driverUrl;
let s;

async function openApp() {
  s = await Session.launch(APP, ["--today", "2026-11-24"], driverUrl);
  await waitFor(() => s.find("[data-testid=service-name]").then(() => true), "the window");
}

async function openSettings() {
  await s.press("[data-testid=nav-settings]");
  await waitFor(() => s.exists("[data-testid=store-current]"), "the Store part of Settings");
}

before(async () => {
  if (!SKIP) {
    psqlOwner(`CREATE SCHEMA ${SCHEMA}`);
    // The administrator makes the team store once with --db.
    execFileSync(CLI, ["settings", "set", "--practice-name", "Riverside Surgery", "--db", ownerAddress()], { stdio: ["ignore", "pipe", "pipe"] });
    psqlOwner(`SET search_path = ${SCHEMA};
      INSERT INTO practices (code, name) VALUES ('A81001', 'Riverside Surgery');
      INSERT INTO seat_practices (role_name, practice_code) VALUES ('seat_alice', 'A81001');`);
  }
  const env = { ...process.env, XDG_DATA_HOME: DATA, XDG_CONFIG_HOME: CONFIG };
  delete env.STEPDOWN_DB;
  const log = openSync(path.join(ROOT, "target/e2e-tauri-driver-storechoice.log"), "w");
  driver = spawn("tauri-driver", ["--port", String(PORT), "--native-port", String(PORT + 1), "--native-driver", "/usr/bin/WebKitWebDriver"], { env, stdio: ["ignore", log, log] });
  driverUrl = `http://127.0.0.1:${PORT}`;
  await waitFor(() => fetch(`${driverUrl}/status`).then((r) => r.ok), "tauri-driver");
  await openApp();
});

after(async () => {
  if (s) await s.end().catch(() => {});
  if (driver) driver.kill();
  if (!SKIP) {
    try {
      psqlOwner(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    } catch {
      // The cluster is thrown away after the run anyway.
    }
  }
});

test("Settings shows the store on this computer", async () => {
  await openSettings();
  assert.equal(await s.text("[data-testid=store-current]"), `This window works on: The store on this computer: ${LOCAL_FILE}.`);
  assert.equal(await s.exists("[data-testid=store-override]"), false, "nothing on the command line decides over it");
  assert.equal(await s.exists("[data-testid=team-store]"), false);
  await s.screenshot("storechoice-local");
  await assertAxeClean(s, "Settings on the store on this computer");
});

test("a team store address with a password is refused beside the field, and nothing is saved", async () => {
  await s.tick("[data-testid=store-kind-team]");
  await waitFor(() => s.exists("#store-address"), "the team store fields");
  await s.type("#store-address", "postgres://seat_alice:Secret123@stepdown-db.example.nhs.uk/stepdown?sslmode=verify-full");
  await s.type("#store-role", "seat_alice");
  await s.press("[data-testid=store-switch]");
  await waitFor(() => s.exists("#store-address-error"), "the address refused");
  const message = await s.text("#store-address-error");
  assert.match(message, /Remove the password: Stepdown never keeps a password on this computer/);
  assert.match(message, /type your role and password when you sign in/);
  assert.doesNotMatch(message, /Secret123/);
  assert.match(await s.text("[data-testid=store-error-summary]"), /Remove the password/);
  assert.match(await s.text("[data-testid=store-current]"), /The store on this computer/);
  assert.equal(existsSync(CHOICE_FILE), false, "no choice saved");
  await s.screenshot("storechoice-password-refused");
  await assertAxeClean(s, "a team store address with a password refused");
});

test("a wrong password is refused beside the field, and the window stays on the store it had", { skip: SKIP }, async () => {
  await s.clear("#store-address");
  await s.type("#store-address", teamAddress());
  await s.clear("#store-role");
  await s.type("#store-role", "seat_alice");
  await s.type("#store-password", "not-her-password");
  await s.press("[data-testid=store-switch]");
  await waitFor(() => s.exists("#store-password-error"), "the sign-in refused", 20000);
  assert.match(await s.text("#store-password-error"), /refused the sign-in: wrong role or password/);
  assert.equal(await s.execute("return document.querySelector('#store-password').value"), "", "the password is not kept on screen");
  assert.match(await s.text("[data-testid=store-current]"), /The store on this computer/);
  assert.equal(await s.exists("[data-testid=team-store]"), false);
  assert.equal(existsSync(CHOICE_FILE), false, "no choice saved");
  await s.screenshot("storechoice-wrong-password");
  await assertAxeClean(s, "a wrong password refused");
});

test("signed in as seat_alice with her password, the window switches to the team store", { skip: SKIP }, async () => {
  await s.type("#store-password", "seat_alice-test-password");
  await s.press("[data-testid=store-switch]");
  await waitFor(() => s.exists("[data-testid=team-store]"), "the window on the team store", 20000);
  const header = await s.text("[data-testid=team-store]");
  assert.match(header, /^Team store: postgres(ql)?:\/\/.*, signed in as seat_alice$/);
  assert.doesNotMatch(header, /password/i);
  assert.match(await s.text("[data-testid=store-switched]"), /signed in as seat_alice\.$/);
  const saved = readFileSync(CHOICE_FILE, "utf8");
  assert.doesNotMatch(saved, /password/i, saved);
  assert.equal(JSON.parse(saved).store.kind, "team");
  assert.equal(JSON.parse(saved).store.role, "seat_alice");
  await s.screenshot("storechoice-switched");
  await assertAxeClean(s, "the window switched to the team store");
  await openSettings();
  assert.match(await s.text("[data-testid=store-current]"), /The team store at .*, signed in as seat_alice\./);
  await s.screenshot("storechoice-settings-team");
  await assertAxeClean(s, "Settings on the team store");
});

test("started again, the app asks the seat to sign in; a wrong password is refused, the right one opens the team store", { skip: SKIP }, async () => {
  await s.end();
  await openApp();
  await waitFor(() => s.exists("[data-testid=sign-in]"), "the sign-in prompt");
  assert.equal(await s.exists("[data-testid=store-error]"), false, "a sign-in, not an error");
  assert.equal(await s.execute("return document.querySelector('#sign-in-role').value"), "seat_alice", "the role offered again");
  assert.equal(await s.execute("return document.querySelector('#sign-in-password').value"), "");
  await s.screenshot("storechoice-sign-in");
  await assertAxeClean(s, "the sign-in prompt");
  await s.type("#sign-in-password", "wrong");
  await s.press("[data-testid=sign-in-submit]");
  await waitFor(() => s.exists("#sign-in-password-error"), "the sign-in refused", 20000);
  assert.match(await s.text("#sign-in-password-error"), /wrong role or password/);
  assert.equal(await s.exists("[data-testid=team-store]"), false);
  await s.screenshot("storechoice-sign-in-refused");
  await assertAxeClean(s, "the sign-in refused");
  await s.type("#sign-in-password", "seat_alice-test-password");
  await s.press("[data-testid=sign-in-submit]");
  await waitFor(() => s.exists("[data-testid=team-store]"), "signed in", 20000);
  assert.match(await s.text("[data-testid=team-store]"), /, signed in as seat_alice$/);
  assert.equal(await s.exists("[data-testid=sign-in]"), false);
  await s.screenshot("storechoice-signed-in");
});

test("started with --db, Settings says it decides over the saved choice", async () => {
  await s.end();
  const file = path.join(home, "flag.db");
  s = await Session.launch(APP, ["--today", "2026-11-24", "--db", file], driverUrl);
  await waitFor(() => s.find("[data-testid=service-name]").then(() => true), "the window");
  await openSettings();
  assert.equal(await s.text("[data-testid=store-current]"), `This window works on: The store file ${file}.`);
  assert.match(await s.text("[data-testid=store-override]"), /^Stepdown was started with --db on its command line, which decides the store over this setting\./);
  await s.screenshot("storechoice-db-flag");
  await assertAxeClean(s, "Settings when --db decides");
});

test("a damaged choice file: the store on this computer, the reason in Settings, the file untouched", async () => {
  await s.end();
  mkdirSync(path.dirname(CHOICE_FILE), { recursive: true });
  const damaged = '{"format": "stepdown-store-choice", "version": 1, "store": {"kind": "te';
  writeFileSync(CHOICE_FILE, damaged);
  await openApp();
  assert.equal(await s.exists("[data-testid=sign-in]"), false);
  await waitFor(() => s.exists("[data-testid=store-choice-problem]"), "the first screen says so");
  assert.match(await s.text("[data-testid=store-choice-problem]"), /not a Stepdown store choice/);
  await s.screenshot("storechoice-damaged-file-start");
  await assertAxeClean(s, "the first screen with a damaged choice file");
  await openSettings();
  assert.equal(await s.text("[data-testid=store-current]"), `This window works on: The store on this computer: ${LOCAL_FILE}.`);
  const problem = await s.text("[data-testid=store-saved-problem]");
  assert.match(problem, /not a Stepdown store choice/);
  assert.match(problem, /opened the store on this computer instead and left the file as it is/);
  assert.equal(readFileSync(CHOICE_FILE, "utf8"), damaged, "the file is untouched");
  await s.screenshot("storechoice-damaged-file");
  await assertAxeClean(s, "Settings with a damaged choice file");
});
