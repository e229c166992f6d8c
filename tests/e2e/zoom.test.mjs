// End-to-end: the screens at 200% zoom (WCAG 2.2 reflow). A 1280-pixel
// window at 200% lays out like a 640-pixel window at 100%, so the window is
// resized to that: nothing may need sideways scrolling.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Session, sleep, waitFor } from "./webdriver.mjs";

let s;

before(async () => {
  s = await Session.start();
  await s.cmd("POST", "/window/rect", { width: 640, height: 400 });
  await sleep(500);
});

after(async () => {
  if (s) await s.end();
});

test("every screen reflows at 200% zoom (640 CSS pixels wide) without sideways scrolling", async () => {
  const width = await s.execute("return window.innerWidth");
  assert.ok(width <= 660, `window is ${width} CSS pixels wide`);
  for (const id of ["patients", "consultation", "case-finding", "settings", "about"]) {
    await s.execute(`document.querySelector("[data-testid=nav-${id}]").click()`);
    await waitFor(async () => (await s.text("main h1")) !== "", `${id} heading`);
    await sleep(200);
    const wide = await s.execute(`const w = document.documentElement.clientWidth; const out = [];
      for (const el of document.querySelectorAll("main *, header *")) {
        const b = el.getBoundingClientRect();
        if (b.width > 0 && b.right > w + 1) out.push(el.tagName.toLowerCase() + "." + el.className);
      }
      return { overflow: document.documentElement.scrollWidth - w, wide: out.slice(0, 5) };`);
    await s.screenshot(`reflow-${id}`);
    assert.ok(wide.overflow <= 1, `${id} scrolls sideways by ${wide.overflow}px: ${JSON.stringify(wide.wide)}`);
  }
});
