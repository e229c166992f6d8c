import { describe, expect, it, vi } from "vitest";

// The plugin's writeText goes over IPC to the shell; here it is recorded.
const written: string[] = [];
vi.mock("@tauri-apps/plugin-clipboard-manager", () => ({
  writeText: vi.fn(async (text: string) => {
    written.push(text);
  }),
}));

import { copyText } from "./clipboard";

const CODED = "SNOMED CT codes for the GP record\n7 December 2026  182836005 |Review of medication|  review\n\nSummary  \ttabs, trailing spaces  \n";

describe("copyText", () => {
  it("writes the core's text through the clipboard plugin, unchanged", async () => {
    expect(await copyText(CODED)).toEqual({ copied: true });
    expect(written).toEqual([CODED]);
  });

  it("returns a refusal with its reason instead of throwing", async () => {
    const refuse = async () => {
      throw "clipboard-manager.write_text not allowed";
    };
    expect(await copyText(CODED, refuse)).toEqual({ copied: false, reason: "clipboard-manager.write_text not allowed" });
  });
});
