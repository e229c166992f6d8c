// A small W3C WebDriver client over fetch, enough to drive the real Stepdown
// window through tauri-driver + WebKitWebDriver. No third-party client: fewer
// moving parts on CI, and every request is visible here.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const DRIVER = process.env.STEPDOWN_WEBDRIVER_URL ?? "http://127.0.0.1:4444";
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export const APP = process.env.STEPDOWN_APP ?? path.join(ROOT, "target/debug/stepdown-app");
export const CLI = process.env.STEPDOWN_CLI ?? path.join(ROOT, "target/debug/stepdown");
export const SCREENSHOTS = path.join(ROOT, "target/screenshots");

async function request(method, url, body, driver = DRIVER) {
  const res = await fetch(driver + url, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const v = json.value ?? {};
    throw new Error(`WebDriver ${method} ${url} failed (${res.status}): ${v.error ?? ""} ${v.message ?? ""}`);
  }
  return json.value;
}

export const KEY = { space: "\uE00D", enter: "\uE007", tab: "\uE004", down: "\uE015", up: "\uE013", escape: "\uE00C", backspace: "\uE003" };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor(fn, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

export class Session {
  /** `driver`: the tauri-driver this session runs under (another one for a second window). */
  constructor(id, driver = DRIVER) {
    this.id = id;
    this.driver = driver;
  }

  /** Opens the app on a fresh scratch database (or `db` if given). */
  static async start({ db, args = [] } = {}) {
    const dbPath = db ?? path.join(mkdtempSync(path.join(tmpdir(), "stepdown-e2e-")), "stepdown.db");
    const s = await Session.launch(APP, ["--db", dbPath, ...args]);
    s.dbPath = dbPath;
    // The window paints asynchronously; wait for the Svelte shell to mount.
    await waitFor(() => s.find("[data-testid=service-name]").then(() => true), "the app shell");
    return s;
  }

  /** Opens any Tauri application binary without waiting for its page. */
  static async launch(application, args = [], driver = DRIVER) {
    const value = await request("POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application, args } } },
    }, driver);
    return new Session(value.sessionId, driver);
  }

  cmd(method, suffix, body) {
    return request(method, `/session/${this.id}${suffix}`, body, this.driver);
  }

  title() {
    return this.cmd("GET", "/title");
  }

  async find(css) {
    const v = await this.cmd("POST", "/element", { using: "css selector", value: css });
    return v[ELEMENT];
  }

  async findAll(css) {
    const v = await this.cmd("POST", "/elements", { using: "css selector", value: css });
    return v.map((e) => e[ELEMENT]);
  }

  async text(css) {
    return this.cmd("GET", `/element/${await this.find(css)}/text`);
  }

  async click(css) {
    return this.cmd("POST", `/element/${await this.find(css)}/click`, {});
  }

  /** Types into an element (keys as WebDriver sends them: "\uE007" is Enter). */
  async type(css, text) {
    return this.cmd("POST", `/element/${await this.find(css)}/value`, { text });
  }

  /** Activates a button or link from the keyboard (focus, then Enter). */
  async press(css) {
    return this.type(css, KEY.enter);
  }

  /** Ticks a radio or checkbox from the keyboard (Space). */
  async tick(css) {
    return this.type(css, KEY.space);
  }

  async clear(css) {
    return this.cmd("POST", `/element/${await this.find(css)}/clear`, {});
  }

  /** Sends keys to whatever has focus. */
  async keys(text) {
    const actions = [...text].flatMap((k) => [
      { type: "keyDown", value: k },
      { type: "keyUp", value: k },
    ]);
    await this.cmd("POST", "/actions", { actions: [{ type: "key", id: "keyboard", actions }] });
    await this.cmd("DELETE", "/actions");
  }

  async exists(css) {
    return (await this.findAll(css)).length > 0;
  }

  execute(script, args = []) {
    return this.cmd("POST", "/execute/sync", { script, args });
  }

  executeAsync(script, args = []) {
    return this.cmd("POST", "/execute/async", { script, args });
  }

  /** Runs axe-core in the page and returns its violations. */
  async axe() {
    const require = createRequire(path.join(ROOT, "ui/package.json"));
    const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
    await this.execute(`${source}\nreturn typeof axe;`);
    const raw = await this.executeAsync(
      `const done = arguments[arguments.length - 1];
       axe.run(document, { resultTypes: ["violations"] })
         .then((r) => done(JSON.stringify(r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) })))))
         .catch((e) => done("ERROR " + e));`,
    );
    if (typeof raw !== "string" || raw.startsWith("ERROR")) throw new Error(`axe failed: ${raw}`);
    return JSON.parse(raw);
  }

  async screenshot(name) {
    // Screenshots can lag behind the DOM right after an interaction.
    await sleep(300);
    const b64 = await this.cmd("GET", "/screenshot");
    mkdirSync(SCREENSHOTS, { recursive: true });
    const file = path.join(SCREENSHOTS, `${name}.png`);
    writeFileSync(file, Buffer.from(b64, "base64"));
    return file;
  }

  end() {
    return this.cmd("DELETE", "");
  }
}

