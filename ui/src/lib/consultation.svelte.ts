// Consultation state lives outside the screen component so that moving to
// another screen and back never loses what the clinician typed.
import { api } from "./api";
import type { ApiError } from "./bindings/ApiError";
import type { AssessReport } from "./bindings/AssessReport";
import type { RawPatient } from "./bindings/RawPatient";
import { emptyPatient, fromRawPatient, patientLocalErrors, toRawPatient, type DraftPatient } from "./patientContext";
import type { Profile } from "./bindings/Profile";
import type { Patient } from "./bindings/Patient";
import type { ProductChoice } from "./bindings/ProductChoice";
import type { RawItem } from "./bindings/RawItem";
import type { Review } from "./bindings/Review";
import type { ReviewSummary } from "./bindings/ReviewSummary";
import { settings } from "./settings.svelte";
import type { Edit } from "./bindings/Edit";
import type { Plan } from "./bindings/Plan";
import { emptyTaper, taperFromRequest, taperLocalErrors, toPlanInput, type TaperDraft } from "./plan";
import type { ReviewInput } from "./bindings/ReviewInput";
import type { SharedDecision } from "./bindings/SharedDecision";
import { reviewConflict } from "./conflict";

/** Nothing recorded yet. */
export const emptyShared = (): SharedDecision => ({ goals: "", agreement: "not-recorded", support_person: "", review_schedule: "" });
const sharedIsEmpty = (d: SharedDecision) =>
  !d.goals.trim() && d.agreement === "not-recorded" && !d.support_person.trim() && !d.review_schedule.trim();
import { draftFromChoice, localErrors, toRawItem, type DraftItem } from "./regimen";


/** A case-finding worklist entry's two figures (mg OME a day). */
export interface ExtractFigures {
  /** From the dose instructions. */
  instruction: number;
  /** From supply (quantity issued ÷ days between issues); null when no product could be measured. */
  supply: number | null;
  /** Every current product measured from supply. */
  supplyComplete: boolean;
  /** The two differ by more than the reference fraction. */
  differ: boolean;
}

class Consultation {
  patient = $state<Patient | null>(null);
  items = $state<DraftItem[]>([]);
  context = $state<DraftPatient>(emptyPatient());
  notes = $state("");
  reviewer = $state("");
  /** What was agreed with the patient (NICE NG215). */
  shared = $state<SharedDecision>(emptyShared());
  /** Taper options as typed, the clinician's edits, and the resulting plan. */
  taper = $state<TaperDraft>(emptyTaper("standard"));
  edits = $state<Edit[]>([]);
  plan = $state<Plan | null>(null);
  planError = $state<ApiError | null>(null);
  planRequested = $state(false);
  /** The plan shown is the last one that could be made: the latest options or regimen were refused. */
  planStale = $state(false);
  /** Something changed since the last save (printing saves first, so a
   * printed plan always matches a stored version). */
  dirty = $state(false);
  /** The review being edited: saving again makes a new version of it. */
  reviewId = $state<number | null>(null);
  /** The version the entry started from (the one opened, or the last saved): a save
   * refused because another seat saved a newer one meanwhile is kept as a draft. */
  baseVersion = $state<number | null>(null);
  lastSaved = $state<ReviewSummary | null>(null);
  saveError = $state<ApiError | null>(null);
  /** The last save was refused because another seat saved a newer version first;
   * the entry is kept as a draft, to reapply on top of that version or discard. */
  conflict = $derived(reviewConflict(this.saveError));
  profile = $derived<Profile>(settings.value.profile);
  highDoseThreshold = $derived<number | null>(settings.value.high_dose_threshold_mg_per_day);
  assessment = $state<AssessReport | null>(null);
  report = $derived(this.assessment?.ome ?? null);
  /** Error from the core for the last calculation (fields keyed by path). */
  error = $state<ApiError | null>(null);
  /** Problems found before asking the core (text that is not a number). */
  local = $derived({ ...localErrors(this.items), ...patientLocalErrors(this.context), ...taperLocalErrors(this.taper) });
  /** Every field problem, keyed by path. */
  fieldErrors = $derived.by(() => {
    const all: Record<string, string> = {};
    // Why the core refused to save (the save form shows reviewer and notes itself).
    for (const f of this.saveError?.fields ?? []) if (f.path !== "reviewer" && f.path !== "notes") all[f.path] = f.message;
    for (const f of this.error?.fields ?? []) all[f.path] = f.message;
    for (const f of this.planError?.fields ?? []) if (!f.path.startsWith("items")) all[f.path] = f.message;
    return { ...all, ...this.local };
  });
  /** The worklist's figures when the consultation was started from an extract. */
  extract = $state<ExtractFigures | null>(null);
  private generation = 0;

