//! Conversion profiles: which national guidance supplies factors and thresholds.

use crate::vocabulary::vocabulary;

vocabulary!(
    /// A set of conversion factors and thresholds from one body of guidance.
    #[derive(Default)]
    #[ts(export)]
    Profile, "profile" {
        /// BNF / FPM Opioids Aware (UK default).
        #[default]
        Uk => "uk",
        /// US CDC Clinical Practice Guideline 2022.
        Cdc => "cdc",
    }
);

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::parse(s).ok_or_else(|| {
            format!(
                "unknown profile '{}' (accepted: {})",
                crate::limits::sanitize(&s.trim().to_ascii_lowercase()),
                Profile::ALL.map(Profile::as_str).join(", ")
            )
        })
    }
}
