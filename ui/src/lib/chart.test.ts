import { describe, expect, it } from "vitest";
import { chartGeometry, dayNumber, niceTicks, placeLabels, steppedLine, timeScales } from "./chart";

describe("chartGeometry", () => {
  it("orders points by time and puts higher doses higher", () => {
    const g = chartGeometry(
      [
        { at: "2026-06-01T10:00:00Z", ome: 60 },
        { at: "2026-01-01T10:00:00Z", ome: 150 },
      ],
      90,
    );
    expect(g.dots[0].label).toBe("150 mg");
    expect(g.dots[0].y).toBeLessThan(g.dots[1].y);
    expect(g.dots[0].x).toBeLessThan(g.dots[1].x);
    expect(g.thresholdY).not.toBeNull();
    expect(g.thresholdY!).toBeGreaterThan(g.dots[0].y);
    expect(g.thresholdY!).toBeLessThan(g.dots[1].y);
  });

  it("centres a single review", () => {
    const g = chartGeometry([{ at: "2026-01-01T00:00:00Z", ome: 30 }], null);
    expect(g.dots[0].x).toBe(g.width / 2);
    expect(g.thresholdY).toBeNull();
  });
});

describe("niceTicks", () => {
  it("steps by 1, 2 or 5 times a power of ten up to a round top at or above the largest value", () => {
    expect(niceTicks(137)).toEqual([0, 50, 100, 150]);
    expect(niceTicks(8)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(1)).toEqual([0, 1]);
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(1000)).toEqual([0, 500, 1000]);
  });
});

describe("timeScales and steppedLine", () => {
  const box = { left: 50, right: 550, top: 20, bottom: 220 };
  it("spaces dates by the days between them and puts 0 at the bottom", () => {
    const pts = [
      { date: "2026-01-01", ome: 120 },
      { date: "2026-01-11", ome: 90 },
      { date: "2026-03-01", ome: 60 },
    ];
    const s = timeScales(pts, box, 90);
    expect(s.x("2026-01-01")).toBe(50);
    expect(s.x("2026-03-01")).toBe(550);
    // 10 of 59 days along.
    expect(s.x("2026-01-11")).toBeCloseTo(50 + (10 / 59) * 500, 5);
    expect(s.y(0)).toBe(220);
    expect(s.ticks).toEqual([0, 50, 100, 150]);
    expect(s.y(150)).toBe(20);
  });
  it("holds each level until the next date", () => {
    const line = steppedLine(
      [
        { date: "2026-01-11", ome: 50 },
        { date: "2026-01-01", ome: 100 },
      ],
      (d) => dayNumber(d) - dayNumber("2026-01-01"),
      (v) => v,
      "2026-01-21",
    );
    expect(line).toBe("0.0,100.0 10.0,100.0 10.0,50.0 20.0,50.0");
  });
});

describe("placeLabels", () => {
  const overlap = (a: { x: number; y: number }, b: { x: number; y: number }, wa: number, wb: number) =>
    Math.abs(a.x - b.x) < (wa + wb) / 2 && Math.abs(a.y - b.y) < 14;

  it("never lays two labels over each other or over a mark, even for points on the same day (120 and 110 at today)", () => {
    // The e2e chart: review 120 and follow-up 110 on one day, then 60 twice (re-plan review and follow-up).
    const anchors = [
      { x: 150, y: 378, text: "120" },
      { x: 150, y: 391, text: "110" },
      { x: 150, y: 456, text: "60" },
      { x: 150, y: 456, text: "60" },
      { x: 400, y: 420, text: "150" },
    ];
    const at = placeLabels(anchors, 340);
    const shown = at.map((p, i) => ({ p, w: anchors[i].text.length * 7, a: anchors[i] })).filter((x) => x.p !== null);
    for (let i = 0; i < shown.length; i++)
      for (let j = i + 1; j < shown.length; j++)
        expect(overlap(shown[i].p!, shown[j].p!, shown[i].w, shown[j].w), `${shown[i].a.text} and ${shown[j].a.text}`).toBe(false);
    for (const { p, w } of shown)
      for (const a of anchors) {
        const inside = Math.abs(a.x - p!.x) < w / 2 + 6 && p!.y + 2 > a.y - 6 && p!.y - 12 < a.y + 6;
        expect(inside, `label at ${p!.y} over the mark at ${a.y}`).toBe(false);
      }
    // The same dose on the same day is labelled once.
    expect(at[3]).toBeNull();
    // A label alone sits just above its point.
    expect(at[4]).toEqual({ x: 400, y: 410 });
  });

  it("keeps clear of text already on the chart (the Today label)", () => {
    const free = placeLabels([{ x: 150, y: 378, text: "120" }], 340);
    const today = { x: 171, y: 352, w: 35 };
    const at = placeLabels([{ x: 150, y: 378, text: "120" }], 340, [{ ...today, y: free[0]!.y }]);
    expect(at[0]!.y).not.toBe(free[0]!.y);
  });

  it("goes below the point when there is no room above", () => {
    const at = placeLabels(
      [
        { x: 100, y: 80, text: "200" },
        { x: 100, y: 80, text: "190" },
      ],
      56,
    );
    // The first just above; the second has no line left above (the plot starts at 56): below its point.
    expect(at[0]).toEqual({ x: 100, y: 70 });
    expect(at[1]!.y).toBeGreaterThan(80);
  });
});
