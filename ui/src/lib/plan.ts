// Taper plan helpers for the UI: the options form as typed, and how units
// and dates are written in the step table.
import type { RawPlanInput } from "./bindings/RawPlanInput";
import type { TaperRequest } from "./bindings/TaperRequest";
import type { RawItem } from "./bindings/RawItem";
import type { ReductionOf } from "./bindings/ReductionOf";
import type { OrderEntry } from "./bindings/OrderEntry";
import type { UnitAmount } from "./bindings/UnitAmount";
import { parseNumber } from "./regimen";
import { mgText } from "./format";

export interface TaperDraft {
  /** A preset name, or "custom". */
  preset: string;
  reductionPercent: string;
  of: ReductionOf;
  intervalDays: string;
  target: string;
  startDate: string;
  slowLastThird: boolean;
  /** Why a custom rate faster than a rapid taper is needed (the core says when it is). */
  reason: string;
  /** Items to reduce first, by position (empty: the reference order). */
  order: OrderEntry[];
}

/** Today as YYYY-MM-DD in local time (the UI's clock; the core never reads one). */
export function todayIso(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}`;
}

export function emptyTaper(defaultPreset: string, today = todayIso()): TaperDraft {
  return { preset: defaultPreset, reductionPercent: "", of: "original", intervalDays: "", target: "0", startDate: today, slowLastThird: false, reason: "", order: [] };
}

/** Local problems (text that is not a number), keyed by the core's field paths. */
export function taperLocalErrors(t: TaperDraft): Record<string, string> {
  const errors: Record<string, string> = {};
  const check = (path: string, text: string) => {
    if (Number.isNaN(parseNumber(text))) errors[path] = `Enter a number (got "${text}")`;
  };
  if (t.preset === "custom") {
    check("taper.reduction_percent", t.reductionPercent);
    check("taper.interval_days", t.intervalDays);
  }
  check("taper.target_ome_mg_per_day", t.target);
  return errors;
}

/** The options form for a saved taper request (reopening a saved review). */
export function taperFromRequest(t: TaperRequest, defaultPreset: string): TaperDraft {
  const o = t.taper ?? {};
  const text = (n: number | undefined) => (n === undefined ? "" : String(n));
  return {
    preset: o.preset ?? (o.reduction_percent !== undefined || o.interval_days !== undefined ? "custom" : defaultPreset),
    reductionPercent: text(o.reduction_percent),
    of: o.of ?? "original",
    intervalDays: text(o.interval_days),
    target: o.target_ome_mg_per_day === undefined ? "0" : String(o.target_ome_mg_per_day),
    startDate: t.start_date ?? "",
    slowLastThird: o.slow_last_third ?? false,
    reason: o.reason ?? "",
    order: o.order ?? [],
  };
}

/** The plan input as the core reads it. */
export function toPlanInput(items: RawItem[], t: TaperDraft): RawPlanInput {
  const taper: NonNullable<RawPlanInput["taper"]> = {};
  if (t.preset === "custom") {
    const pct = parseNumber(t.reductionPercent);
    const days = parseNumber(t.intervalDays);
    if (pct !== undefined) taper.reduction_percent = pct;
    if (days !== undefined) taper.interval_days = days;
    taper.of = t.of;
    if (t.reason.trim()) taper.reason = t.reason.trim();
  } else {
    taper.preset = t.preset;
  }
  const target = parseNumber(t.target);
  if (target !== undefined) taper.target_ome_mg_per_day = target;
  if (t.slowLastThird) taper.slow_last_third = true;
  if (t.order.length) taper.order = t.order;
  return { items, start_date: t.startDate || undefined, taper };
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * "2 × 30 mg", "2 × 30/500 mg" (a combination: both strengths, as the core's
 * plan text and supply lines say them), "1 patch of 25 micrograms/hour", "5 mL (10 mg)": a
 * liquid dose in mL and mg, as the core's plan text says it; the product's name above states the
 * strength as the bottle does (10 mg/5 mL), so "2 mg/mL" is never set beside a 20 mg/mL concentrate.
 * `entered` is the item as the plan's request has it: a combination's paracetamol per tablet
 * ("30/500 mg"), or oxycodone with naloxone in proportion to the oxycodone ("20 mg/10 mg").
 */
export function unitText(u: UnitAmount, entered?: Pick<RawItem, "paracetamol_mg" | "naloxone_mg" | "strength_mg">): string {
  if ("strength_mg" in u) {
    const p = entered?.paracetamol_mg;
    const n = entered?.naloxone_mg;
    const s = entered?.strength_mg;
    if (p) return `${u.count} × ${u.strength_mg}/${p} mg`;
    // The core's plan text says it the same way, as the box does.
    if (n && s) return `${u.count} × ${u.strength_mg} mg/${Math.round((u.strength_mg * n * 100) / s) / 100} mg`;
    return `${u.count} × ${u.strength_mg} mg`;
  }
  if ("strength_mcg_per_hour" in u) return `${plural(u.count, "patch", "patches")} of ${u.strength_mcg_per_hour} micrograms/hour`;
  return `${u.ml} mL (${mgText(u.ml * u.strength_mg_per_ml)})`;
}
