// The only place the UI talks to the Rust side. Every command returns data or
// rejects with the core's `{code, message}` ApiError; anything else is wrapped
// so the UI never has to guess the shape of an error.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { ApiError } from "./bindings/ApiError";
import type { AssessReport } from "./bindings/AssessReport";
import type { AssessRequest } from "./bindings/AssessRequest";
import type { ProductChoice } from "./bindings/ProductChoice";
import type { Patient } from "./bindings/Patient";
import type { PatientInput } from "./bindings/PatientInput";
import type { PatientSummary } from "./bindings/PatientSummary";
import type { Practice } from "./bindings/Practice";
import type { PracticeContact } from "./bindings/PracticeContact";
import type { PracticeContactInput } from "./bindings/PracticeContactInput";
import type { PracticeContacts } from "./bindings/PracticeContacts";
import type { RawItem } from "./bindings/RawItem";
import type { ReferenceInfo } from "./bindings/ReferenceInfo";
import type { Review } from "./bindings/Review";
import type { ReviewInput } from "./bindings/ReviewInput";
import type { ReviewSummary } from "./bindings/ReviewSummary";
import type { FollowUp } from "./bindings/FollowUp";
import type { FollowUpDue } from "./bindings/FollowUpDue";
import type { FollowUpInput } from "./bindings/FollowUpInput";
import type { Outcomes } from "./bindings/Outcomes";
import type { ScaleItemRow } from "./bindings/ScaleItemRow";
import type { PastedList } from "./bindings/PastedList";
import type { Settings } from "./bindings/Settings";
import type { Figures } from "./bindings/Figures";
import type { ImportProgress } from "./bindings/ImportProgress";
import type { ImportReport } from "./bindings/ImportReport";
import type { ImportPreset } from "./bindings/ImportPreset";
import type { LeafletPrintRequest } from "./bindings/LeafletPrintRequest";
import type { Worklist } from "./bindings/Worklist";
import type { WorklistClaim } from "./bindings/WorklistClaim";
import type { WorklistPatient } from "./bindings/WorklistPatient";
import type { ClaimStatus } from "./bindings/ClaimStatus";
import type { ReviewDraft } from "./bindings/ReviewDraft";
import type { WorklistFilters } from "./bindings/WorklistFilters";
import type { Plan } from "./bindings/Plan";
import type { PrintResult } from "./bindings/PrintResult";
import type { PlanRequestUi } from "./bindings/PlanRequestUi";
import type { PresetInfo } from "./bindings/PresetInfo";
import type { StaleTable } from "./bindings/StaleTable";
import type { SaveKind } from "./bindings/SaveKind";
import type { StoreStatus } from "./bindings/StoreStatus";
import type { StoreChoice } from "./bindings/StoreChoice";
import type { SignIn } from "./bindings/SignIn";
import type { ThresholdRow } from "./bindings/ThresholdRow";

/** Which worklist patient: the extract's identifier and, on a team store, the
 * practice whose extract it is in (two practices' extracts can share an identifier). */
export type WorklistKey = Pick<WorklistPatient, "patient_id" | "practice_code">;

/** What loading demo patients created. */
export interface DemoReport {
  patients: number;
  reviews: number;
  review_versions: number;
  follow_ups: number;
}

export function isApiError(value: unknown): value is ApiError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ApiError).code === "string" &&
    typeof (value as ApiError).message === "string"
  );
}

export function toApiError(value: unknown): ApiError {
  if (isApiError(value)) return value;
  const message =
    value instanceof Error ? value.message : typeof value === "string" ? value : JSON.stringify(value);
  return { code: "internal", message: message || "Unknown error" };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toApiError(e);
  }
}

