import { describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/svelte";

vi.mock("../lib/api", () => ({
  api: {
    referenceInfo: vi.fn(async () => ({
      manifest_version: "2026.11.0",
      tables: [
        { id: "thresholds", title: "Thresholds", version: "2026.11.0", review_date: "2027-11-01", source: "FPM Opioids Aware", rows: 4 },
      ],
    })),
  },
}));

import About from "./About.svelte";

describe("About panel", () => {
  it("shows the manifest version and each table with its review date and source", async () => {
    render(About);
    expect(await screen.findByText("2026.11.0", { selector: "[data-testid=manifest-version]" })).toBeTruthy();
    expect(screen.getByText("1 November 2027")).toBeTruthy();
    expect(screen.getByText("FPM Opioids Aware")).toBeTruthy();
  });
});
