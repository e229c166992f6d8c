// The new-patient form on a team store (issue 19): a seat of several practices
// chooses one (none chosen at first), a seat of one or a SQLite store is never
// asked and sends nothing, and the core's refusal on `practice` shows at the field.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

const A = { code: "A81001", name: "Riverside Surgery" };
const B = { code: "B82002", name: "Hillside Practice" };

const mocks = vi.hoisted(() => ({
  seatPractices: vi.fn(),
  createPatient: vi.fn(),
  searchPatients: vi.fn(async () => []),
}));
vi.mock("../lib/api", () => ({ api: mocks }));

import Patients from "./Patients.svelte";

afterEach(cleanup);
beforeEach(() => {
  mocks.seatPractices.mockReset();
  mocks.createPatient.mockReset();
  mocks.searchPatients.mockReset();
  mocks.searchPatients.mockResolvedValue([]);
});

async function openForm(practices: { code: string; name: string }[]) {
  mocks.seatPractices.mockResolvedValue(practices);
  render(Patients);
  await waitFor(() => expect(mocks.seatPractices).toHaveBeenCalled());
  await fireEvent.click(screen.getByTestId("add-patient"));
  await fireEvent.input(screen.getByLabelText("Full name"), { target: { value: "Sam Two" } });
}

const saved = (input: { name: string }) => ({
  id: 7, name: input.name, nhs_number: null, date_of_birth: null, local_id: null, created_at: "", updated_at: "",
});

describe("the new-patient form's practice", () => {
  it("asks a seat of two practices, with none chosen, and sends the one chosen", async () => {
    await openForm([A, B]);
    const options = screen.getAllByTestId("patient-practice-option") as HTMLInputElement[];
    expect(options.map((o) => o.value)).toEqual(["A81001", "B82002"]);
    expect(options.some((o) => o.checked)).toBe(false);
    mocks.createPatient.mockImplementation(async (input) => saved(input));
    await fireEvent.click(options[1]);
    await fireEvent.submit(screen.getByTestId("patient-form"));
    await waitFor(() => expect(mocks.createPatient).toHaveBeenCalledTimes(1));
    expect(mocks.createPatient.mock.calls[0][0].practice).toBe("B82002");
    expect((await screen.findByTestId("patients-notice")).textContent).toContain("Added Sam Two at Hillside Practice (B82002).");
  });

  it("sends none when none is chosen, and shows the core's refusal at the field and in the summary", async () => {
    await openForm([A, B]);
    const refusal = "choose the practice this patient belongs to: this seat works for A81001, B82002";
    mocks.createPatient.mockRejectedValue({ code: "invalid-input", message: `practice: ${refusal}`, fields: [{ path: "practice", message: refusal }] });
    await fireEvent.submit(screen.getByTestId("patient-form"));
    await waitFor(() => expect(screen.queryByTestId("patient-practice-error")).not.toBeNull());
    expect(mocks.createPatient.mock.calls[0][0].practice).toBeNull();
    expect(screen.getByTestId("patient-practice-error").textContent).toContain(refusal);
    const link = screen.getByTestId("patient-error-summary").querySelector("a");
    expect(link?.getAttribute("href")).toBe("#patient-practice");
    expect(document.getElementById("patient-practice")?.getAttribute("type")).toBe("radio");
    // Everything typed is kept.
    expect((screen.getByLabelText("Full name") as HTMLInputElement).value).toBe("Sam Two");
  });

  for (const [what, practices] of [["a seat of one practice", [A]], ["a SQLite store", []]] as const) {
    it(`does not ask ${what}, and sends no practice`, async () => {
      await openForm([...practices]);
      expect(screen.queryByTestId("patient-practice")).toBeNull();
      mocks.createPatient.mockImplementation(async (input) => saved(input));
      await fireEvent.submit(screen.getByTestId("patient-form"));
      await waitFor(() => expect(mocks.createPatient).toHaveBeenCalledTimes(1));
      expect(mocks.createPatient.mock.calls[0][0].practice).toBeNull();
      expect((await screen.findByTestId("patients-notice")).textContent).toBe("Added Sam Two.");
    });
  }
});

// Two patients of one name and NHS number, one at each practice.
const listed = [A, B].map((p, i) => ({
  id: i + 1, name: "Jo Twin", nhs_number: "9434765919", date_of_birth: null, local_id: null,
  created_at: "", updated_at: "", practice_code: p.code, review_count: 0, last_saved_at: null,
}));

async function list(practices: { code: string; name: string }[]) {
  mocks.seatPractices.mockResolvedValue(practices);
  mocks.searchPatients.mockResolvedValue(listed as never);
  render(Patients);
  await waitFor(() => expect(screen.getAllByTestId("patient-row")).toHaveLength(2));
  await waitFor(() => expect(mocks.seatPractices).toHaveBeenCalled());
}

describe("the patients list's practice", () => {
  it("names each patient's practice, with its ODS code, for a seat of two practices", async () => {
    await list([A, B]);
    await waitFor(() => expect(screen.getAllByTestId("patient-practice-cell")).toHaveLength(2));
    const header = screen.getByRole("columnheader", { name: "Practice" });
    expect(header.getAttribute("scope")).toBe("col");
    // The name, then the code on a line of its own (words, not colour, tell them apart).
    const cells = screen.getAllByTestId("patient-practice-cell").map((c) => [c.firstChild?.textContent?.trim(), c.querySelector("span")?.textContent]);
    expect(cells).toEqual([
      ["Riverside Surgery", "ODS code A81001"],
      ["Hillside Practice", "ODS code B82002"],
    ]);
  });

  for (const [what, practices] of [["a seat of one practice", [A]], ["a SQLite store", []]] as const) {
    it(`adds no practice column for ${what}`, async () => {
      await list([...practices]);
      const headers = [...screen.getByTestId("patient-table").querySelectorAll("th")].map((h) => h.textContent?.trim());
      expect(headers).not.toContain("Practice");
      expect(screen.queryAllByTestId("patient-practice-cell")).toHaveLength(0);
    });
  }
});
