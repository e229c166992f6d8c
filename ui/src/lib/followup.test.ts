import { describe, expect, it } from "vitest";
import { emptyFollowUp, followUpLocalErrors, toFollowUpInput } from "./followup";

const item = { drug: "morphine", route: "oral", release: "modified", strength_mg: 30, units_per_dose: 1, doses_per_day: 2 } as const;

describe("follow-up draft", () => {
  it("sends scales only when fully answered, and items only for a different dose", () => {
    const d = emptyFollowUp("2026-12-07", "P. Harmacist");
    d.peg = ["5", "4", "3"];
    const onPlan = toFollowUpInput(d, 3, 1, [item]);
    expect(onPlan.actual).toEqual({ status: "on-plan" });
    expect(onPlan.peg).toEqual({ pain: 5, enjoyment: 4, activity: 3 });
    expect(onPlan.sows).toBeUndefined();
    expect(onPlan.next_review).toBeUndefined();
    d.status = "different-dose";
    d.sows = ["0", "1", "0", "0", "0", "2", "1", "0", "0", "3"];
    d.nextReview = "2027-01-04";
    const diff = toFollowUpInput(d, 3, 1, [item]);
    expect(diff.actual).toEqual({ status: "different-dose", items: [item] });
    expect(diff.sows).toEqual([0, 1, 0, 0, 0, 2, 1, 0, 0, 3]);
    expect(diff.next_review).toBe("2027-01-04");
  });

  it("a part-answered scale is a problem; none or all is not", () => {
    const d = emptyFollowUp("2026-12-07", "x");
    expect(followUpLocalErrors(d)).toEqual({});
    d.peg = ["5", "", ""];
    d.sows[0] = "1";
    expect(Object.keys(followUpLocalErrors(d))).toEqual(["peg", "sows"]);
  });

  it("taper options go only with a re-plan", () => {
    const d = emptyFollowUp("2026-12-07", "x");
    const replan = { edits: [] };
    expect(toFollowUpInput(d, 1, 1, [], replan).replan).toBeUndefined();
    d.decision = "replan";
    expect(toFollowUpInput(d, 1, 1, [], replan).replan).toEqual(replan);
  });
});
