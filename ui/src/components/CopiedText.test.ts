import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import CopiedText from "./CopiedText.svelte";

afterEach(cleanup);

const TEXT = "182836005 |Review of medication|  review\n\nSummary";

describe("CopiedText", () => {
  it("keeps an empty live region in the page before anything is copied", () => {
    render(CopiedText, { id: "c", testid: "c", label: "Coded summary", text: "", result: null });
    const live = screen.getByTestId("c-copy");
    expect(live.getAttribute("role")).toBe("status");
    expect(live.textContent?.trim()).toBe("");
    expect(screen.queryByTestId("c-text")).toBeNull();
  });

  it("announces a copy with an NHS.UK success banner and shows the text copied", () => {
    render(CopiedText, { id: "c", testid: "c", label: "Coded summary", text: TEXT, result: { copied: true } });
    const banner = screen.getByTestId("c-copied");
    expect(banner.classList.contains("nhsuk-notification-banner--success")).toBe(true);
    expect(screen.getByTestId("c-copy").contains(banner)).toBe(true);
    expect(banner.textContent).toContain("Coded summary copied");
    expect((screen.getByTestId("c-text") as HTMLTextAreaElement).value).toBe(TEXT);
    expect(screen.queryByTestId("c-not-copied")).toBeNull();
  });

  it("when the clipboard refuses, says so with the reason and selects the text to copy by hand", async () => {
    render(CopiedText, { id: "c", testid: "c", label: "Coded summary", text: TEXT, result: { copied: false, reason: "not allowed" } });
    const note = screen.getByTestId("c-not-copied");
    expect(screen.getByTestId("c-copy").contains(note)).toBe(true);
    expect(note.textContent).toContain("Coded summary not copied");
    expect(note.textContent).toContain("not allowed");
    expect(note.textContent).toContain("Ctrl+C");
    await tick();
    await tick();
    const area = screen.getByTestId("c-text") as HTMLTextAreaElement;
    expect(document.activeElement).toBe(area);
    expect(area.selectionStart).toBe(0);
    expect(area.selectionEnd).toBe(TEXT.length);
    expect(screen.queryByTestId("c-copied")).toBeNull();
  });
});
