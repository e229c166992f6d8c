//! Stepdown clinical core: opioid deprescribing decision support for UK primary care.
//!
//! Pure functions over data. The clinical modules do no IO and never read the
//! clock ("today" is always a parameter). Clinical numbers live only in
//! `assets/reference/`, each row with its source. See ARCHITECTURE.md.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api_error;
pub mod assess;
pub mod casefinding;
pub mod catalogue;
pub mod coded;
pub mod consult;
pub mod flags;
pub mod followup;
pub mod import;
pub mod input;
pub mod item;
pub mod leaflet;
pub mod limits;
pub mod nhs_number;
pub mod ome;
pub mod outcomes;
pub mod patient;
pub mod pdf;
pub mod private_file;
pub mod profile;
pub mod quantity;
pub mod readability;
pub mod record;
pub mod reference;
pub mod regimen;
pub mod store;
pub mod summary;
pub mod taper;
pub mod vocabulary;

pub use api_error::{ApiError, ClaimConflict, Conflict, ErrorCode, ReviewConflict};
pub use profile::Profile;
pub use store::{Store, StoreError};
