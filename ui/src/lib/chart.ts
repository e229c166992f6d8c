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

/** A dated point for the OME-over-time chart of one patient. */
export interface DatedPoint {
  /** `YYYY-MM-DD`. */
  date: string;
  ome: number;
}

/** Days since 1970 of a `YYYY-MM-DD` date (UTC, so no daylight-saving drift). */
export function dayNumber(iso: string): number {
  return Math.round(Date.UTC(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)) - 1, Number(iso.slice(8, 10))) / 86400000);
}

/**
 * Scales for a chart of mg OME a day against real dates: x by day between the
 * first and last date (dates spaced as time passes, not evenly), y from 0 to
 * a round top with ticks. The plot area is [left, right] × [top, bottom].
 */
export function timeScales(points: DatedPoint[], box: { left: number; right: number; top: number; bottom: number }, threshold: number | null = null) {
  const days = points.map((p) => dayNumber(p.date));
  const first = Math.min(...days);
  const last = Math.max(...days);
  const span = Math.max(1, last - first);
  const ticks = niceTicks(Math.max(10, threshold ?? 0, ...points.map((p) => p.ome)), 4);
  const top = ticks[ticks.length - 1];
  const x = (date: string) => (last === first ? (box.left + box.right) / 2 : box.left + ((dayNumber(date) - first) / span) * (box.right - box.left));
  const y = (ome: number) => box.bottom - (ome / top) * (box.bottom - box.top);
  return { x, y, ticks, first, last };
}

/** Stepped SVG polyline points through (date, ome): level until the next date, then a vertical drop or rise. */
export function steppedLine(points: DatedPoint[], x: (d: string) => number, y: (v: number) => number, endDate?: string): string {
  const sorted = [...points].sort((a, b) => a.date.localeCompare(b.date));
  const out: string[] = [];
  sorted.forEach((p, i) => {
    if (i > 0) out.push(`${x(p.date).toFixed(1)},${y(sorted[i - 1].ome).toFixed(1)}`);
    out.push(`${x(p.date).toFixed(1)},${y(p.ome).toFixed(1)}`);
  });
  if (endDate && sorted.length) out.push(`${x(endDate).toFixed(1)},${y(sorted[sorted.length - 1].ome).toFixed(1)}`);
  return out.join(" ");
}

/** A value label to place beside its point: the point, and the text. */
export interface LabelAnchor {
  x: number;
  y: number;
  text: string;
}

/**
 * Where each value label goes so that no two overlap and none covers a
 * point's mark: above its point first, then further up a line at a time, then
 * below the point, down a line at a time; never above `top`. Widths are
 * estimated from the text (`charWidth` per character). A label with the same
 * text at the same place as one already placed (a review and a follow-up of
 * the same dose on the same day) is not repeated: `null`. Labels are centred
 * on x; the result is in the anchors' order. `blocked` is text already on
 * the chart that no label may cover.
 */
export function placeLabels(
  anchors: LabelAnchor[],
  top: number,
  blocked: { x: number; y: number; w: number }[] = [],
  lineHeight = 14,
  charWidth = 7,
  gap = 10,
  mark = 6,
): ({ x: number; y: number } | null)[] {
  type Box = { x: number; y: number; w: number };
  // Text already on the chart (centre x, baseline y, width), e.g. the "Today" label.
  const placed: Box[] = [...blocked];
  // A label's ink runs from about a line above its baseline to just below it.
  const hitsLabel = (b: Box) => placed.some((p) => Math.abs(p.x - b.x) < (p.w + b.w) / 2 + 2 && Math.abs(p.y - b.y) < lineHeight);
  const hitsMark = (b: Box) =>
    anchors.some((a) => Math.abs(a.x - b.x) < b.w / 2 + mark && b.y + 2 > a.y - mark && b.y - lineHeight + 2 < a.y + mark);
  const seen: { x: number; y: number; text: string }[] = [];
  return anchors.map((a) => {
    if (seen.some((s) => s.text === a.text && Math.abs(s.x - a.x) < 1 && Math.abs(s.y - a.y) < 1)) return null;
    seen.push(a);
    const w = a.text.length * charWidth;
    const candidates: number[] = [];
    for (let k = 0; a.y - gap - k * lineHeight >= top + lineHeight - 2; k++) candidates.push(a.y - gap - k * lineHeight);
    for (let k = 0; k < 50; k++) candidates.push(a.y + gap + lineHeight + k * lineHeight);
    const free = (c: number) => !hitsLabel({ x: a.x, y: c, w }) && !hitsMark({ x: a.x, y: c, w });
    const y = candidates.find(free) ?? candidates.find((c) => !hitsLabel({ x: a.x, y: c, w })) ?? candidates[candidates.length - 1];
    placed.push({ x: a.x, y, w });
    return { x: a.x, y };
  });
}
