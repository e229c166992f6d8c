import { describe, expect, it } from "vitest";
import { chartGeometry, niceTicks } from "./chart";

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
