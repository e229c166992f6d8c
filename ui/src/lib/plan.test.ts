import { describe, expect, it } from "vitest";
import { emptyTaper, taperFromRequest, taperLocalErrors, todayIso, toPlanInput, unitText } from "./plan";

describe("plan helpers", () => {
  it("writes today as an ISO date in local time", () => {
    expect(todayIso(new Date(2026, 11, 1, 9, 30))).toBe("2026-12-01");
  });

  it("sends a preset by name, or the custom figures", () => {
    const t = emptyTaper("standard", "2026-12-01");
    expect(toPlanInput([], t)).toEqual({ items: [], start_date: "2026-12-01", taper: { preset: "standard", target_ome_mg_per_day: 0 } });
    t.preset = "custom";
    t.reductionPercent = "5";
    t.intervalDays = "28";
    t.of = "current";
    expect(toPlanInput([], t).taper).toEqual({ reduction_percent: 5, interval_days: 28, of: "current", target_ome_mg_per_day: 0 });
  });

  it("sends the reason for a fast custom rate, trimmed, and reads it back from a saved request", () => {
    const t = emptyTaper("standard", "2026-12-01");
    t.preset = "custom";
    t.reductionPercent = "25";
    t.intervalDays = "7";
    t.reason = "  Opioids for 3 weeks after surgery only ";
    const sent = toPlanInput([], t).taper;
    expect(sent?.reason).toBe("Opioids for 3 weeks after surgery only");
    expect(taperFromRequest({ start_date: "2026-12-01", taper: sent, edits: [] }, "standard").reason).toBe("Opioids for 3 weeks after surgery only");
    t.reason = "   ";
    expect(toPlanInput([], t).taper).not.toHaveProperty("reason");
    // A preset never carries a reason: presets are within guidance.
    t.preset = "standard";
    t.reason = "left over";
    expect(toPlanInput([], t).taper).not.toHaveProperty("reason");
  });

  it("sends the clinician's reduction order, and reads it back", () => {
    const t = emptyTaper("standard", "2026-12-01");
    expect(toPlanInput([], t).taper).not.toHaveProperty("order");
    t.order = [1, 0];
    const sent = toPlanInput([], t).taper;
    expect(sent?.order).toEqual([1, 0]);
    expect(taperFromRequest({ start_date: "2026-12-01", taper: sent, edits: [] }, "standard").order).toEqual([1, 0]);
  });

  it("names a custom figure that is not a number", () => {
    const t = emptyTaper("standard");
    t.preset = "custom";
    t.reductionPercent = "ten";
    expect(taperLocalErrors(t)).toEqual({ "taper.reduction_percent": 'Enter a number (got "ten")' });
  });

  it("writes units the way a pharmacist reads them", () => {
    expect(unitText({ strength_mg: 30, count: 2 })).toBe("2 × 30 mg");
    // Co-codamol reads 30/500, never "30 mg" (a dispensing-error risk).
    expect(unitText({ strength_mg: 30, count: 2 }, { paracetamol_mg: 500 })).toBe("2 × 30/500 mg");
    // Oxycodone with naloxone: both parts, the naloxone following the oxycodone strength.
    expect(unitText({ strength_mg: 10, count: 1 }, { strength_mg: 20, naloxone_mg: 10 })).toBe("1 × 10 mg/5 mg");
    expect(unitText({ strength_mg: 5, count: 1 }, { strength_mg: 20, naloxone_mg: 10 })).toBe("1 × 5 mg/2.5 mg");
    expect(unitText({ strength_mcg_per_hour: 25, count: 1 })).toBe("1 patch of 25 micrograms/hour");
    // A liquid in mL and mg, never "of 2 mg/mL" (read beside 20 mg/mL, a tenfold risk).
    expect(unitText({ strength_mg_per_ml: 2, ml: 5 })).toBe("5 mL (10 mg)");
    expect(unitText({ strength_mg_per_ml: 20, ml: 0.5 })).toBe("0.5 mL (10 mg)");
    expect(unitText({ strength_mg_per_ml: 1, ml: 2.5 })).toBe("2.5 mL (2.5 mg)");
  });
});
