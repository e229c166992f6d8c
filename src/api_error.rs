//! The one error shape that crosses the IPC boundary: `{code, message}`.
//!
//! Core modules return their own `thiserror` enums; the desktop shell and
//! the UI only ever see this. The JSON form is pinned by tests because the
//! UI matches on `code`.

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
}

impl ApiError {
    /// Builds an error of the given code. The message is sanitised as a whole
    /// ([`crate::limits::sanitize_message`]): it may quote what was entered.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: crate::limits::sanitize_message(&message.into()),
            fields: Vec::new(),
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
                "\"internal\""
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
    fn round_trips() {
        let e = ApiError::new(ErrorCode::Storage, "disk full");
        let back: ApiError = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
}
