//! Case-finding (issue 10): import a practice prescribing extract, then list
//! the people on opioids ranked by risk, and count the practice's figures
//! month by month. The desktop shell and the CLI both call the three
//! functions here:
//!
//! - [`import_from`] / [`import_csv`]: reads a CSV extract (see `crate::import`)
//!   in bounded memory, stores every understood row in short transactions
//!   but shows them only once the import is published (all or nothing, see
//!   `batched`), refuses nothing
//!   silently (each row not understood is reported with its line and reason),
//!   recognises a file or rows it has seen before, audits the import, and
//!   recomputes every patient;
//! - [`worklist`]: patients with an opioid issued in the current window,
//!   highest risk first, with filters and paging;
//! - [`figures`]: people prescribed opioids, people at or above each
//!   threshold, and high-dose people and items per 1,000 registered patients,
//!   per month (CSV with [`figures_csv`]).
//!
//! Ranking (highest risk first), in order:
//! 1. dose band from the reference thresholds: at or above the profile's
//!    specialist-referral threshold, then at or above its high-dose threshold, then below;
//! 2. more high-severity flags first (e.g. a benzodiazepine or gabapentinoid co-prescribed);
//! 3. higher total OME a day;
//! 4. more caution flags;
//! 5. the practice's patient identifier, so the order is stable.
//!
//! "Today" is always a parameter: nothing here reads the clock.

mod batched;
mod cache;
pub(crate) mod compute;
mod figures;
mod import;
/// Test tooling (the ground-truth extract generator): compiled for unit tests
/// and with the `synthetic` feature only, never into the shipped binaries.
#[cfg(any(test, feature = "synthetic"))]
pub mod synthetic;
mod types;

pub use cache::worklist;
pub use figures::{figures, figures_csv};
pub use import::{import_csv, import_from};
pub use types::*;

use cache::{compute_all, flag_json, to_json, CacheState, Reviews, CACHE_FORMAT};
use figures::{figure_thresholds, figures_document, per_1000};
use import::{already_imported, Facts, Pending, ReadState};

use crate::import::csv::CsvError;
use crate::reference::casefinding::CaseFindingSetting;
use crate::reference::Reference;
use crate::store::StoreError;

/// Everything that can stop a case-finding operation.
#[derive(Debug, thiserror::Error)]
pub enum CaseFindingError {
    /// The file as a whole cannot be imported (nothing was imported).
    #[error("{0}")]
    BadFile(#[from] CsvError),
    /// An option is out of range (e.g. `window_days` 0).
    #[error("{field}: {message}")]
    BadOption {
        /// The option.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The store failed (nothing was imported).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another import is under way, or took this one for stopped (nothing
    /// was imported; try again).
    #[error("{0}")]
    Busy(String),
    /// The import's temporary file could not be written or read (nothing was imported).
    #[error("{0}")]
    TemporaryFile(String),
}

impl CaseFindingError {
    /// True when the problem is in what the user gave (exit status 2 in the CLI).
    pub fn is_user_error(&self) -> bool {
        match self {
            CaseFindingError::BadFile(_) | CaseFindingError::BadOption { .. } => true,
            CaseFindingError::Store(e) => e.is_user_error(),
            CaseFindingError::Busy(_) | CaseFindingError::TemporaryFile(_) => false,
        }
    }
}

impl From<CaseFindingError> for crate::ApiError {
    fn from(e: CaseFindingError) -> Self {
        match e {
            CaseFindingError::Store(s) => s.into(),
            CaseFindingError::Busy(m) | CaseFindingError::TemporaryFile(m) => {
                crate::ApiError::new(crate::ErrorCode::Storage, m)
            }
            CaseFindingError::BadOption { field, message } => {
                crate::ApiError::invalid_fields(vec![crate::input::FieldError::new(field, message)])
            }
            other => crate::ApiError::new(crate::ErrorCode::InvalidInput, other.to_string()),
        }
    }
}
fn window_or_default(window: Option<u32>, reference: &Reference) -> Result<u32, CaseFindingError> {
    let w = window.unwrap_or_else(|| {
        reference
            .casefinding
            .setting(CaseFindingSetting::CurrentWindowDays) as u32
    });
    if w == 0 {
        return Err(CaseFindingError::BadOption {
            field: "window_days".into(),
            message: "must be at least 1 day".into(),
        });
    }
    Ok(w)
}

/// A fast, non-cryptographic hasher for the importer's own tables (rustc-hash's
/// FxHash, already in the dependency tree): a million rows mean three million
/// lookups, and the keys come from a local file, so flooding is not a concern.
pub(crate) use rustc_hash::FxHasher;

/// A hash map with [`FxHasher`] (the store's, so both sides name one type).
pub(crate) use crate::store::casefinding::FastMap;

#[cfg(test)]
mod practices_tests;
#[cfg(test)]
mod tests;
