import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import PracticeChoice from "./PracticeChoice.svelte";

afterEach(cleanup);

const PRACTICES = [
  { code: "A81001", name: "Riverside Surgery" },
  { code: "B82002", name: "Hillside Practice" },
];
const HINT = "Choose the one this patient is registered with.";

function radios(): HTMLInputElement[] {
  return screen.getAllByTestId("p-option") as HTMLInputElement[];
}

describe("PracticeChoice", () => {
  it("offers each practice by name with its ODS code, none chosen", () => {
    render(PracticeChoice, { id: "p", practices: PRACTICES, value: "", hint: HINT });
    expect(radios().map((r) => r.value)).toEqual(["A81001", "B82002"]);
    expect(radios().some((r) => r.checked)).toBe(false);
    expect(screen.getByLabelText("Riverside Surgery")).toBe(radios()[0]);
    expect(screen.getByLabelText("Hillside Practice")).toBe(radios()[1]);
    expect(screen.getByText("ODS code B82002").id).toBe(radios()[1].getAttribute("aria-describedby"));
    const fieldset = screen.getByRole("group", { name: "Practice" });
    expect(fieldset.getAttribute("aria-describedby")).toBe("p-hint");
    expect(screen.getByText(HINT).id).toBe("p-hint");
  });

  it("gives the first radio the field's id, so the error summary's link lands on it", () => {
    render(PracticeChoice, { id: "p", practices: PRACTICES, value: "", hint: HINT });
    expect(radios()[0].id).toBe("p");
    expect(new Set(radios().map((r) => r.id)).size).toBe(2);
  });

  it("shows an error at the field, read with the group", () => {
    render(PracticeChoice, { id: "p", practices: PRACTICES, value: "", hint: HINT, error: "Choose the practice this patient belongs to" });
    const message = screen.getByTestId("p-error");
    expect(message.textContent).toContain("Choose the practice this patient belongs to");
    expect(screen.getByRole("group", { name: "Practice" }).getAttribute("aria-describedby")).toBe("p-hint p-error");
    expect(screen.getByTestId("p").classList.contains("nhsuk-form-group--error")).toBe(true);
  });

  it("checks the practice chosen", async () => {
    render(PracticeChoice, { id: "p", practices: PRACTICES, value: "", hint: HINT });
    await fireEvent.click(radios()[1]);
    expect(radios()[1].checked).toBe(true);
    expect(radios()[0].checked).toBe(false);
  });
});
