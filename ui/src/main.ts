import "./styles.scss";
import { mount } from "svelte";
import App from "./App.svelte";

const target = document.getElementById("app");
if (!target) {
  throw new Error("Stepdown: #app element missing from index.html");
}

export default mount(App, { target });

// First-paint marker read by the start-up benchmark (tests/perf/ui_perf.mjs),
// measured the same way for a bare Tauri window.
requestAnimationFrame(() => {
  (window as unknown as { __firstPaintAt: number }).__firstPaintAt = performance.timeOrigin + performance.now();
});
