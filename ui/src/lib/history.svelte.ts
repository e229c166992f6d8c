// Which patient's history is showing.
import type { Patient } from "./bindings/Patient";

class HistoryState {
  patient = $state<Patient | null>(null);
  /** The review being followed up (the Follow-up screen). */
  followUpReview = $state<number | null>(null);
}

export const history = new HistoryState();
