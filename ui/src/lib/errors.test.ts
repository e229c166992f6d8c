import { describe, expect, it } from "vitest";
import { fieldMessages } from "./errors";

describe("fieldMessages", () => {
  it("uses the structured fields when present", () => {
    expect(
      fieldMessages({ code: "invalid-input", message: "x", fields: [{ path: "nhs_number", message: "check digit is wrong" }] }),
    ).toEqual({ nhs_number: "check digit is wrong" });
  });

  it("reads a field name at the start of a store message", () => {
    expect(fieldMessages({ code: "invalid-input", message: "date_of_birth: must not be in the future" })).toEqual({
      date_of_birth: "must not be in the future",
    });
  });

  it("keeps a message with no field under the empty key", () => {
    expect(fieldMessages({ code: "storage", message: "The disk is full. Nothing was lost." })).toEqual({
      "": "The disk is full. Nothing was lost.",
    });
  });

  it("shows a permission refusal or a duplicate whole, never as a field", () => {
    const denied =
      "this seat (signed in as seat_bob) may not write a review: it belongs to a practice this seat is not assigned to (it works for B82002), or it no longer exists. Nothing was changed; if you should work on that practice's records, ask the store's administrator to assign this seat to it";
    expect(fieldMessages({ code: "permission-denied", message: denied })).toEqual({ "": denied });
    const duplicate =
      "a patient with this NHS number is already in the store (another seat or window may have saved it first). Nothing was changed; open the existing record instead";
    expect(fieldMessages({ code: "duplicate", message: duplicate })).toEqual({ "": duplicate });
  });

  it("is empty without an error", () => {
    expect(fieldMessages(null)).toEqual({});
  });
});