/** Runs the stepdown CLI and parses its JSON output. */
export function cliJson(args) {
  return JSON.parse(execFileSync(CLI, args, { encoding: "utf8" }));
}

/** Fails with a readable list when axe finds serious or critical problems. */
export function seriousViolations(violations) {
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Asserts axe finds no serious or critical problems on the screen now, naming it. */
export async function assertAxeClean(s, name) {
  const serious = seriousViolations(await s.axe());
  assert.deepEqual(serious, [], `axe on ${name}: ${JSON.stringify(serious, null, 2)}`);
}

/**
 * The usual start of a consultation test: practice settings saved (a leaflet
 * must say who to contact), a new patient added, their consultation open.
 */
export async function practiceAndNewPatient(s, patientName, nhsNumber) {
  await s.press("[data-testid=nav-settings]");
  await waitFor(() => s.exists("#settings-practice-name"), "settings");
  await s.type("#settings-practice-name", "Riverside Surgery");
  await s.type("#settings-practice-phone", "01632 960 123");
  await s.type("#settings-reviewer", "P. Harmacist");
  await s.press("[data-testid=settings-save]");
  await waitFor(() => s.exists("[data-testid=settings-saved]"), "settings saved");
  await s.press("[data-testid=nav-patients]");
  await waitFor(() => s.exists("[data-testid=add-patient]"), "patients");
  await s.press("[data-testid=add-patient]");
  await waitFor(() => s.exists("#patient-name"), "patient form");
  await s.type("#patient-name", patientName);
  await s.type("[data-testid=patient-nhs]", nhsNumber);
  await s.press("[data-testid=patient-save]");
  await waitFor(() => s.exists("[data-testid=start-consultation]"), "patient added");
  await s.press("[data-testid=start-consultation]");
  await waitFor(() => s.exists("[data-testid=product-search]"), "consultation");
}

/**
 * The X clipboard of the test display (run.sh starts Xvfb and exports
 * DISPLAY; the app draws on the same display), read with xclip as another
 * program would paste it. `clipboardSet` puts a marker there first, so that a
 * test reading the clipboard after a Copy button fails if nothing was copied.
 */
export function clipboardSet(text) {
  assert.ok(process.env.DISPLAY, "the e2e tests run on an X display (tests/e2e/run.sh)");
  // xclip stays in the background to serve the selection until another
  // program (the app) takes it over, or after serving it `-loops` times.
  execFileSync("xclip", ["-selection", "clipboard", "-loops", "1"], { input: text, stdio: ["pipe", "ignore", "ignore"] });
}

export function clipboardText() {
  assert.ok(process.env.DISPLAY, "the e2e tests run on an X display (tests/e2e/run.sh)");
  return execFileSync("xclip", ["-o", "-selection", "clipboard"], { encoding: "utf8", timeout: 5000 });
}
