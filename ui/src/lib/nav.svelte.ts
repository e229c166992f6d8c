// Which screen is showing; shared so a screen can send the user to another.
export type Section = "patients" | "history" | "follow-up" | "consultation" | "outcomes" | "case-finding" | "settings" | "about";

class Nav {
  current = $state<Section>("patients");

  go(section: Section) {
    this.current = section;
    // Put keyboard and screen-reader focus on the new screen's heading.
    queueMicrotask(() => document.getElementById("section-heading")?.focus());
  }
}

export const nav = new Nav();
