//! Conversion profiles: which national guidance supplies factors and thresholds.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A set of conversion factors and thresholds from one body of guidance.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS,
)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Profile {
    /// BNF / FPM Opioids Aware (UK default).
    #[default]
    Uk,
    /// US CDC Clinical Practice Guideline 2022.
    Cdc,
}

impl Profile {
    /// Lower-case identifier as used on the command line and in reference files.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Uk => "uk",
            Profile::Cdc => "cdc",
        }
    }

    /// Every profile, default first.
    pub const ALL: [Profile; 2] = [Profile::Uk, Profile::Cdc];
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "uk" => Ok(Profile::Uk),
            "cdc" => Ok(Profile::Cdc),
            other => Err(format!(
                "unknown profile '{}' (accepted: uk, cdc)",
                crate::limits::sanitize(other)
            )),
        }
    }
}
