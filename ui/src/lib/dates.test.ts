import { describe, expect, it } from "vitest";
import { isoFromParts, partsFromIso } from "./dates";

describe("UK date parts", () => {
  it("reads day, month, year the UK way", () => {
    expect(isoFromParts({ day: "1", month: "12", year: "2026" })).toBe("2026-12-01");
    expect(partsFromIso("2026-12-01")).toEqual({ day: "1", month: "12", year: "2026" });
  });

  it("refuses dates that do not exist and half-typed ones", () => {
    expect(isoFromParts({ day: "31", month: "2", year: "2027" })).toBeNull();
    expect(isoFromParts({ day: "1", month: "12", year: "26" })).toBeNull();
    expect(isoFromParts({ day: "", month: "", year: "" })).toBe("");
  });
});
