// The Store part of Settings and the sign-in prompt: what to say about the
// store this window works on, and whether switching would close unsaved work.
// The checks on an address and the switch itself are the core's
// (switch_store); these only word what it returned.
import type { ChoiceSource } from "./bindings/ChoiceSource";
import type { StoreStatus } from "./bindings/StoreStatus";

/** Where each field of the store form and the sign-in box is. */
export const STORE_FIELD_IDS: Record<string, string> = {
  address: "store-address",
  role: "store-role",
  password: "store-password",
  discard: "store-discard",
};
export const SIGN_IN_FIELD_IDS: Record<string, string> = {
  role: "sign-in-role",
  password: "sign-in-password",
};

/** Set just before the window reloads onto a new store, shown once after. */
export const SWITCHED_KEY = "stepdown-store-switched";

/** A team store address (the server's, never a file). */
export function isTeamAddress(path: string): boolean {
  return /^postgres(ql)?:\/\//i.test(path);
}

/** One sentence: which store this window works on now. */
export function currentStore(s: StoreStatus): string {
  if (s.sign_in_needed) return `The team store at ${s.path}, not signed in yet.`;
  if (s.signed_in_as) return `The team store at ${s.path}, signed in as ${s.signed_in_as}.`;
  if (isTeamAddress(s.path)) return `The team store at ${s.path} (it could not be opened).`;
  return s.path === s.local_file ? `The store on this computer: ${s.path}.` : `The store file ${s.path}.`;
}

const STARTED: Partial<Record<ChoiceSource, string>> = {
  flag: "with --db on its command line",
  env: "with STEPDOWN_DB set",
};

/** When --db or STEPDOWN_DB chose the store at start-up, they choose it again
 * at the next start whatever is saved here: say so. */
export function overrideNote(s: StoreStatus): string | null {
  const how = STARTED[s.started_with];
  if (!how) return null;
  const now = s.source === "settings" ? "You switched store since; " : "";
  return `Stepdown was started ${how}, which decides the store over this setting. ${now}The choice below is saved, and used when Stepdown starts without it.`;
}

/** The minimum of the consultation that tells unsaved work apart. */
export interface ConsultationWork {
  patient: { name: string } | null;
  dirty: boolean;
  items: unknown[];
  lastSaved: unknown;
}

/** What switching would close unsaved, in words; null when nothing would be lost. */
export function unsavedWork(c: ConsultationWork): string | null {
  if (!c.patient) return null;
  const typed = c.dirty || (c.items.length > 0 && c.lastSaved === null);
  return typed ? `The consultation for ${c.patient.name} has changes that are not saved.` : null;
}

/** Said once on the first screen after the window switched store. */
export function switchedNotice(s: StoreStatus): string {
  if (s.signed_in_as) return `Now working on the team store at ${s.path}, signed in as ${s.signed_in_as}.`;
  return `Now working on the store on this computer: ${s.path}.`;
}
