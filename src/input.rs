//! Reading a JSON entry (a review, a follow-up) into its typed input, naming
//! the part that is wrong. Every entry point reads the same way: the text is
//! parsed (syntax errors with line and column, size and duplicate-key caps),
//! then deserialized whole; if that fails, each named part is tried on its
//! own so the error says which one ("items[1]: unknown field
//! `strenght_mg`", "patient.age: invalid type") instead of serde's first
//! complaint about the whole. The one field-error type ([`FieldError`],
//! "which field, what is wrong") and the one parse error ([`InputError`]) of
//! every command live here too.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use std::fmt;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::vocabulary::nearest;

/// Reads `text` as a `T` (the error becomes an `ApiError` with `?` or
/// `ApiError::from`). `root` names the whole in errors ("review"),
/// `shape` says what the whole must look like when it is not a JSON object,
/// and `locate` finds the first wrong part of the object (with [`part`] and
/// [`list`]); serde's own message for the whole is the fallback.
pub fn read_json<T: DeserializeOwned>(
    text: &str,
    root: &str,
    shape: &str,
    locate: impl Fn(&Map<String, Value>) -> Option<FieldError>,
) -> Result<T, InputError> {
    let value = parse_json(text)?;
    serde_json::from_value(value.clone()).map_err(|e| {
        let located = match value.as_object() {
            Some(obj) => locate(obj),
            None => Some(FieldError::new(root, shape)),
        };
        InputError::Invalid(vec![
            located.unwrap_or_else(|| FieldError::new(root, e.to_string()))
        ])
    })
}

/// The error reading `value` (if present) as a `T`, at `path`.
pub fn part<T: DeserializeOwned>(value: Option<&Value>, path: &str) -> Option<FieldError> {
    value.and_then(|v| {
        serde_json::from_value::<T>(v.clone())
            .err()
            .map(|e| FieldError::new(path, e.to_string()))
    })
}

/// The first element of the array `value` (if it is one) that does not read
/// as a `T`, at `path[i]`.
pub fn list<T: DeserializeOwned>(value: Option<&Value>, path: &str) -> Option<FieldError> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .find_map(|(i, v)| part::<T>(Some(v), &format!("{path}[{i}]")))
}

/// One problem with the input, at a field path such as `items[1].strength_mg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FieldError {
    /// Where: `items[1].strength_mg`, `items[0]`, `items`.
    pub path: String,
    /// What is wrong, e.g. `must be greater than 0 (got -5)`.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why an input could not be read: not JSON, or JSON with field problems.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// The text is not JSON.
    #[error("input: invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The JSON does not describe a valid input; every problem is listed.
    #[error("{}", join_lines(.0))]
    Invalid(Vec<FieldError>),
}

impl InputError {
    /// The field problems (empty for a syntax error).
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            InputError::Invalid(errors) => errors,
            InputError::Syntax { .. } => &[],
        }
    }
}

fn join_lines(errors: &[FieldError]) -> String {
    // Sanitised, cut and counted: an input can hold 100,000 mistakes.
    crate::limits::report_errors(errors.iter().map(|e| (e.path.as_str(), e.message.as_str())))
}

/// Parses JSON text, reporting a syntax error with its line and column.
///
/// Every command's input goes through here so that all of them describe
/// broken JSON the same way.
pub fn parse_json(text: &str) -> Result<Value, InputError> {
    // Issue 20: a BOM was refused without a hint, duplicate keys were
    // accepted (last wins), and size was unbounded. Caps: assets/limits.json.
    if text.starts_with('\u{feff}') {
        return Err(InputError::Syntax {
            line: 1,
            column: 1,
            message: "the file starts with a byte-order mark (BOM); save it as UTF-8 without a BOM"
                .into(),
        });
    }
    let cap = crate::limits::limits().max_input_bytes;
    if text.len() as u64 > cap {
        return Err(InputError::Invalid(vec![FieldError::new(
            "input",
            format!("is {} bytes; at most {cap} are accepted", text.len()),
        )]));
    }
    let value: Value = parse_json_unchecked(text)?;
    crate::limits::check_no_duplicate_keys(text).map_err(syntax_error)?;
    crate::limits::check_value(&value).map_err(|problems| {
        InputError::Invalid(
            problems
                .into_iter()
                .map(|(path, message)| FieldError::new(path, message))
                .collect(),
        )
    })?;
    Ok(value)
}

fn parse_json_unchecked(text: &str) -> Result<Value, InputError> {
    serde_json::from_str(text).map_err(syntax_error)
}

/// A JSON syntax error with its position as fields, not in the message.
fn syntax_error(e: serde_json::Error) -> InputError {
    let (line, column) = (e.line(), e.column());
    let full = e.to_string();
    // serde_json appends " at line L column C"; we state the position ourselves.
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    InputError::Syntax {
        line,
        column,
        message,
    }
}

/// Reports every key of `obj` that is not in `allowed` as an unknown field at
/// `prefix` (e.g. `items[2]`), suggesting the closest accepted name.
///
/// Public so that other commands (assess, plan) reject unknown top-level fields
/// the same way.
pub fn check_fields(
    obj: &Map<String, Value>,
    prefix: &str,
    allowed: &[&str],
    errors: &mut Vec<FieldError>,
) {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            let hint = match nearest(key, allowed.iter().copied()).as_slice() {
                [] => format!("accepted: {}", allowed.join(", ")),
                close => format!("did you mean {}?", close.join(" or ")),
            };
            errors.push(FieldError::new(
                join_path(prefix, key),
                format!("unknown field ({hint})"),
            ));
        }
    }
}

pub(crate) fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// A short description of a JSON value for error messages.
pub(crate) fn describe(v: &Value) -> String {
    let text = match v {
        Value::Null => return "null".into(),
        Value::Array(_) => return "a list".into(),
        Value::Object(_) => return "an object".into(),
        other => other.to_string(),
    };
    // Long strings would swamp the message; the start is enough to recognise it.
    const MAX: usize = 40;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Thing {
        n: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Whole {
        things: Vec<Thing>,
        one: Option<Thing>,
    }

    fn read(text: &str) -> Result<Whole, crate::ApiError> {
        Ok(read_json(text, "whole", "must be a JSON object", |obj| {
            list::<Thing>(obj.get("things"), "things")
                .or_else(|| part::<Option<Thing>>(obj.get("one"), "one"))
        })?)
    }

    #[test]
    fn the_wrong_part_is_named() {
        assert!(read(r#"{"things": [{"n": 1}], "one": null}"#).is_ok());
        let e = read(r#"{"things": [{"n": 1}, {"m": 2}], "one": null}"#).unwrap_err();
        assert_eq!(e.fields[0].path, "things[1]");
        let e = read(r#"{"things": [], "one": {"n": -1}}"#).unwrap_err();
        assert_eq!(e.fields[0].path, "one");
        let e = read("[1]").unwrap_err();
        assert_eq!(
            (e.fields[0].path.as_str(), e.fields[0].message.as_str()),
            ("whole", "must be a JSON object")
        );
        let e = read(r#"{"one": null}"#).unwrap_err();
        assert_eq!(e.fields[0].path, "whole", "{e:?}");
    }
}
