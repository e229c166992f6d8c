//! The one error shape that crosses the IPC boundary: `{code, message}`.
//!
//! Core modules return their own `thiserror` enums; the desktop shell and
//! the UI only ever see this. The JSON form is pinned by tests because the
//! UI matches on `code`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::input::{FieldError, InputError};

/// Machine-readable category of an [`ApiError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum ErrorCode {
    /// The request was malformed or a field failed validation; the message names the field.
    InvalidInput,
    /// The thing asked for does not exist.
    NotFound,
    /// The local store could not be read or written; nothing saved was lost.
    Storage,
    /// The embedded reference data is unusable (a build defect).
    Reference,
    /// Anything else; a bug.
    Internal,
    /// Another seat changed the record first (a newer review version, a
    /// worklist patient claimed by someone else); `conflict` says who and
    /// when, and a refused review save is kept as a draft.
    Conflict,
    /// The team store's server refused this seat: a change only the store's
    /// administrator may make, or a record of a practice the seat is not
    /// assigned to. The message names the record, the seat and whom to ask.
    PermissionDenied,
    /// A second record with a value that must be single (an NHS number, a
    /// local identifier, a practice code) was refused; the message names it.
    Duplicate,
}

/// Why a change was refused because another seat got there first: the
/// details the UI needs to explain it and offer what to do next. Only on an
/// [`ApiError`] of code [`ErrorCode::Conflict`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[ts(export)]
pub enum Conflict {
    /// A review save started from a version that is no longer the latest.
    Review(ReviewConflict),
    /// A worklist patient held by another seat.
    Claim(ClaimConflict),
}

/// A review save refused because the review has a newer version than the
/// one the seat started from. The seat's entry was kept as draft `draft_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReviewConflict {
    /// The review.
    #[ts(type = "number")]
    pub review_id: i64,
    /// Its patient.
    #[ts(type = "number")]
    pub patient_id: i64,
    /// The version the refused save started from.
    #[ts(type = "number")]
    pub base_version: i64,
    /// The review's latest version when the save was refused.
    #[ts(type = "number")]
    pub latest_version: i64,
    /// Who saved the latest version (the name recorded on it).
    pub saved_by: String,
    /// When the latest version was saved.
    #[ts(as = "String")]
    pub saved_at: DateTime<Utc>,
    /// The draft that keeps the refused entry, to reapply on top of the latest version.
    #[ts(type = "number")]
    pub draft_id: i64,
}

/// A worklist patient claimed, released or moved on by one seat while
/// another holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ClaimConflict {
    /// The worklist patient (the extract's identifier).
    pub patient_id: String,
    /// Who holds the claim.
    pub holder: String,
    /// Since when.
    #[ts(as = "String")]
    pub claimed_at: DateTime<Utc>,
}

/// Serialisable error returned by every desktop command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
#[ts(export)]
pub struct ApiError {
    /// Category, stable for the UI to match on.
    pub code: ErrorCode,
    /// Human-readable, specific message (names the field where there is one).
    pub message: String,
    /// For invalid input: each problem with its field path, so the UI can
    /// put the message beside the field. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<FieldError>>")]
    pub fields: Vec<FieldError>,
    /// For a conflict: who got there first, when, and (for a review) the
    /// draft that keeps the refused entry. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, as = "Option<Conflict>")]
    pub conflict: Option<Box<Conflict>>,
}

impl ApiError {
    /// Builds an error of the given code. The message is sanitised as a whole
    /// ([`crate::limits::sanitize_message`]): it may quote what was entered.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: crate::limits::sanitize_message(&message.into()),
            fields: Vec::new(),
            conflict: None,
        }
    }

    /// A conflict error with its details.
    pub fn conflict(conflict: Conflict, message: impl Into<String>) -> Self {
        ApiError {
            conflict: Some(Box::new(conflict)),
            ..ApiError::new(ErrorCode::Conflict, message)
        }
    }

    /// An invalid-input error listing every field problem.
    pub fn invalid_fields(mut fields: Vec<FieldError>) -> Self {
        let message = crate::limits::report_errors(
            fields.iter().map(|f| (f.path.as_str(), f.message.as_str())),
        );
        // The UI lists each beside its field: the same cap, text sanitised.
        fields.truncate(crate::limits::limits().max_errors_reported);
        for f in &mut fields {
            f.message = crate::limits::sanitize(&f.message);
            f.path = crate::limits::sanitize(&f.path);
        }
        ApiError {
            code: ErrorCode::InvalidInput,
            message,
            fields,
            conflict: None,
        }
    }
}