  /** Starts a new, empty consultation for a patient. */
  startFor(patient: Patient) {
    this.patient = patient;
    this.extract = null;
    this.items = [];
    this.context = emptyPatient();
    this.notes = "";
    this.shared = emptyShared();
    this.reviewer = settings.value.reviewer_name;
    this.reviewId = null;
    this.baseVersion = null;
    this.lastSaved = null;
    this.saveError = null;
    this.assessment = null;
    this.error = null;
    this.taper = emptyTaper(this.taper.preset);
    this.edits = [];
    this.plan = null;
    this.planError = null;
    this.planRequested = false;
    this.planStale = false;
  }

  /** Makes (or remakes) the plan from the regimen, the taper options and the edits. */
  async makePlan() {
    this.planRequested = true;
    this.dirty = true;
    if (this.items.length === 0 || Object.keys(this.local).length > 0) return;
    try {
      this.plan = await api.plan({
        input: toPlanInput(this.items.map(toRawItem), this.taper),
        edits: this.edits,
        profile: this.profile,
      });
      this.planError = null;
      this.planStale = false;
    } catch (e) {
      this.planError = e as ApiError;
      this.planStale = this.plan !== null;
    }
  }

  /** Adds a clinician edit; if the core refuses it, it is dropped and the reason shown. */
  async edit(edit: Edit): Promise<boolean> {
    this.edits.push(edit);
    await this.makePlan();
    if (this.planError) {
      this.edits.pop();
      const refused = this.planError;
      await this.makePlan();
      this.planError = refused;
      return false;
    }
    return true;
  }

  async undoEdit() {
    this.edits.pop();
    await this.makePlan();
  }

  /** Starts a consultation prefilled from a case-finding worklist entry,
   * keeping the worklist's two figures to show beside the working. */
  async startFromExtract(patient: Patient, items: RawItem[], context: RawPatient, figures: ExtractFigures | null = null) {
    this.startFor(patient);
    this.extract = figures;
    const choices = await api.describeItems(items);
    this.items = choices.map((c) => draftFromChoice(c));
    this.context = fromRawPatient(context);
    await this.recalculate();
  }

  /** Opens a saved review to continue it: saving makes a new version. */
  async open(patient: Patient, review: Review) {
    this.startFor(patient);
    const choices = await api.describeItems(review.items);
    this.items = choices.map((c) => draftFromChoice(c));
    this.context = fromRawPatient(review.patient);
    this.notes = review.notes;
    this.shared = review.shared_decision ? { ...review.shared_decision } : emptyShared();
    this.reviewer = settings.value.reviewer_name || review.reviewer;
    this.reviewId = review.review_id;
    this.baseVersion = review.version;
    this.lastSaved = null;
    if (review.taper) {
      this.taper = taperFromRequest(review.taper, this.taper.preset);
      this.edits = review.taper.edits;
      await this.makePlan();
    }
    await this.recalculate();
  }

  /** What is saved: the inputs only. The core computes OME, flags and plan from them. */
  reviewInput(): ReviewInput | null {
    if (!this.patient) return null;
    const plan = toPlanInput(this.items.map(toRawItem), this.taper);
    return {
      patient_id: this.patient.id,
      review_id: this.reviewId,
      base_version: this.reviewId === null ? null : this.baseVersion,
      reviewer: this.reviewer,
      notes: this.notes,
      patient: toRawPatient(this.context),
      items: this.items.map(toRawItem),
      ...(sharedIsEmpty(this.shared) ? {} : { shared_decision: { ...this.shared } }),
      ...(this.planRequested
        ? { taper: { start_date: plan.start_date, taper: plan.taper, edits: this.edits } }
        : {}),
    };
  }

