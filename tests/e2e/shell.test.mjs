// End-to-end: the real Stepdown window, driven through WebDriver.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Session, cliJson, seriousViolations, waitFor } from "./webdriver.mjs";

let s;

before(async () => {
  s = await Session.start();
});

after(async () => {
  if (s) await s.end();
});

test("the window opens with title Stepdown and the NHS-styled shell", async () => {
  // Today's reference tables are current: no review warning.
  assert.equal(await s.exists("[data-testid=stale-reference]"), false);
  assert.equal(await s.title(), "Stepdown");
  assert.equal(await s.text("[data-testid=service-name]"), "Stepdown");
  const header = await s.execute(
    "const h = document.querySelector('header.nhsuk-header'); return h ? getComputedStyle(h).backgroundColor : null;",
  );
  // NHS blue (#005eb8) proves the NHS.UK stylesheet is loaded from the bundle.
  assert.equal(header, "rgb(0, 94, 184)");
  await s.screenshot("shell-patients");
});

test("navigation offers Patients, Consultation, Case-finding, Settings and About", async () => {
  const labels = [];
  for (const id of ["patients", "consultation", "case-finding", "settings", "about"]) {
    labels.push(await s.text(`[data-testid=nav-${id}]`));
  }
  assert.deepEqual(labels, ["Patients", "Consultation", "Case-finding", "Settings", "About"]);
  for (const id of ["consultation", "case-finding", "settings"]) {
    await s.click(`[data-testid=nav-${id}]`);
    await waitFor(async () => (await s.text("#section-heading")) !== "", `${id} heading`);
    await s.screenshot(`shell-${id}`);
    const serious = seriousViolations(await s.axe());
    assert.deepEqual(serious, [], `axe on ${id}: ${JSON.stringify(serious, null, 2)}`);
  }
});

test("the About panel shows the reference manifest version the Rust core reports", async () => {
  const expected = cliJson(["reference"]).manifest_version;
  await s.click("[data-testid=nav-about]");
  const shown = await waitFor(async () => s.text("[data-testid=manifest-version]"), "manifest version");
  assert.equal(shown, expected);
  const rows = await s.findAll(".app-about tbody tr");
  assert.equal(rows.length, cliJson(["reference"]).tables.length);
  await s.screenshot("about");
});

test("axe finds no serious or critical accessibility violations on the shell and About", async () => {
  for (const id of ["patients", "about"]) {
    await s.click(`[data-testid=nav-${id}]`);
    await s.screenshot(`axe-${id}`);
    const serious = seriousViolations(await s.axe());
    assert.deepEqual(serious, [], `axe on ${id}: ${JSON.stringify(serious, null, 2)}`);
  }
});

test("the accessibility check is live: it catches an unlabelled button", async () => {
  // Guards against a scan that silently checks nothing.
  await s.execute(
    "const b = document.createElement('button'); b.id = 'axe-probe'; document.querySelector('main').appendChild(b);",
  );
  try {
    const ids = seriousViolations(await s.axe()).map((v) => v.id);
    assert.ok(ids.includes("button-name"), `expected button-name among ${ids}`);
  } finally {
    await s.execute("document.getElementById('axe-probe')?.remove();");
  }
});
