// Which practice a new record belongs to, on a team store (issue 19). A seat
// assigned to several practices must choose for each new patient and each
// import; a seat of one practice, or a SQLite store (no practices), is never
// asked and sends nothing (the core fills the one practice in). The core
// decides what is allowed: this only decides what the window shows and sends.
import type { ApiError } from "./bindings/ApiError";
import type { Practice } from "./bindings/Practice";

/** True when the seat must say which practice a new record belongs to. */
export function choiceNeeded(practices: readonly Practice[]): boolean {
  return practices.length > 1;
}

/** What to send as `practice`: the code chosen when a choice is asked (null
 * while none is chosen, which the core refuses as a field error), else null. */
export function practiceToSend(practices: readonly Practice[], chosen: string): string | null {
  if (!choiceNeeded(practices)) return null;
  return practices.some((p) => p.code === chosen) ? chosen : null;
}

/** "Name (ODS code)" for a practice this seat knows; the code alone otherwise. */
export function practiceLabel(practices: readonly Practice[], code: string | null | undefined): string {
  if (!code) return "";
  const p = practices.find((x) => x.code === code);
  return p ? `${p.name} (${p.code})` : code;
}

/** True when rows of more than one practice are listed together: then each
 * row says whose it is. (The core lists one practice's worklist at a time, and
 * the screen names it; this guards a list that ever mixes them.) */
export function practicePerRow(rows: readonly { practice_code?: string | null }[]): boolean {
  return new Set(rows.map((r) => r.practice_code ?? "")).size > 1;
}

/** A key for a worklist row: two practices' extracts can share an identifier. */
export function rowKey(row: { patient_id: string; practice_code?: string | null }): string {
  return `${row.practice_code ?? ""}/${row.patient_id}`;
}

/** The error shown when a choice is asked and none made, before anything is
 * sent (an import uses its chosen file once, so it is not sent to be refused). */
export function missingPractice(what: string): ApiError {
  const message = `Choose the practice ${what} belongs to`;
  return { code: "invalid-input", message: `practice: ${message}`, fields: [{ path: "practice", message }] };
}

/** The practice to name beside a patient: "Name (ODS code)" when the seat works
 * for several (the same name, even the same NHS number, may be at two of them),
 * else "" (a seat of one practice, or a SQLite store, has nothing to tell apart). */
export function patientPractice(practices: readonly Practice[], code: string | null | undefined): string {
  return choiceNeeded(practices) ? practiceLabel(practices, code) : "";
}
