import { describe, expect, it } from "vitest";
import { fieldMessages } from "./errors";
import { choiceNeeded, missingPractice, patientPractice, practiceLabel, practicePerRow, practiceToSend, rowKey } from "./practices";

const A = { code: "A81001", name: "Riverside Surgery" };
const B = { code: "B82002", name: "Hillside Practice" };

describe("choiceNeeded", () => {
  it("asks only a seat of more than one practice", () => {
    expect(choiceNeeded([])).toBe(false); // a SQLite store
    expect(choiceNeeded([A])).toBe(false);
    expect(choiceNeeded([A, B])).toBe(true);
  });
});

describe("practiceToSend", () => {
  it("sends the practice chosen when a choice is asked", () => {
    expect(practiceToSend([A, B], "B82002")).toBe("B82002");
  });

  it("sends none while nothing is chosen (the core refuses it at the field): there is no default", () => {
    expect(practiceToSend([A, B], "")).toBeNull();
  });

  it("never sends a code that is not one of the seat's practices", () => {
    expect(practiceToSend([A, B], "C83003")).toBeNull();
  });

  it("sends nothing for a seat of one practice or on a SQLite store, whatever was left in the form", () => {
    expect(practiceToSend([A], "A81001")).toBeNull();
    expect(practiceToSend([], "A81001")).toBeNull();
  });
});

describe("practiceLabel", () => {
  it("names a known practice with its ODS code", () => {
    expect(practiceLabel([A, B], "B82002")).toBe("Hillside Practice (B82002)");
  });

  it("gives the code alone for a practice the seat does not have, and nothing for none", () => {
    expect(practiceLabel([A], "B82002")).toBe("B82002");
    expect(practiceLabel([A], undefined)).toBe("");
    expect(practiceLabel([A], null)).toBe("");
  });
});

describe("practicePerRow", () => {
  it("shows each row's practice when rows of two practices are listed together", () => {
    expect(practicePerRow([{ practice_code: "A81001" }, { practice_code: "B82002" }])).toBe(true);
  });

  it("leaves it out for one practice's rows, or a SQLite store's (no practice)", () => {
    expect(practicePerRow([{ practice_code: "A81001" }, { practice_code: "A81001" }])).toBe(false);
    expect(practicePerRow([{}, {}])).toBe(false);
    expect(practicePerRow([])).toBe(false);
  });
});

describe("rowKey", () => {
  it("tells apart two practices' patients with one identifier", () => {
    expect(rowKey({ patient_id: "P001", practice_code: "A81001" })).not.toBe(rowKey({ patient_id: "P001", practice_code: "B82002" }));
    expect(rowKey({ patient_id: "P001" })).not.toBe(rowKey({ patient_id: "P002" }));
  });
});

describe("missingPractice", () => {
  it("is a field error on practice, so it shows at the field and in the summary", () => {
    const e = missingPractice("this extract");
    expect(e.code).toBe("invalid-input");
    expect(fieldMessages(e)).toEqual({ practice: "Choose the practice this extract belongs to" });
  });
});

describe("patientPractice", () => {
  it("names the practice, with its code, only for a seat of several", () => {
    expect(patientPractice([A, B], "B82002")).toBe("Hillside Practice (B82002)");
    expect(patientPractice([A], "A81001")).toBe("");
    expect(patientPractice([], null)).toBe(""); // a SQLite store
  });
});
