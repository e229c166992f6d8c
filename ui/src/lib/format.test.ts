import { describe, expect, it } from "vitest";
import { longDate, mgText, readableItemRefs } from "./format";

describe("longDate", () => {
  it("writes ISO dates the UK way", () => {
    expect(longDate("2026-12-01")).toBe("1 December 2026");
    expect(longDate("2027-11-01")).toBe("1 November 2027");
  });

  it("leaves anything that is not a real ISO date unchanged", () => {
    expect(longDate("2026-02-30")).toBe("2026-02-30");
    expect(longDate("next week")).toBe("next week");
  });
});

describe("mgText", () => {
  it("keeps a tiny figure visible instead of rounding it to 0.1", () => {
    expect(mgText(0.05)).toBe("0.05 mg");
    expect(mgText(7.5)).toBe("7.5 mg");
    expect(mgText(120)).toBe("120 mg");
    expect(mgText(33.333)).toBe("33.33 mg");
  });
});

describe("readableItemRefs", () => {
  it("names regimen entries by their place in the list", () => {
    expect(readableItemRefs("items[0] (morphine): check it")).toBe("Medicine 1 (morphine): check it");
    expect(readableItemRefs("items[0] and items[2] are the same medicine")).toBe(
      "Medicine 1 and medicine 3 are the same medicine",
    );
    expect(readableItemRefs("No entries named")).toBe("No entries named");
  });
});
