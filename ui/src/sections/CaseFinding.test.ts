// The import's practice on a team store (issue 19): a seat of several
// practices says whose extract it is before the file is used; a seat of one is
// never asked. The worklist names each row's practice when it lists several.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

const A = { code: "A81001", name: "Riverside Surgery" };
const B = { code: "B82002", name: "Hillside Practice" };

const report = {
  file_name: "extract.csv", file_sha256: "", import_id: 1, already_imported: false, encoding: "utf8", today: "2026-11-24",
  list_size: null, rows_read: 10, imported: 10, duplicates: 0, not_understood_count: 0, not_understood: [], opioid_rows: 8,
  co_medication_rows: 2, instructions_not_read: 0, warnings: [], patients_in_file: 3, patients_on_worklist: 3,
  patients_estimated: 0, patients_incomplete: 0, window_days: 90,
};
const row = (patient_id: string, practice_code: string) => ({
  rank: 1, patient_id, practice_code, nhs_number: null, age: null, sex: null, ome_mg_per_day: 120, regular_ome_mg_per_day: 120,
  complete: true, estimated: false, supply_ome_mg_per_day: null, supply_complete: false, figures_differ: false, flags: [],
  info_flags: [], markers: [], items: [], co_medications: [], months_on_opioids: null, last_issued: "2026-11-01", trend: [],
  patient: {}, warnings: [], claim: null,
});
const worklist = (patients: unknown[]) => ({
  metrics: { ranking: "", shown: patients.length, matching: patients.length, patients: patients.length, as_of: "2026-11-24", excluded: [] },
  patients,
});

const mocks = vi.hoisted(() => ({
  seatPractices: vi.fn(),
  seatName: vi.fn(async () => "seat_alice"),
  importPresets: vi.fn(async () => []),
  practiceFigures: vi.fn(async (_practice: string | null) => ({ thresholds: [], months: [], notes: [], list_size: null, as_of: "2026-11-24" })),
  worklist: vi.fn(),
  chooseImportFile: vi.fn(async () => "extract.csv"),
  importExtract: vi.fn(),
  patientForExtract: vi.fn(),
}));
vi.mock("../lib/api", () => ({ api: mocks }));

import CaseFinding from "./CaseFinding.svelte";

afterEach(cleanup);
beforeEach(() => {
  mocks.importExtract.mockReset();
  mocks.worklist.mockReset();
  mocks.practiceFigures.mockClear();
  mocks.worklist.mockResolvedValue(worklist([]));
});

async function open(practices: { code: string; name: string }[]) {
  mocks.seatPractices.mockResolvedValue(practices);
  render(CaseFinding);
  await waitFor(() => expect(mocks.seatPractices).toHaveBeenCalled());
  await fireEvent.click(screen.getByTestId("extract-file"));
  await waitFor(() => expect(screen.getByTestId("extract-chosen").textContent).toBe("Chosen: extract.csv"));
}

describe("the import's practice", () => {
  it("asks a seat of two practices before the file is used, then imports into the one chosen", async () => {
    await open([A, B]);
    const options = screen.getAllByTestId("import-practice-option") as HTMLInputElement[];
    expect(options.some((o) => o.checked)).toBe(false);
    await fireEvent.click(screen.getByTestId("import-extract"));
    await waitFor(() => expect(screen.queryByTestId("import-practice-error")).not.toBeNull());
    expect(mocks.importExtract).not.toHaveBeenCalled();
    expect(screen.getByTestId("import-error").querySelector("a")?.getAttribute("href")).toBe("#import-practice");
    expect(screen.getByTestId("extract-chosen").textContent).toBe("Chosen: extract.csv");

    mocks.importExtract.mockResolvedValue(report);
    await fireEvent.click(options[1]);
    await fireEvent.click(screen.getByTestId("import-extract"));
    await waitFor(() => expect(mocks.importExtract).toHaveBeenCalledTimes(1));
    expect(mocks.importExtract.mock.calls[0][2]).toBe("B82002");
    expect((await screen.findByTestId("import-report")).textContent).toContain("from extract.csv into Hillside Practice (B82002).");
    // The next extract's practice is chosen afresh.
    expect((screen.getAllByTestId("import-practice-option") as HTMLInputElement[]).some((o) => o.checked)).toBe(false);
    // The worklist and figures shown are those of the practice just imported.
    await waitFor(() => expect(mocks.worklist).toHaveBeenCalled());
    expect(mocks.worklist.mock.calls.at(-1)![0].practice).toBe("B82002");
    expect(mocks.practiceFigures.mock.calls.at(-1)![0]).toBe("B82002");
    expect((await screen.findByTestId("worklist-heading")).textContent).toBe("Worklist of Hillside Practice (B82002)");
  });

  it("shows the core's refusal of the practice at the field", async () => {
    await open([A, B]);
    mocks.importExtract.mockRejectedValue({ code: "invalid-input", message: "practice: B82002 is not one of this seat's practices", fields: [{ path: "practice", message: "B82002 is not one of this seat's practices" }] });
    await fireEvent.click(screen.getAllByTestId("import-practice-option")[1]);
    await fireEvent.click(screen.getByTestId("import-extract"));
    await waitFor(() => expect(screen.getByTestId("import-practice-error").textContent).toContain("B82002 is not one of this seat's practices"));
  });

  it("does not ask a seat of one practice, and sends none", async () => {
    await open([A]);
    expect(screen.queryByTestId("import-practice")).toBeNull();
    mocks.importExtract.mockResolvedValue(report);
    await fireEvent.click(screen.getByTestId("import-extract"));
    await waitFor(() => expect(mocks.importExtract).toHaveBeenCalledTimes(1));
    expect(mocks.importExtract.mock.calls[0][2]).toBeNull();
    expect((await screen.findByTestId("import-report")).textContent).toContain("from extract.csv.");
  });
});

