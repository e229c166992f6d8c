// The regimen as the clinician types it. Numbers are kept as the text typed,
// so nothing is lost or reformatted while typing; they become numbers only
// when sent to the core, which does all the validation that matters.
import type { ProductChoice } from "./bindings/ProductChoice";
import type { RawItem } from "./bindings/RawItem";

/** The numeric fields a clinician edits on an item. */
export type DoseField = "units_per_dose" | "doses_per_day" | "ml_per_dose" | "patches";

export interface DraftItem {
  /** Local key for the list; never sent. */
  key: number;
  choice: ProductChoice;
  asNeeded: boolean;
  text: Record<DoseField, string>;
}

let nextKey = 1;

const asText = (n: number | undefined | null) => (n === undefined || n === null ? "" : String(n));

export function draftFromChoice(choice: ProductChoice): DraftItem {
  return {
    key: nextKey++,
    choice,
    asNeeded: choice.item.as_needed ?? false,
    text: {
      units_per_dose: asText(choice.item.units_per_dose),
      doses_per_day: asText(choice.item.doses_per_day),
      ml_per_dose: asText(choice.item.ml_per_dose),
      patches: asText(choice.item.patches),
    },
  };
}

/** Which dose fields apply to this product's form. */
export function fieldsFor(choice: ProductChoice): DoseField[] {
  if (choice.form === "patch") return ["patches"];
  if (choice.form === "solution") return ["ml_per_dose", "doses_per_day"];
  return ["units_per_dose", "doses_per_day"];
}

export const FIELD_LABELS: Record<DoseField, string> = {
  units_per_dose: "Tablets or capsules each dose",
  doses_per_day: "Doses a day",
  ml_per_dose: "mL each dose",
  patches: "Patches worn at once",
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
    for (const f of fieldsFor(item.choice)) {
      if (Number.isNaN(parseNumber(item.text[f]))) {
        errors[`items[${i}].${f}`] = `Enter a number, like 1 or 2.5 (got "${item.text[f]}")`;
      }
    }
  });
  return errors;
}

/** The item as the core's RawItem. Call only when localErrors is empty. */
export function toRawItem(item: DraftItem): RawItem {
  const raw: RawItem = { ...item.choice.item };
  for (const f of fieldsFor(item.choice)) {
    const v = parseNumber(item.text[f]);
    if (v === undefined) delete raw[f];
    else raw[f] = v;
  }
  if (item.choice.form !== "patch") raw.as_needed = item.asNeeded;
  return raw;
}
