// Settings loaded once from the store and shared by every screen.
import { api } from "./api";
import type { ApiError } from "./bindings/ApiError";
import type { Settings } from "./bindings/Settings";

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

  async load() {
    try {
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
