// What the clinician knows about the patient, as typed. Numbers stay as text
// until sent, like the regimen, so nothing typed is lost or reformatted.
import type { PatientCondition } from "./bindings/PatientCondition";
import type { PatientHistory } from "./bindings/PatientHistory";
import type { RawPatient } from "./bindings/RawPatient";
import type { Sex } from "./bindings/Sex";
import { parseNumber } from "./regimen";

export type NumberField = "age" | "weight_kg" | "egfr" | "months_on_opioids" | "co_medication_paracetamol_mg_per_day";

export interface DraftPatient {
  numbers: Record<NumberField, string>;
  sex: Sex | "";
  conditions: PatientCondition[];
  history: PatientHistory[];
  coMedications: string[];
  opioidNaive: boolean;
}

export const NUMBER_LABELS: Record<NumberField, { label: string; hint?: string }> = {
  age: { label: "Age, years" },
  weight_kg: { label: "Weight, kg" },
  egfr: { label: "eGFR, mL/min/1.73 m²" },
  months_on_opioids: { label: "Months on opioids" },
  co_medication_paracetamol_mg_per_day: { label: "Paracetamol from other medicines, mg a day" },
};

export const CONDITIONS: { id: PatientCondition; label: string }[] = [
  { id: "copd", label: "COPD" },
  { id: "asthma", label: "Asthma" },
  { id: "sleep-apnoea", label: "Sleep apnoea" },
  { id: "hepatic-impairment", label: "Liver impairment" },
  { id: "pregnancy", label: "Pregnant" },
  { id: "breastfeeding", label: "Breastfeeding" },
  { id: "depression", label: "Depression" },
  { id: "falls", label: "Falls" },
  { id: "dementia", label: "Dementia" },
  { id: "epilepsy", label: "Epilepsy" },
];

export const HISTORY: { id: PatientHistory; label: string }[] = [
  { id: "overdose", label: "Previous overdose" },
  { id: "substance-use-disorder", label: "Substance use disorder" },
  { id: "alcohol-misuse", label: "Alcohol misuse" },
  { id: "mental-health-disorder", label: "Mental health disorder" },
];

export function emptyPatient(): DraftPatient {
  return {
    numbers: { age: "", weight_kg: "", egfr: "", months_on_opioids: "", co_medication_paracetamol_mg_per_day: "" },
    sex: "",
    conditions: [],
    history: [],
    coMedications: [],
    opioidNaive: false,
  };
}

/** Text that is not a number, keyed `patient.field`. */
export function patientLocalErrors(p: DraftPatient): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [field, text] of Object.entries(p.numbers)) {
    if (Number.isNaN(parseNumber(text))) errors[`patient.${field}`] = `Enter a number (got "${text}")`;
  }
  return errors;
}

/** The patient as the core's RawPatient; only what was entered is sent. */
export function toRawPatient(p: DraftPatient): RawPatient {
  const raw: RawPatient = {};
  for (const [field, text] of Object.entries(p.numbers) as [NumberField, string][]) {
    const v = parseNumber(text);
    if (v !== undefined) raw[field] = v;
  }
  if (p.sex) raw.sex = p.sex;
  if (p.conditions.length) raw.conditions = [...p.conditions];
  if (p.history.length) raw.history = [...p.history];
  if (p.coMedications.length) raw.co_medications = [...p.coMedications];
  if (p.opioidNaive) raw.opioid_naive = true;
  return raw;
}

/** Back from a saved review's patient context. */
export function fromRawPatient(raw: RawPatient | null | undefined): DraftPatient {
  const p = emptyPatient();
  if (!raw) return p;
  for (const field of Object.keys(p.numbers) as NumberField[]) {
    const v = raw[field];
    if (typeof v === "number") p.numbers[field] = String(v);
  }
  p.sex = raw.sex ?? "";
  p.conditions = [...(raw.conditions ?? [])];
  p.history = [...(raw.history ?? [])];
  p.coMedications = [...(raw.co_medications ?? [])];
  p.opioidNaive = raw.opioid_naive ?? false;
  return p;
}
