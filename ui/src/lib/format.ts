// Display formatting shared by every screen. Dates are shown the way UK
// clinicians write them ("1 December 2026"), never as ISO strings.

const LONG_DATE = new Intl.DateTimeFormat("en-GB", {
  day: "numeric",
  month: "long",
  year: "numeric",
  timeZone: "UTC",
});

/** Formats an ISO date (YYYY-MM-DD) as "1 December 2026"; returns the input unchanged if it is not one. */
export function longDate(iso: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) return iso;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (Number.isNaN(d.getTime()) || d.getUTCDate() !== Number(m[3])) return iso;
  return LONG_DATE.format(d);
}

/**
 * mg for people: whole numbers as they are, others to at most 2 decimal places
 * ("0.05 mg", "7.5 mg"), never rounded to 0.1 so a tiny, implausible figure stays visible.
 */
export function mgText(n: number): string {
  return `${Number.isInteger(n) ? n : Number(n.toFixed(2))} mg`;
}

/**
 * The core's messages name regimen entries by their JSON path ("items[0] (morphine): …"),
 * which the CLI needs; on screen they read as the entry's place in the list ("Medicine 1 (morphine): …").
 */
export function readableItemRefs(text: string): string {
  const out = text.replace(/\bitems\[(\d+)\]/g, (_, n: string) => `medicine ${Number(n) + 1}`);
  return out.charAt(0).toUpperCase() + out.slice(1);
}
