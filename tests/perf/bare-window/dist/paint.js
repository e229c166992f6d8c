// Same first-paint marker as the Stepdown UI sets after mounting.
requestAnimationFrame(() => {
  window.__firstPaintAt = performance.timeOrigin + performance.now();
});
