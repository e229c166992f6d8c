// Words for a conflict with another seat (ApiError code "conflict"): who got
// there first and when, in the clinician's own time, with the version numbers.
import type { ApiError } from "./bindings/ApiError";
import type { ClaimConflict } from "./bindings/ClaimConflict";
import type { ReviewConflict } from "./bindings/ReviewConflict";

/** "10:42" on the same day as `now`, else "10:42 on 6 December 2026" (local time unless `timeZone` is given). */
export function whenText(iso: string, now: Date = new Date(), timeZone?: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const time = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone }).format(t);
  const day = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone });
  return day.format(t) === day.format(now) ? time : `${time} on ${day.format(t)}`;
}

/** The review conflict carried by an error, if it is one. */
export function reviewConflict(e: ApiError | null): ReviewConflict | null {
  return e?.code === "conflict" && e.conflict?.kind === "review" ? e.conflict : null;
}

/** The claim conflict carried by an error, if it is one. */
export function claimConflict(e: ApiError | null): ClaimConflict | null {
  return e?.code === "conflict" && e.conflict?.kind === "claim" ? e.conflict : null;
}

/** "Saved by A. Pharmacist at 10:42 (version 3) after you opened version 2." */
export function reviewConflictText(c: ReviewConflict, now: Date = new Date(), timeZone?: string): string {
  return `Saved by ${c.saved_by} at ${whenText(c.saved_at, now, timeZone)} (version ${c.latest_version}) after you opened version ${c.base_version}.`;
}

/** "Patient P0042 is claimed by B. Pharmacist since 09:05." */
export function claimConflictText(c: ClaimConflict, now: Date = new Date(), timeZone?: string): string {
  return `Patient ${c.patient_id} is claimed by ${c.holder} since ${whenText(c.claimed_at, now, timeZone)}.`;
}
