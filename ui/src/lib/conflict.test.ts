import { describe, expect, it } from "vitest";
import { claimConflict, claimConflictText, reviewConflict, reviewConflictText, whenText } from "./conflict";
import type { ApiError } from "./bindings/ApiError";

const now = new Date("2026-12-07T15:00:00Z");

describe("conflict words", () => {
  it("gives the time alone on the same day, with the date otherwise", () => {
    expect(whenText("2026-12-07T10:42:00Z", now, "UTC")).toBe("10:42");
    expect(whenText("2026-12-06T10:42:00Z", now, "UTC")).toBe("10:42 on 6 December 2026");
    // Local time: London is UTC+1 in summer.
    expect(whenText("2026-07-01T09:05:00Z", new Date("2026-07-01T12:00:00Z"), "Europe/London")).toBe("10:05");
    expect(whenText("not a time", now, "UTC")).toBe("not a time");
  });

  it("names who saved first, when, and the versions", () => {
    const e: ApiError = {
      code: "conflict",
      message: "review 4 was saved by A. Pharmacist …",
      conflict: { kind: "review", review_id: 4, patient_id: 2, base_version: 2, latest_version: 3, saved_by: "A. Pharmacist", saved_at: "2026-12-07T10:42:00Z", draft_id: 7 },
    };
    const c = reviewConflict(e);
    expect(c?.draft_id).toBe(7);
    expect(claimConflict(e)).toBeNull();
    expect(reviewConflictText(c!, now, "UTC")).toBe("Saved by A. Pharmacist at 10:42 (version 3) after you opened version 2.");
  });

  it("names who holds a claimed patient and since when", () => {
    const e: ApiError = {
      code: "conflict",
      message: "worklist patient P0042 is claimed by B. Pharmacist",
      conflict: { kind: "claim", patient_id: "P0042", holder: "B. Pharmacist", claimed_at: "2026-12-07T09:05:00Z" },
    };
    expect(reviewConflict(e)).toBeNull();
    expect(claimConflictText(claimConflict(e)!, now, "UTC")).toBe("Patient P0042 is claimed by B. Pharmacist since 09:05.");
    expect(reviewConflict({ code: "storage", message: "disk full" })).toBeNull();
  });
});
