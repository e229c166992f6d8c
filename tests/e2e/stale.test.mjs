// End-to-end: the app as it will look when its reference tables age past
// the review policy (clinical safety hazard log HAZ-014).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Session, waitFor } from "./webdriver.mjs";

test("reference tables long past their review date are flagged on every screen", async () => {
  const s = await Session.start({ args: ["--today", "2040-01-01"] });
  try {
    await waitFor(() => s.exists("[data-testid=stale-reference]"), "stale-table warning");
    assert.match(await s.text("[data-testid=stale-reference]"), /review/i);
    await s.click("[data-testid=nav-consultation]");
    assert.ok(await s.exists("[data-testid=stale-reference]"), "still shown on the consultation screen");
    await s.screenshot("stale-reference");
  } finally {
    await s.end();
  }
});