describe("whose worklist", () => {
  it("asks a seat of two practices whose worklist and figures to show, and asks the core for nothing until then", async () => {
    mocks.worklist.mockResolvedValue(worklist([row("P001", "B82002")]));
    mocks.seatPractices.mockResolvedValue([A, B]);
    render(CaseFinding);
    await waitFor(() => expect(screen.queryByTestId("list-practice-none")).not.toBeNull());
    expect(mocks.worklist).not.toHaveBeenCalled();
    expect(mocks.practiceFigures).not.toHaveBeenCalled();
    const select = screen.getByLabelText("Whose worklist and figures") as HTMLSelectElement;
    expect(select.value).toBe("");
    await fireEvent.change(select, { target: { value: "B82002" } });
    await waitFor(() => expect(mocks.worklist).toHaveBeenCalledTimes(1));
    expect(mocks.worklist.mock.calls[0][0].practice).toBe("B82002");
    expect(mocks.practiceFigures.mock.calls[0][0]).toBe("B82002");
    expect((await screen.findByTestId("worklist-heading")).textContent).toBe("Worklist of Hillside Practice (B82002)");
    expect(screen.queryByTestId("list-practice-none")).toBeNull();
  });

  it("shows the practice chosen last, whichever answer comes back last, and names what it shows", async () => {
    let answerA: (w: unknown) => void = () => {};
    mocks.worklist.mockImplementation((f: { practice: string }) =>
      f.practice === "A81001" ? new Promise((r) => (answerA = r)) : Promise.resolve(worklist([row("P009", "B82002")])),
    );
    mocks.seatPractices.mockResolvedValue([A, B]);
    render(CaseFinding);
    const select = await screen.findByLabelText("Whose worklist and figures");
    await fireEvent.change(select, { target: { value: "A81001" } });
    await waitFor(() => expect(mocks.worklist).toHaveBeenCalledTimes(1));
    await fireEvent.change(select, { target: { value: "B82002" } });
    expect((await screen.findByTestId("worklist-heading")).textContent).toBe("Worklist of Hillside Practice (B82002)");
    answerA(worklist([row("P001", "A81001")]));
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getByTestId("worklist-heading").textContent).toBe("Worklist of Hillside Practice (B82002)");
    expect(screen.getByTestId("worklist-table").textContent).toContain("P009");
    expect(screen.getByTestId("worklist-table").textContent).not.toContain("P001");
  });

    it("starts a consultation from a row with the row's practice (the patient is found, or made, there)", async () => {
    mocks.worklist.mockResolvedValue(worklist([row("P001", "B82002")]));
    mocks.seatPractices.mockResolvedValue([A, B]);
    mocks.patientForExtract.mockRejectedValue({ code: "storage", message: "stopped here" });
    render(CaseFinding);
    await fireEvent.change(await screen.findByLabelText("Whose worklist and figures"), { target: { value: "B82002" } });
    await fireEvent.click(await screen.findByTestId("worklist-consult"));
    await waitFor(() => expect(mocks.patientForExtract).toHaveBeenCalledTimes(1));
    expect(mocks.patientForExtract.mock.calls[0][0]).toMatchObject({ patient_id: "P001", practice_code: "B82002" });
  });

  it("does not ask a seat of one practice, and sends no practice", async () => {
    mocks.worklist.mockResolvedValue(worklist([row("P001", "A81001")]));
    mocks.seatPractices.mockResolvedValue([A]);
    render(CaseFinding);
    await waitFor(() => expect(mocks.worklist).toHaveBeenCalledTimes(1));
    expect(mocks.worklist.mock.calls[0][0].practice).toBeNull();
    expect(mocks.practiceFigures.mock.calls[0][0]).toBeNull();
    expect(screen.queryByTestId("list-practice")).toBeNull();
    expect((await screen.findByTestId("worklist-heading")).textContent).toBe("Worklist");
  });
});

describe("the worklist's practice per row", () => {
  it("names each row's practice if a list ever mixes two practices' patients with one identifier", async () => {
    mocks.worklist.mockResolvedValue(worklist([row("P001", "A81001"), row("P001", "B82002")]));
    mocks.seatPractices.mockResolvedValue([A]);
    render(CaseFinding);
    await waitFor(() => expect(screen.getAllByTestId("worklist-row")).toHaveLength(2));
    await waitFor(() => expect(screen.getAllByTestId("worklist-practice").map((p) => p.textContent)).toEqual([
      "Riverside Surgery (A81001)",
      "B82002", // not one of this seat's: its code alone
    ]));
    // Each row's status field has an id of its own, and its label says whose.
    expect(screen.getByLabelText("Status of patient P001 of B82002").id).toBe("status-B82002-P001");
    expect(screen.getByLabelText("Status of patient P001 of A81001").id).toBe("status-A81001-P001");
  });

  it("leaves it out when every row is the one practice's", async () => {
    mocks.worklist.mockResolvedValue(worklist([row("P001", "A81001"), row("P002", "A81001")]));
    mocks.seatPractices.mockResolvedValue([A]);
    render(CaseFinding);
    await waitFor(() => expect(screen.getAllByTestId("worklist-row")).toHaveLength(2));
    expect(screen.queryByTestId("worklist-practice")).toBeNull();
    expect(screen.getByLabelText("Status of patient P001").id).toBe("status-P001");
  });
});
