// Dates typed as day, month and year (the NHS.UK date input pattern), so a
// date can never be read the American way round. The core checks real dates.

export interface DateParts {
  day: string;
  month: string;
  year: string;
}

export function partsFromIso(iso: string | null | undefined): DateParts {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso ?? "");
  return m ? { day: String(Number(m[3])), month: String(Number(m[2])), year: m[1] } : { day: "", month: "", year: "" };
}

/** ISO date from the parts; "" when all are blank; null when they do not make a date. */
export function isoFromParts(p: DateParts): string | null {
  const [d, m, y] = [p.day.trim(), p.month.trim(), p.year.trim()];
  if (!d && !m && !y) return "";
  if (!/^\d{1,2}$/.test(d) || !/^\d{1,2}$/.test(m) || !/^\d{4}$/.test(y)) return null;
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  if (date.getUTCFullYear() !== Number(y) || date.getUTCMonth() !== Number(m) - 1 || date.getUTCDate() !== Number(d)) return null;
  return `${y}-${m.padStart(2, "0")}-${d.padStart(2, "0")}`;
}
