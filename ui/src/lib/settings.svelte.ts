// Settings loaded once from the store and shared by every screen.
import { api } from "./api";
import type { ApiError } from "./bindings/ApiError";
import type { Profile } from "./bindings/Profile";
import type { Settings } from "./bindings/Settings";
import type { ThresholdRow } from "./bindings/ThresholdRow";

const DEFAULTS: Settings = {
  profile: "uk",
  high_dose_threshold_mg_per_day: null,
  practice_name: "",
  practice_phone: "",
  practice_address: "",
  reviewer_name: "",
};

class SettingsState {
  value = $state<Settings>({ ...DEFAULTS });
  error = $state<ApiError | null>(null);
  loaded = $state(false);
  /** Reference thresholds of every profile (figures and sources come from the core). */
  thresholds = $state<ThresholdRow[]>([]);

  /** The profile's own high-dose threshold row. */
  profileHighDose(profile: Profile): ThresholdRow | undefined {
    return this.thresholds.find((t) => t.profile === profile && t.kind === "high-dose");
  }

  /** The high-dose threshold in use: the local override, else the profile's. */
  highDose = $derived(this.value.high_dose_threshold_mg_per_day ?? this.profileHighDose(this.value.profile)?.mg_per_day ?? null);

  async load() {
    try {
      this.thresholds = await api.thresholds();
      this.value = await api.getSettings();
      this.error = null;
    } catch (e) {
      this.error = e as ApiError;
    }
    this.loaded = true;
  }

  async save(next: Settings): Promise<Settings> {
    const saved = await api.updateSettings(next);
    this.value = saved;
    return saved;
  }
}

export const settings = new SettingsState();
