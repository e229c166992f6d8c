import { describe, expect, it } from "vitest";
import { longDate } from "./format";

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