export const api = {
  referenceInfo: () => call<ReferenceInfo>("reference_info"),
  referenceCurrency: () => call<StaleTable[]>("reference_currency"),
  searchProducts: (query: string) => call<ProductChoice[]>("search_products", { query }),
  assess: (request: AssessRequest) => call<AssessReport>("assess", { request }),
  plan: (request: PlanRequestUi) => call<Plan>("plan", { request }),
  taperPresets: () => call<PresetInfo[]>("taper_presets"),
  thresholds: () => call<ThresholdRow[]>("thresholds"),
  coMedicationNames: () => call<string[]>("co_medication_names"),
  describeItems: (items: RawItem[]) => call<ProductChoice[]>("describe_items", { items }),
  knownDrugs: () => call<string[]>("known_drugs"),
  /** The leaflet of a saved version, rendered by the core from its stored plan. */
  /** Asks where to save an output of `kind` (the native dialog, opened by the
   * shell, which remembers the answer for the next write of that kind: no path
   * is ever passed back to it). Returns the path to show; null if cancelled. */
  chooseSavePath: (kind: SaveKind, suggestedName: string) =>
    call<string | null>("choose_save_path", { kind, suggestedName }),
  /** Writes the leaflet to the path chosen with chooseSavePath("leaflet"). */
  printLeaflet: (request: LeafletPrintRequest) => call<PrintResult>("print_leaflet", { request }),
  /** Opens the leaflet just written in the system's PDF viewer. */
  openLeaflet: () => call<void>("open_leaflet"),
  /** The clinician summary of a saved version, from its stored assessment and plan. */
  summaryForRecord: (reviewId: number, version: number) => call<string>("summary_for_record", { reviewId, version }),
  codedSummaryForRecord: (reviewId: number, version: number) => call<string>("coded_summary_for_record", { reviewId, version }),
  /** Asks which file to import (the native open dialog, opened by the shell,
   * which keeps the path: the webview never holds the file). Returns the file's
   * name to show; null if cancelled (an earlier choice is kept). */
  chooseImportFile: (kind: "extract" | "exclusions") => call<string | null>("choose_import_file", { kind }),
  /** Forgets the file chosen for `kind`. */
  forgetImportFile: (kind: "extract" | "exclusions") => call<void>("forget_import_file", { kind }),
  /** Imports the extract chosen with chooseImportFile (read by the shell from
   * its path), leaving off the patients of the chosen exclusion list if any.
   * `practice`: the ODS code of the practice the extract is from, when the seat
   * works for several (null otherwise: the core fills in the one practice). */
  importExtract: (
    listSize: number | null,
    preset: string | null,
    practice: string | null,
    onProgress: (p: ImportProgress) => void,
  ) => {
    const channel = new Channel<ImportProgress>();
    channel.onmessage = onProgress;
    return call<ImportReport>("import_extract", { listSize, preset, practice, onProgress: channel });
  },
  /** The clinical-system export formats the import reads by their headers (issue 16). */
  importPresets: () => call<ImportPreset[]>("import_presets"),
  worklist: (filters: WorklistFilters) => call<Worklist>("worklist", { filters }),
  /** The name this seat is recorded under: the holder of its claims ("mine"). */
  seatName: () => call<string>("seat_name"),
  /** The practices this seat may make new records in (a team store; none on a
   * SQLite file). With more than one, each new patient and import names its own. */
  seatPractices: () => call<Practice[]>("seat_practices"),
  /** This seat takes a worklist patient (the row: claims are keyed by practice and
   * identifier); a conflict names whoever holds them. */
  claimWorklistPatient: (p: WorklistKey) =>
    call<WorklistClaim>("claim_worklist_patient", { patientId: p.patient_id, practiceCode: p.practice_code ?? null }),
  /** This seat lets a worklist patient it holds go (the status stays). */
  releaseWorklistPatient: (p: WorklistKey) =>
    call<WorklistClaim>("release_worklist_patient", { patientId: p.patient_id, practiceCode: p.practice_code ?? null }),
  /** Where a worklist patient is up to (only the holder on a held one). */
  setWorklistStatus: (p: WorklistKey, status: ClaimStatus) =>
    call<WorklistClaim>("set_worklist_status", { patientId: p.patient_id, practiceCode: p.practice_code ?? null, status }),
  /** The practice's figures month by month; on a team store `practice` says
   * whose (needed when the seat works for several: never pooled). */
  practiceFigures: (practice: string | null) => call<Figures>("practice_figures", { practice }),
  /** Writes the figures CSV to the chosen path; returns it. */
  saveFiguresCsv: (practice: string | null) => call<string>("save_figures_csv", { practice }),
  /** The store's patient for a worklist row (found, or made, in the row's practice). */
  patientForExtract: (p: Pick<WorklistPatient, "patient_id" | "nhs_number" | "practice_code">) =>
    call<Patient>("patient_for_extract", { patientId: p.patient_id, nhsNumber: p.nhs_number, practice: p.practice_code ?? null }),
  storeStatus: () => call<StoreStatus>("store_status"),
  /** Tests the chosen store (signed in as the seat on a team store), saves the
   * choice and switches to it; on failure nothing changes. The password is
   * never saved. */
  switchStore: (choice: StoreChoice, signIn: SignIn | null) => call<StoreStatus>("switch_store", { choice, signIn }),
  getSettings: () => call<Settings>("get_settings"),
  updateSettings: (settings: Settings) => call<Settings>("update_settings", { settings }),
  /** Each practice's leaflet details (a SQLite file's one practice: the settings'), and whether this seat may change them. */
  practiceContacts: () => call<PracticeContacts>("practice_contacts"),
  /** Sets one practice's leaflet details on a team store (administrators only); audited. */
  setPracticeContact: (code: string, input: PracticeContactInput) => call<PracticeContact>("set_practice_contact", { code, input }),
  searchPatients: (query: string) => call<PatientSummary[]>("search_patients", { query }),
  getPatient: (id: number) => call<Patient>("get_patient", { id }),
  createPatient: (input: PatientInput) => call<Patient>("create_patient", { input }),
  updatePatient: (id: number, input: PatientInput) => call<Patient>("update_patient", { id, input }),
  checkNhsNumber: (text: string) => call<string>("check_nhs_number", { text }),
  loadDemoPatients: () => call<DemoReport>("load_demo_patients"),
  patientHistory: (patientId: number) => call<ReviewSummary[]>("patient_history", { patientId }),
  /** Saves the inputs; the core computes and stores OME, flags and plan, or refuses with fields. */
  saveReview: (input: ReviewInput) => call<ReviewSummary>("save_review", { input }),
  /** The entries kept when a save was refused because another seat saved first. */
  reviewDrafts: (reviewId: number) => call<ReviewDraft[]>("review_drafts", { reviewId }),
  /** Saves a kept draft as the review's newest version and deletes it. */
  reapplyReviewDraft: (draftId: number) => call<ReviewSummary>("reapply_review_draft", { draftId }),
  /** Deletes a kept draft without saving it. */
  discardReviewDraft: (draftId: number) => call<void>("discard_review_draft", { draftId }),
  getReview: (reviewId: number, version?: number) => call<Review>("get_review", { reviewId, version: version ?? null }),
  /** Saves a follow-up of the review's current version; a re-plan saves its next version. */
  saveFollowUp: (input: FollowUpInput) => call<FollowUp>("save_follow_up", { input }),
  /** Where the patient should be on the review's current plan today, with its follow-ups. */
  followUpDue: (reviewId: number) => call<FollowUpDue>("follow_up_due", { reviewId }),
  /** Outcomes per patient and month by month, as of today (docs/outcomes.md). */
  outcomes: () => call<Outcomes>("outcomes"),
  /** The PEG and SOWS items, wording and ranges, from the reference data. */
  followUpScales: () => call<ScaleItemRow[]>("follow_up_scales"),
  /** Writes the outcomes CSV (month by month, or per patient) to the chosen path; returns it. */
  saveOutcomesCsv: (patients: boolean) => call<string>("save_outcomes_csv", { patients }),
  /** Writes the one-page outcomes report PDF to the chosen path; returns it. */
  saveOutcomesReport: () => call<string>("save_outcomes_report"),
  /** Reads a pasted medication list line by line (nothing is used until confirmed). */
  readMedicationList: (text: string) => call<PastedList>("read_medication_list", { text }),
  /** Writes the summary PDF of a saved version (shared decision and follow-ups included); returns the path. */
  saveSummaryPdf: (reviewId: number, version: number) => call<string>("save_summary_pdf", { reviewId, version }),
};
