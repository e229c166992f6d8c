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

  it("is empty without an error", () => {
    expect(fieldMessages(null)).toEqual({});
  });
});
