// Desktop UI benchmarks (issue 9), run by tests/perf/ui_perf.sh under Xvfb
// with tauri-driver listening:
//  - cold start to first paint and memory (PSS over the app and its WebKit
//    helper processes), each as a ratio against a bare Tauri v2 window built
//    the same way, measured in the same run, alternating runs;
//  - keystroke-to-updated-total latency in the Consultation screen.
// Prints JSON and writes target/perf/ui-perf.json. Not part of `make test`:
// timings are measured here, never asserted in tests.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { APP, KEY, ROOT, Session, sleep, waitFor } from "../e2e/webdriver.mjs";

const BARE = process.env.BARE_APP ?? path.join(ROOT, "target/debug/bare-window");
const RUNS = Number(process.env.PERF_RUNS ?? 5);
const KEYSTROKES = Number(process.env.PERF_KEYSTROKES ?? 40);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function children(pid) {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // process ended while we looked
    }
  }
  return out;
}

function pssKb(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The newest process running `binary`, and everything it started. */
function processTree(binary) {
  const pids = execFileSync("pgrep", ["-f", "-n", binary], { encoding: "utf8" }).trim().split("\n").map(Number);
  const all = new Set(pids);
  const queue = [...pids];
  while (queue.length) for (const c of children(queue.pop())) if (!all.has(c)) all.add(c), queue.push(c);
  return [...all];
}

async function startOnce(binary, args) {
  const t0 = performance.timeOrigin + performance.now();
  const s = await Session.launch(binary, args);
  const painted = await waitFor(() => s.execute("return window.__firstPaintAt || null"), "first paint", 20000);
  const startMs = painted - t0;
  await sleep(2500); // settle: let start-up allocations finish before reading memory
  const tree = processTree(binary);
  const pss = tree.reduce((sum, p) => sum + pssKb(p), 0);
  await s.end();
  await sleep(1500); // the app can take over a second to exit
  return { startMs, pssMb: pss / 1024, processes: tree.length };
}

async function keystrokeLatency() {
  const db = path.join(mkdtempSync(path.join(tmpdir(), "stepdown-perf-")), "perf.db");
  const s = await Session.start({ db });
  await s.click("[data-testid=nav-consultation]");
  await s.type("[data-testid=product-search]", "MST 60");
  await waitFor(async () => (await s.findAll("[role=option]")).length === 1, "MST 60");
  await s.type("[data-testid=product-search]", KEY.enter);
  await waitFor(async () => (await s.text("[data-testid=ome-total]")) === "120 mg", "total");
  const samples = [];
  for (let i = 0; i < KEYSTROKES; i++) {
    const next = i % 2 === 0 ? "1" : "2";
    const ms = await s.executeAsync(
      `const done = arguments[arguments.length - 1];
       const input = document.querySelector("[data-testid=item-0-doses_per_day]");
       const total = document.querySelector("[data-testid=ome-total]");
       const before = total.textContent;
       const t0 = performance.now();
       const obs = new MutationObserver(() => {
         if (total.textContent !== before) { obs.disconnect(); done(performance.now() - t0); }
       });
       obs.observe(total, { characterData: true, childList: true, subtree: true });
       input.value = ${JSON.stringify(next)};
       input.dispatchEvent(new InputEvent("input", { bubbles: true, data: ${JSON.stringify(next)} }));
       setTimeout(() => { obs.disconnect(); done(-1); }, 2000);`,
    );
    if (ms >= 0) samples.push(ms);
  }
  await s.end();
  return samples;
}

const results = { bare: [], app: [] };
for (let i = 0; i < RUNS; i++) {
  results.bare.push(await startOnce(BARE, []));
  const db = path.join(mkdtempSync(path.join(tmpdir(), "stepdown-perf-")), "perf.db");
  results.app.push(await startOnce(APP, ["--db", db]));
}
const keys = await keystrokeLatency();
const summary = {
  runs: RUNS,
  bare: { start_ms_median: median(results.bare.map((r) => r.startMs)), pss_mb_median: median(results.bare.map((r) => r.pssMb)) },
  app: { start_ms_median: median(results.app.map((r) => r.startMs)), pss_mb_median: median(results.app.map((r) => r.pssMb)) },
  keystroke_to_total_ms: { median: median(keys), max: Math.max(...keys), samples: keys.length },
};
summary.start_ratio = summary.app.start_ms_median / summary.bare.start_ms_median;
summary.memory_ratio = summary.app.pss_mb_median / summary.bare.pss_mb_median;
summary.raw = results;
mkdirSync(path.join(ROOT, "target/perf"), { recursive: true });
writeFileSync(path.join(ROOT, "target/perf/ui-perf.json"), JSON.stringify(summary, null, 2));
console.log(JSON.stringify({ ...summary, raw: undefined }, null, 2));
