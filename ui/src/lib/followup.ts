// The follow-up form's draft and what is sent: answers as typed (selects
// give strings; blank means not asked), turned into the core's FollowUpInput.
// The core checks and scores everything; here only "half a scale answered"
// is caught, since the core cannot tell a forgotten answer from a 0.
import type { Decision } from "./bindings/Decision";
import type { FollowUpInput } from "./bindings/FollowUpInput";
import type { RawItem } from "./bindings/RawItem";
import type { TaperRequest } from "./bindings/TaperRequest";

export type ActualStatus = "on-plan" | "different-dose" | "stopped";

export interface FollowUpDraft {
  date: string;
  status: ActualStatus;
  /** PEG answers in order (pain, enjoyment, activity); "" = not asked. */
  peg: string[];
  /** SOWS answers in the scale's order; "" = not asked. */
  sows: string[];
  goals: string;
  decision: Decision;
  nextReview: string;
  notes: string;
  reviewer: string;
}

export function emptyFollowUp(date: string, reviewer: string, sowsItems = 10): FollowUpDraft {
  return {
    date,
    status: "on-plan",
    peg: ["", "", ""],
    sows: Array.from({ length: sowsItems }, () => ""),
    goals: "",
    decision: "continue",
    nextReview: "",
    notes: "",
    reviewer,
  };
}

/** Problems the core cannot see: a scale part-answered. Keyed like the core's fields. */
export function followUpLocalErrors(d: FollowUpDraft): Record<string, string> {
  const out: Record<string, string> = {};
  const partly = (xs: string[]) => xs.some((x) => x !== "") && xs.some((x) => x === "");
  if (partly(d.peg)) out["peg"] = "Answer all three PEG questions, or none of them";
  if (partly(d.sows)) out["sows"] = "Answer every withdrawal symptom (none is an answer), or none of them";
  return out;
}

/** What is saved: the entry only; the core works out the doses, scores and any new plan. */
export function toFollowUpInput(
  d: FollowUpDraft,
  reviewId: number,
  version: number,
  items: RawItem[],
  replan: TaperRequest | null = null,
): FollowUpInput {
  const peg = d.peg.every((x) => x !== "")
    ? { pain: Number(d.peg[0]), enjoyment: Number(d.peg[1]), activity: Number(d.peg[2]) }
    : null;
  const sows = d.sows.length > 0 && d.sows.every((x) => x !== "") ? d.sows.map(Number) : null;
  const actual: FollowUpInput["actual"] =
    d.status === "different-dose" ? { status: "different-dose", items } : { status: d.status };
  return {
    review_id: reviewId,
    version,
    date: d.date,
    reviewer: d.reviewer,
    actual,
    ...(peg ? { peg } : {}),
    ...(sows ? { sows } : {}),
    goals: d.goals,
    decision: d.decision,
    ...(d.nextReview ? { next_review: d.nextReview } : {}),
    notes: d.notes,
    ...(d.decision === "replan" && replan ? { replan } : {}),
  };
}

export const DECISIONS: { value: Decision; label: string; hint: string }[] = [
  { value: "continue", label: "Continue the plan", hint: "Carry on with the next steps as planned." },
  { value: "pause", label: "Pause", hint: "Stay at the current dose for now." },
  { value: "slow-down", label: "Slow down", hint: "Take the next steps more slowly." },
  { value: "replan", label: "Make a new plan from the current dose", hint: "Starts today from the dose taken now; the earlier plan stays in the history." },
  { value: "end-plan", label: "End the plan", hint: "Stopped, or reduction no longer pursued." },
];

export const DECISION_WORDS: Record<Decision, string> = {
  continue: "Continue",
  pause: "Pause",
  "slow-down": "Slow down",
  replan: "New plan",
  "end-plan": "End plan",
};
