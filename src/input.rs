//! Reading a JSON entry (a review, a follow-up) into its typed input, naming
//! the part that is wrong. Every entry point reads the same way: the text is
//! parsed (syntax errors with line and column, size and duplicate-key caps),
//! then deserialized whole; if that fails, each named part is tried on its
//! own so the error says which one ("items[1]: unknown field
//! `strenght_mg`", "patient.age: invalid type") instead of serde's first
//! complaint about the whole.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::api_error::ApiError;
use crate::regimen::{parse_json, FieldError};

/// Reads `text` as a `T`. `root` names the whole in errors ("review"),
/// `shape` says what the whole must look like when it is not a JSON object,
/// and `locate` finds the first wrong part of the object (with [`part`] and
/// [`list`]); serde's own message for the whole is the fallback.
pub fn read_json<T: DeserializeOwned>(
    text: &str,
    root: &str,
    shape: &str,
    locate: impl Fn(&Map<String, Value>) -> Option<FieldError>,
) -> Result<T, ApiError> {
    let value = parse_json(text).map_err(ApiError::from)?;
    serde_json::from_value(value.clone()).map_err(|e| {
        let located = match value.as_object() {
            Some(obj) => locate(obj),
            None => Some(FieldError::new(root, shape)),
        };
        ApiError::invalid_fields(vec![
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

    fn read(text: &str) -> Result<Whole, ApiError> {
        read_json(text, "whole", "must be a JSON object", |obj| {
            list::<Thing>(obj.get("things"), "things")
                .or_else(|| part::<Option<Thing>>(obj.get("one"), "one"))
        })
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
