// End-to-end (issue 18): a medication list copied from EMIS Web (columns
// separated by tabs) is pasted into the consultation; each line is read by
// the core's extract reader and shown with how it was read; lines not read
// are listed with why; nothing reaches the regimen until the clinician adds
// the ticked lines. axe on the panel.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Session, waitFor, assertAxeClean, practiceAndNewPatient } from "./webdriver.mjs";

let s;

before(async () => {
  s = await Session.start();
});

after(async () => {
  if (s) await s.end();
});

const EMIS = [
  "Morphine 30mg modified-release tablets\tTwo To Be Taken Twice A Day\t112 tablet",
  "Co-codamol 30mg/500mg tablets\t1-2 four times a day when required\t100 tablet",
  "Sertraline 50mg tablets\tOne daily\t28 tablet",
  "Oxycodone 5mg capsules one every four hours",
].join("\n");

test("a pasted EMIS-style list is read line by line and becomes the regimen only when confirmed", async () => {
  await practiceAndNewPatient(s, "Pip Paste", "943 476 5919");
  await s.click("[data-testid=paste-list] summary");
  await waitFor(() => s.exists("[data-testid=paste-text]"), "the paste panel");
  // Tabs cannot be typed through WebDriver (Tab moves focus): set the text as a paste would.
  await s.execute(
    "const t = document.querySelector('[data-testid=paste-text]'); t.value = arguments[0]; t.dispatchEvent(new Event('input', { bubbles: true }));",
    [EMIS],
  );
  await s.click("[data-testid=paste-read]");
  await waitFor(() => s.exists("[data-testid=paste-read-lines]"), "lines read");
  const read = await s.text("[data-testid=paste-read-lines]");
  assert.match(read, /Line 1: morphine 30 mg modified-release tablet.*2 a dose, 2 times a day/);
  assert.match(read, /Line 2: codeine 30 mg with paracetamol 500 mg.*when needed/);
  // Sertraline is not an opioid: offered as another medicine (for the serotonergic flag), not dropped.
  const others = await s.text("[data-testid=paste-other-lines]");
  assert.match(others, /Line 3: sertraline/);
  const unread = await s.text("[data-testid=paste-unread]");
  assert.doesNotMatch(unread, /Sertraline/);
  assert.match(unread, /Line 4.*no dose instruction in a column/s);
  assert.equal((await s.findAll("[data-testid=regimen-item]")).length, 0, "nothing is used before it is confirmed");
  await s.execute("document.querySelector('[data-testid=paste-read-lines]').scrollIntoView()");
  await s.screenshot("paste-read");
  await assertAxeClean(s, "the pasted list read");
  await s.click("[data-testid=paste-confirm]");
  await waitFor(async () => (await s.findAll("[data-testid=regimen-item]")).length === 2, "two medicines added");
  // 2 × 30 mg morphine twice a day = 120; co-codamol 2 × 30 mg codeine four times a day = 240 mg codeine × 0.1 = 24.
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "144 mg", "the total of the confirmed regimen");
  assert.match(await s.text("[data-testid=paste-status]"), /2 medicines added.*sertraline added to the patient's other medicines/s);
  assert.match(await s.text("[data-testid=comed-list]"), /sertraline/, "the confirmed other medicine is in the patient context");
});
