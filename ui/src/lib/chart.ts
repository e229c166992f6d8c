// Geometry for the small OME-over-time chart: pure, so it is unit tested.
export interface Point {
  /** ISO timestamp. */
  at: string;
  ome: number;
}

export interface ChartGeometry {
  width: number;
  height: number;
  /** SVG polyline points "x,y x,y". */
  line: string;
  dots: { x: number; y: number; label: string }[];
  /** y of the threshold line, if it falls in the chart. */
  thresholdY: number | null;
  yMax: number;
}

export function chartGeometry(points: Point[], threshold: number | null, width = 560, height = 180, pad = 32): ChartGeometry {
  const sorted = [...points].sort((a, b) => a.at.localeCompare(b.at));
  const yMax = Math.max(10, threshold ?? 0, ...sorted.map((p) => p.ome)) * 1.1;
  const x = (i: number) => (sorted.length <= 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (sorted.length - 1));
  const y = (v: number) => height - pad - (v / yMax) * (height - 2 * pad);
  const dots = sorted.map((p, i) => ({ x: x(i), y: y(p.ome), label: `${p.ome} mg` }));
  return {
    width,
    height,
    line: dots.map((d) => `${d.x.toFixed(1)},${d.y.toFixed(1)}`).join(" "),
    dots,
    thresholdY: threshold === null ? null : y(threshold),
    yMax,
  };
}

/**
 * Axis ticks from 0 to a round top at or above `max`, at a step of 1, 2 or 5
 * times a power of ten, about `count` of them: 0, 50, 100, 150 for 137. Never finer
 * than `minStep` (1 by default: counts of people have no halves).
 */
export function niceTicks(max: number, count = 4, minStep = 1): number[] {
  const m = Math.max(1, max);
  const raw = m / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(minStep, [1, 2, 5, 10].map((f) => f * pow).find((s) => s >= raw) ?? 10 * pow);
  const ticks: number[] = [];
  for (let v = 0; v < m + step; v += step) {
    ticks.push(Math.round(v * 1e6) / 1e6);
    if (v >= m) break;
  }
  return ticks;
}
