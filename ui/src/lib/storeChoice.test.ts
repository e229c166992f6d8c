import { describe, expect, it } from "vitest";
import type { StoreStatus } from "./bindings/StoreStatus";
import { currentStore, isTeamAddress, overrideNote, switchedNotice, unsavedWork } from "./storeChoice";

const local: StoreStatus = {
  path: "/home/me/.local/share/uk.nhs.stepdown/stepdown.db",
  patients: 3,
  error: null,
  signed_in_as: null,
  source: "default",
  started_with: "default",
  saved: { kind: "local" },
  saved_problem: null,
  sign_in_needed: false,
  local_file: "/home/me/.local/share/uk.nhs.stepdown/stepdown.db",
  choice_file: "/home/me/.config/uk.nhs.stepdown/store.json",
};
const team: StoreStatus = {
  ...local,
  path: "postgres://db.example.nhs.uk/stepdown?sslmode=verify-full",
  signed_in_as: "seat_alice",
  source: "settings",
  started_with: "settings",
  saved: { kind: "team", address: "postgres://db.example.nhs.uk/stepdown?sslmode=verify-full", role: "seat_alice" },
};

describe("the store in words", () => {
  it("names the local file, or the team store and who signed in", () => {
    expect(currentStore(local)).toBe("The store on this computer: /home/me/.local/share/uk.nhs.stepdown/stepdown.db.");
    expect(currentStore({ ...local, path: "/tmp/other.db", source: "flag" })).toBe("The store file /tmp/other.db.");
    expect(currentStore(team)).toBe("The team store at postgres://db.example.nhs.uk/stepdown?sslmode=verify-full, signed in as seat_alice.");
    expect(currentStore({ ...team, signed_in_as: null, sign_in_needed: true })).toMatch(/not signed in yet\.$/);
    expect(currentStore({ ...team, signed_in_as: null })).toMatch(/could not be opened/);
    expect(switchedNotice(team)).toBe("Now working on the team store at postgres://db.example.nhs.uk/stepdown?sslmode=verify-full, signed in as seat_alice.");
    expect(switchedNotice(local)).toMatch(/^Now working on the store on this computer/);
    expect(isTeamAddress("POSTGRESQL://x/y")).toBe(true);
    expect(isTeamAddress("/data/postgres.db")).toBe(false);
  });

  it("says when --db or STEPDOWN_DB decide over Settings", () => {
    expect(overrideNote(local)).toBeNull();
    expect(overrideNote(team)).toBeNull();
    expect(overrideNote({ ...local, source: "flag", started_with: "flag" })).toMatch(/^Stepdown was started with --db on its command line, which decides/);
    const env = overrideNote({ ...team, started_with: "env" });
    expect(env).toMatch(/STEPDOWN_DB/);
    expect(env).toMatch(/You switched store since/);
  });
});

describe("unsaved work before a switch", () => {
  const patient = { name: "Sam Jones" };
  it("is nothing without a consultation, or when it was saved", () => {
    expect(unsavedWork({ patient: null, dirty: true, items: [1], lastSaved: null })).toBeNull();
    expect(unsavedWork({ patient, dirty: false, items: [], lastSaved: null })).toBeNull();
    expect(unsavedWork({ patient, dirty: false, items: [1], lastSaved: { version: 1 } })).toBeNull();
  });
  it("names the patient when changes are not saved", () => {
    expect(unsavedWork({ patient, dirty: true, items: [], lastSaved: { version: 1 } })).toBe(
      "The consultation for Sam Jones has changes that are not saved.",
    );
    expect(unsavedWork({ patient, dirty: false, items: [1], lastSaved: null })).toMatch(/Sam Jones/);
  });
});
