// Turning an ApiError into per-field messages for the NHS.UK error pattern.
import type { ApiError } from "./bindings/ApiError";

/** Field messages keyed by path; a message without fields goes under "". */
export function fieldMessages(error: ApiError | null): Record<string, string> {
  if (!error) return {};
  const out: Record<string, string> = {};
  for (const f of error.fields ?? []) out[f.path] = f.message;
  if (!error.fields?.length) {
    // Store errors name the field at the start: "nhs_number: check digit is wrong".
    const m = /^([a-z_][a-z0-9_.[\]]*): (.+)$/s.exec(error.message);
    if (m) out[m[1]] = m[2];
    else out[""] = error.message;
  }
  return out;
}
