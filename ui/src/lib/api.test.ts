import { describe, expect, it } from "vitest";
import { isApiError, toApiError } from "./api";

describe("toApiError", () => {
  it("passes a core {code, message} error through unchanged", () => {
    const e = { code: "invalid-input", message: "items[0].strength_mg: must be greater than 0 (got -5)" };
    expect(isApiError(e)).toBe(true);
    expect(toApiError(e)).toBe(e);
  });

  it("wraps a thrown Error as an internal error with its message", () => {
    expect(toApiError(new Error("IPC down"))).toEqual({ code: "internal", message: "IPC down" });
  });

  it("wraps a plain string", () => {
    expect(toApiError("command reference_info not allowed")).toEqual({
      code: "internal",
      message: "command reference_info not allowed",
    });
  });

  it("never returns an empty message", () => {
    expect(toApiError("").message).toBe("Unknown error");
  });
});
