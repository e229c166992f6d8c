// Each practice's leaflet details on a team store (issue 19): an administrator
// edits each practice's with one core call, the core's field errors shown at
// the field and in the summary with what was typed kept; any other seat sees
// them read-only, a practice without a phone said to be unprintable.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

const mocks = vi.hoisted(() => ({ setPracticeContact: vi.fn() }));
vi.mock("../lib/api", () => ({ api: mocks }));

import PracticeLeaflets from "./PracticeLeaflets.svelte";

const A = { code: "A81001", name: "Riverside Surgery", phone: "01632 960 123", address: "1 River Lane" };
const B = { code: "B82002", name: "Hillside Practice", phone: "", address: "" };

afterEach(cleanup);
beforeEach(() => {
  mocks.setPracticeContact.mockReset();
});

describe("each practice's leaflet details", () => {
  it("lets an administrator set one practice's phone with one call, and says so", async () => {
    render(PracticeLeaflets, { contacts: { may_edit: true, practices: [A, B] } });
    expect((screen.getByTestId("practice-A81001-phone") as HTMLInputElement).value).toBe("01632 960 123");
    mocks.setPracticeContact.mockImplementation(async (code: string, input: { practice_name: string; practice_phone: string; practice_address: string }) => ({
      code,
      name: input.practice_name,
      phone: input.practice_phone,
      address: input.practice_address,
    }));
    await fireEvent.input(screen.getByTestId("practice-B82002-phone"), { target: { value: "01632 960 456" } });
    await fireEvent.submit(screen.getByTestId("practice-B82002-form"));
    await waitFor(() => expect(mocks.setPracticeContact).toHaveBeenCalledTimes(1));
    expect(mocks.setPracticeContact.mock.calls[0]).toEqual([
      "B82002",
      { practice_name: "Hillside Practice", practice_phone: "01632 960 456", practice_address: "" },
    ]);
    expect((await screen.findByTestId("practice-B82002-saved")).textContent).toContain("Hillside Practice (B82002)");
    expect(screen.queryByTestId("practice-A81001-saved")).toBeNull();
  });

  it("shows the core's refusal at the field and in the summary, keeping what was typed", async () => {
    render(PracticeLeaflets, { contacts: { may_edit: true, practices: [A, B] } });
    const message = "must have 7 to 15 digits (got 3)";
    mocks.setPracticeContact.mockRejectedValue({ code: "invalid-input", message: `practice_phone: ${message}`, fields: [{ path: "practice_phone", message }] });
    await fireEvent.input(screen.getByTestId("practice-B82002-phone"), { target: { value: "123" } });
    await fireEvent.submit(screen.getByTestId("practice-B82002-form"));
    const error = await screen.findByText(message, { selector: "#practice-B82002-phone-error" });
    expect(error).not.toBeNull();
    const summary = screen.getByTestId("practice-B82002-error-summary");
    expect(summary.querySelector("a")?.getAttribute("href")).toBe("#practice-B82002-phone");
    expect((screen.getByTestId("practice-B82002-phone") as HTMLInputElement).value).toBe("123");
    expect(screen.getByTestId("practice-B82002-phone").getAttribute("aria-describedby")).toContain("practice-B82002-phone-error");
    expect(screen.queryByTestId("practice-A81001-error-summary")).toBeNull();
  });

  it("shows a pharmacist the details read-only, and a missing phone as blocking the leaflet", () => {
    render(PracticeLeaflets, { contacts: { may_edit: false, practices: [A, B] } });
    expect(screen.queryByRole("textbox")).toBeNull();
    expect(screen.queryByRole("button")).toBeNull();
    expect(screen.getByTestId("practice-A81001-details").textContent).toContain("01632 960 123");
    expect(screen.getByTestId("practice-B82002-details").textContent).toContain("leaflets for this practice cannot be printed until an administrator sets it");
    expect(screen.getByText(/Only the store's administrator can change them/)).not.toBeNull();
  });
});