impl From<crate::reference::ReferenceError> for ApiError {
    fn from(e: crate::reference::ReferenceError) -> Self {
        ApiError::new(ErrorCode::Reference, e.to_string())
    }
}

/// A JSON input that could not be read: a syntax error is invalid input in
/// words; field problems keep their paths for the UI.
impl From<InputError> for crate::ApiError {
    fn from(e: InputError) -> Self {
        match e {
            InputError::Invalid(fields) => crate::ApiError::invalid_fields(fields),
            syntax @ InputError::Syntax { .. } => {
                crate::ApiError::new(crate::ErrorCode::InvalidInput, syntax.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_code_and_message() {
        let e = ApiError::new(
            ErrorCode::InvalidInput,
            "items[1].strength_mg: must be greater than 0 (got -5)",
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"invalid-input","message":"items[1].strength_mg: must be greater than 0 (got -5)"}"#
        );
    }

    #[test]
    fn every_code_has_a_stable_kebab_case_name() {
        let names: Vec<String> = [
            ErrorCode::InvalidInput,
            ErrorCode::NotFound,
            ErrorCode::Storage,
            ErrorCode::Reference,
            ErrorCode::Internal,
            ErrorCode::Conflict,
            ErrorCode::PermissionDenied,
            ErrorCode::Duplicate,
        ]
        .iter()
        .map(|c| serde_json::to_string(c).unwrap())
        .collect();
        assert_eq!(
            names,
            [
                "\"invalid-input\"",
                "\"not-found\"",
                "\"storage\"",
                "\"reference\"",
                "\"internal\"",
                "\"conflict\"",
                "\"permission-denied\"",
                "\"duplicate\""
            ]
        );
    }

    #[test]
    fn field_problems_travel_with_their_paths() {
        let e = ApiError::invalid_fields(vec![
            FieldError::new("items[1].strength_mg", "must be greater than 0 (got -5)"),
            FieldError::new("patient.age", "must be between 0 and 120 (got 130)"),
        ]);
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({
                "code": "invalid-input",
                "message": "items[1].strength_mg: must be greater than 0 (got -5)\npatient.age: must be between 0 and 120 (got 130)",
                "fields": [
                    {"path": "items[1].strength_mg", "message": "must be greater than 0 (got -5)"},
                    {"path": "patient.age", "message": "must be between 0 and 120 (got 130)"}
                ]
            })
        );
    }

    #[test]
    fn a_review_conflict_carries_who_when_and_the_draft() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T10:42:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let e = ApiError::conflict(
            Conflict::Review(ReviewConflict {
                review_id: 4,
                patient_id: 2,
                base_version: 2,
                latest_version: 3,
                saved_by: "A. Pharmacist".into(),
                saved_at: at,
                draft_id: 7,
            }),
            "review 4 was saved by A. Pharmacist",
        );
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({
                "code": "conflict",
                "message": "review 4 was saved by A. Pharmacist",
                "conflict": {"kind": "review", "review_id": 4, "patient_id": 2,
                    "base_version": 2, "latest_version": 3, "saved_by": "A. Pharmacist",
                    "saved_at": "2026-12-07T10:42:00Z", "draft_id": 7}
            })
        );
        let back: ApiError = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn a_claim_conflict_names_the_holder_and_since_when() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T09:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let e = ApiError::conflict(
            Conflict::Claim(ClaimConflict {
                patient_id: "P0042".into(),
                holder: "B. Pharmacist".into(),
                claimed_at: at,
            }),
            "held by B. Pharmacist",
        );
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({
                "code": "conflict",
                "message": "held by B. Pharmacist",
                "conflict": {"kind": "claim", "patient_id": "P0042",
                    "holder": "B. Pharmacist", "claimed_at": "2026-12-07T09:05:00Z"}
            })
        );
    }

    #[test]
    fn round_trips() {
        let e = ApiError::new(ErrorCode::Storage, "disk full");
        let back: ApiError = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
}
