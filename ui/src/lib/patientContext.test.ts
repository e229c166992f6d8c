import { describe, expect, it } from "vitest";
import { emptyPatient, fromRawPatient, patientLocalErrors, toRawPatient } from "./patientContext";

describe("patient context drafts", () => {
  it("sends only what was entered", () => {
    const p = emptyPatient();
    expect(toRawPatient(p)).toEqual({});
    p.numbers.age = "70";
    p.coMedications = ["Valium"];
    p.conditions = ["copd"];
    expect(toRawPatient(p)).toEqual({ age: 70, co_medications: ["Valium"], conditions: ["copd"] });
  });

  it("names a field whose text is not a number, keeping the text", () => {
    const p = emptyPatient();
    p.numbers.egfr = "about 40";
    expect(patientLocalErrors(p)).toEqual({ "patient.egfr": 'Enter a number (got "about 40")' });
    expect(p.numbers.egfr).toBe("about 40");
  });

  it("round-trips through a saved review", () => {
    const raw = { age: 81, egfr: 25, sex: "female" as const, history: ["overdose" as const], co_medications: ["pregabalin"], opioid_naive: true };
    expect(toRawPatient(fromRawPatient(raw))).toEqual(raw);
  });
});
