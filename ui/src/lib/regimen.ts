// The regimen as the clinician types it. Numbers are kept as the text typed,
// so nothing is lost or reformatted while typing; they become numbers only
// when sent to the core, which does all the validation that matters.
import type { ProductChoice } from "./bindings/ProductChoice";
import type { RawItem } from "./bindings/RawItem";
import type { RawTimedDose } from "./bindings/RawTimedDose";
import type { TimeOfDay } from "./bindings/TimeOfDay";

/** The numeric fields a clinician edits on an item (the quantity supplied at each issue is optional). */
export type DoseField = "units_per_dose" | "doses_per_day" | "ml_per_dose" | "patches" | "quantity_per_issue";

export interface DraftItem {
  /** Local key for the list; never sent. */
  key: number;
  choice: ProductChoice;
  asNeeded: boolean;
  text: Record<DoseField, string>;
  /** A different dose at named times of day (tablets, capsules and liquids taken regularly). */
  byTime: boolean;
  /** Amount at each time as typed (units or mL); blank = not taken then. */
  timeText: Record<TimeOfDay, string>;
}

/** Times of day, earliest first, as the core names them. */
export const TIMES: TimeOfDay[] = ["morning", "midday", "teatime", "evening", "night"];

export const TIME_LABELS: Record<TimeOfDay, string> = {
  morning: "Morning",
  midday: "Midday",
  teatime: "Teatime",
  evening: "Evening",
  night: "Night",
};

/** Usual times for n equal doses a day, to prefill when switching to doses by time. */
const USUAL_TIMES: Record<number, TimeOfDay[]> = {
  1: ["morning"],
  2: ["morning", "evening"],
  3: ["morning", "midday", "evening"],
  4: ["morning", "midday", "teatime", "night"],
};

const blankTimes = (): Record<TimeOfDay, string> => ({ morning: "", midday: "", teatime: "", evening: "", night: "" });

let nextKey = 1;

const asText = (n: number | undefined | null) => (n === undefined || n === null ? "" : String(n));

export function draftFromChoice(choice: ProductChoice): DraftItem {
  const timeText = blankTimes();
  for (const d of choice.item.doses ?? []) {
    // The core also reads "bedtime" and "lunchtime" (as night and midday).
    const name = String(d.time ?? "").trim().toLowerCase();
    const t = TIMES.find((x) => x === name) ?? (name === "bedtime" ? "night" : name === "lunchtime" ? "midday" : undefined);
    if (t) timeText[t] = asText(d.units ?? d.ml ?? (d.mg !== undefined ? d.mg / (choice.item.strength_mg ?? choice.item.strength_mg_per_ml ?? 1) : undefined));
  }
  return {
    key: nextKey++,
    choice,
    asNeeded: choice.item.as_needed ?? false,
    text: {
      units_per_dose: asText(choice.item.units_per_dose),
      doses_per_day: asText(choice.item.doses_per_day),
      ml_per_dose: asText(choice.item.ml_per_dose),
      patches: asText(choice.item.patches),
      quantity_per_issue: asText(choice.item.quantity_per_issue),
    },
    byTime: choice.item.doses !== undefined,
    timeText,
  };
}

/** Whether this item can be given as a dose per time of day (not patches, not when needed). */
export function canGoByTime(item: DraftItem): boolean {
  return item.choice.form !== "patch" && !item.asNeeded;
}

/** Whether the per-time entry is in use for this item. */
export function usesTimes(item: DraftItem): boolean {
  return item.byTime && canGoByTime(item);
}

/** Switches an item to (or from) doses by time of day, prefilling the usual times from the equal doses. */
export function setByTime(item: DraftItem, on: boolean): void {
  item.byTime = on;
  if (!on || TIMES.some((t) => item.timeText[t].trim() !== "")) return;
  const per = item.choice.form === "solution" ? item.text.ml_per_dose : item.text.units_per_dose || "1";
  const n = parseNumber(item.text.doses_per_day);
  for (const t of (n !== undefined && USUAL_TIMES[n]) || []) item.timeText[t] = per;
}

/** What the per-time amounts count: tablets or capsules, or mL. */
export function timeAmountField(item: DraftItem): "units" | "ml" {
  return item.choice.form === "solution" ? "ml" : "units";
}

/** The times with an amount typed, earliest first: the order the core receives them (its `doses[j]`). */
export function timesEntered(item: DraftItem): TimeOfDay[] {
  return TIMES.filter((t) => item.timeText[t].trim() !== "");
}

/** Which dose fields apply to this product's form. */
export function fieldsFor(choice: ProductChoice, byTime = false): DoseField[] {
  if (choice.form === "patch") return ["patches"];
  // A liquid's mL at each issue feeds the large-volume flag (morphine oral solution over 300 mL).
  if (choice.form === "solution") return byTime ? ["quantity_per_issue"] : ["ml_per_dose", "doses_per_day", "quantity_per_issue"];
  // Doses by time of day replace the per-dose amount and the doses a day.
  if (byTime) return [];
  return ["units_per_dose", "doses_per_day"];
}

export const FIELD_LABELS: Record<DoseField, string> = {
  units_per_dose: "Tablets or capsules each dose",
  doses_per_day: "Doses a day",
  ml_per_dose: "mL each dose",
  patches: "Patches worn at once",
  quantity_per_issue: "mL supplied on each prescription (optional)",
};

/** Parses typed text: a number, blank (undefined), or not a number (NaN). */
export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  // Only plain decimals: "1e3" or "0x10" in a dose box is a typing slip.
  if (!/^-?\d+(\.\d+)?$/.test(t)) return Number.NaN;
  return Number(t);
}

/** Local problems the core cannot see (text that is not a number), keyed `items[i].field`. */
export function localErrors(items: DraftItem[]): Record<string, string> {
  const errors: Record<string, string> = {};
  items.forEach((item, i) => {
    for (const f of fieldsFor(item.choice, usesTimes(item))) {
      if (Number.isNaN(parseNumber(item.text[f]))) {
        errors[`items[${i}].${f}`] = `Enter a number, like 1 or 2.5 (got "${item.text[f]}")`;
      }
    }
    if (usesTimes(item)) {
      timesEntered(item).forEach((t, j) => {
        if (Number.isNaN(parseNumber(item.timeText[t]))) {
          errors[`items[${i}].doses[${j}].${timeAmountField(item)}`] = `Enter a number, like 1 or 2.5 (got "${item.timeText[t]}")`;
        }
      });
    }
  });
  return errors;
}

/** The item as the core's RawItem. Call only when localErrors is empty. */
export function toRawItem(item: DraftItem): RawItem {
  const raw: RawItem = { ...item.choice.item };
  delete raw.doses;
  if (usesTimes(item)) {
    delete raw.units_per_dose;
    delete raw.ml_per_dose;
    delete raw.doses_per_day;
    const field = timeAmountField(item);
    raw.doses = timesEntered(item).map((t): RawTimedDose => ({ time: t, [field]: parseNumber(item.timeText[t]) }));
  }
  for (const f of fieldsFor(item.choice, usesTimes(item))) {
    const v = parseNumber(item.text[f]);
    if (v === undefined) delete raw[f];
    else raw[f] = v;
  }
  if (item.choice.form !== "patch") raw.as_needed = item.asNeeded;
  return raw;
}
