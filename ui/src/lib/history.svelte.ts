// Which patient's history is showing.
import type { Patient } from "./bindings/Patient";

class HistoryState {
  patient = $state<Patient | null>(null);
}

export const history = new HistoryState();