  /** Saves the consultation: the first save creates the review, later saves add versions.
   * An entry with a problem is refused (by the core, or here for text that is not a
   * number), with the problem beside its field. */
  async save(): Promise<ReviewSummary | null> {
    const input = this.reviewInput();
    if (!input) return null;
    this.saveError = null;
    const local = Object.entries(this.local);
    if (local.length > 0) {
      this.saveError = {
        code: "invalid-input",
        message: local.map(([path, message]) => `${path}: ${message}`).join("\n"),
        fields: local.map(([path, message]) => ({ path, message })),
      };
      return null;
    }
    const generation = this.generation;
    try {
      const saved = await api.saveReview(input);
      this.reviewId = saved.review_id;
      this.baseVersion = saved.version;
      this.lastSaved = saved;
      this.dirty = false;
      // Show what was stored, unless the clinician has changed something since.
      if (generation === this.generation) {
        const stored = await api.getReview(saved.review_id, saved.version);
        if (generation === this.generation) {
          this.assessment = stored.assessment;
          this.error = null;
          if (stored.plan) this.plan = stored.plan;
        }
      }
      return saved;
    } catch (e) {
      this.saveError = e as ApiError;
      return null;
    }
  }

  /** After a conflict: saves the kept draft (this entry as it was when refused) as the
   * review's newest version, on top of the version the other seat saved. */
  async reapplyDraft(): Promise<ReviewSummary | null> {
    const conflict = this.conflict;
    if (!conflict) return null;
    const generation = this.generation;
    try {
      const saved = await api.reapplyReviewDraft(conflict.draft_id);
      this.saveError = null;
      this.baseVersion = saved.version;
      this.lastSaved = saved;
      // Anything changed since the refused save is still here, still to save.
      if (generation === this.generation) {
        this.dirty = false;
        const stored = await api.getReview(saved.review_id, saved.version);
        if (generation === this.generation) {
          this.assessment = stored.assessment;
          if (stored.plan) this.plan = stored.plan;
        }
      }
      return saved;
    } catch (e) {
      this.saveError = e as ApiError;
      return null;
    }
  }

  /** After a conflict: deletes the kept draft and opens the version the other seat saved. */
  async discardDraft() {
    const conflict = this.conflict;
    const patient = this.patient;
    if (!conflict || !patient) return;
    try {
      await api.discardReviewDraft(conflict.draft_id);
      await this.open(patient, await api.getReview(conflict.review_id));
    } catch (e) {
      this.saveError = e as ApiError;
    }
  }

  /** The saved version the outputs come from: saves first if anything changed. */
  async savedVersion(): Promise<ReviewSummary | null> {
    if (this.lastSaved && !this.dirty) return this.lastSaved;
    return this.save();
  }

  add(choice: ProductChoice) {
    this.items.push(draftFromChoice(choice));
    this.recalculate();
  }

  /** Adds other medicines (co-medication names the clinician confirmed) to the patient context, once each. */
  addCoMedications(names: string[]) {
    let added = false;
    for (const name of names) {
      if (!this.context.coMedications.some((c) => c.toLowerCase() === name.toLowerCase())) {
        this.context.coMedications.push(name);
        added = true;
      }
    }
    if (added) this.recalculate();
  }

  remove(key: number) {
    this.items = this.items.filter((i) => i.key !== key);
    // A reduction order names items by position, which removing one changes.
    this.taper.order = [];
    this.recalculate();
  }

  /** Recalculates from the current entries; late answers to older requests are dropped. */
  async recalculate() {
    const generation = ++this.generation;
    this.dirty = true;
    if (this.items.length === 0) {
      this.assessment = null;
      this.error = null;
      return;
    }
    if (Object.keys(this.local).length > 0) {
      // Keep showing the last good figures until the entry is a number again.
      this.error = null;
      return;
    }
    try {
      const report = await api.assess({
        items: this.items.map(toRawItem),
        patient: toRawPatient(this.context),
        profile: this.profile,
        ...(this.highDoseThreshold !== null ? { high_dose_threshold_mg_per_day: this.highDoseThreshold } : {}),
      });
      if (generation !== this.generation) return;
      this.assessment = report;
      this.error = null;
      // A plan already shown follows the regimen as it changes.
      if (this.planRequested) await this.makePlan();
    } catch (e) {
      if (generation !== this.generation) return;
      this.error = e as ApiError;
    }
  }
}

export const consultation = new Consultation();
