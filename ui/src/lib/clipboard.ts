// Every Copy button goes through here. The text is the core's (a summary for
// the GP record): it is put on the system clipboard exactly as given, through
// the Tauri clipboard plugin, whose write-text permission is the only plugin
// grant the window holds (src-tauri/capabilities/main.json). The webview's own
// `navigator.clipboard` is not used: WebKitGTK refuses it outside a trusted
// user gesture, and the plugin writes from the shell.
import { writeText } from "@tauri-apps/plugin-clipboard-manager";
import { toApiError } from "./api";

/** What became of one copy. */
export type CopyResult = { copied: true } | { copied: false; reason: string };

/** Puts `text` on the clipboard unchanged. Never throws: a refusal is
 * returned with its reason, so the screen can show the text to copy by hand. */
export async function copyText(text: string, write: (text: string) => Promise<void> = writeText): Promise<CopyResult> {
  try {
    await write(text);
    return { copied: true };
  } catch (e) {
    return { copied: false, reason: toApiError(e).message };
  }
}
