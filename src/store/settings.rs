//! Practice and user settings: conversion profile, high-dose threshold
//! override, and the practice details printed on leaflets.
//!
//! Stored one row per key with a JSON value, so adding a setting needs no
//! migration; read and written as one typed, validated [`Settings`].

use std::collections::HashMap;

use super::db::params;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::audit::{self, AuditAction, AuditEntity};
use super::{clean_actor, clean_line, clean_text, ts, Store, StoreError, StoreResult};
use crate::profile::Profile;

/// Lowest and highest accepted high-dose threshold override, mg OME/day. A
/// sanity range, not clinical advice: local schemes use figures such as 90 or 120.
pub const HIGH_DOSE_THRESHOLD_RANGE: (f64, f64) = (1.0, 1000.0);

/// Settings, with defaults for anything never set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Settings {
    /// Conversion profile used for new reviews.
    pub profile: Profile,
    /// Overrides the profile's high-dose threshold (mg OME/day); null uses the profile's.
    pub high_dose_threshold_mg_per_day: Option<f64>,
    /// Practice name for the leaflet.
    pub practice_name: String,
    /// Practice phone number for the leaflet.
    pub practice_phone: String,
    /// Practice address for the leaflet (may span lines).
    pub practice_address: String,
    /// Default reviewer name for new reviews and the audit log.
    pub reviewer_name: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            profile: Profile::Uk,
            high_dose_threshold_mg_per_day: None,
            practice_name: String::new(),
            practice_phone: String::new(),
            practice_address: String::new(),
            reviewer_name: String::new(),
        }
    }
}

const KEYS: [&str; 6] = [
    "profile",
    "high_dose_threshold_mg_per_day",
    "practice_name",
    "practice_phone",
    "practice_address",
    "reviewer_name",
];

impl Settings {
    /// Checks every field and returns the settings with text trimmed. Errors
    /// name the field.
    pub fn validated(&self) -> StoreResult<Settings> {
        if let Some(t) = self.high_dose_threshold_mg_per_day {
            let (lo, hi) = HIGH_DOSE_THRESHOLD_RANGE;
            if !t.is_finite() || t < lo || t > hi {
                return Err(StoreError::invalid(
                    "high_dose_threshold_mg_per_day",
                    format!(
                        "must be between {lo} and {hi} mg/day, or null for the profile's (got {t})"
                    ),
                ));
            }
        }
        let practice = PracticeFields {
            name: self.practice_name.clone(),
            phone: self.practice_phone.clone(),
            address: self.practice_address.clone(),
        }
        .validated()?;
        Ok(Settings {
            profile: self.profile,
            high_dose_threshold_mg_per_day: self.high_dose_threshold_mg_per_day,
            practice_name: practice.name,
            practice_phone: practice.phone,
            practice_address: practice.address,
            reviewer_name: clean_line("reviewer_name", &self.reviewer_name, 120, false)?,
        })
    }

    fn to_values(&self) -> [(&'static str, Value); 6] {
        [
            ("profile", Value::String(self.profile.as_str().into())),
            (
                "high_dose_threshold_mg_per_day",
                self.high_dose_threshold_mg_per_day
                    .map_or(Value::Null, Value::from),
            ),
            ("practice_name", Value::String(self.practice_name.clone())),
            ("practice_phone", Value::String(self.practice_phone.clone())),
            (
                "practice_address",
                Value::String(self.practice_address.clone()),
            ),
            ("reviewer_name", Value::String(self.reviewer_name.clone())),
        ]
    }

    /// Builds settings from stored values; unknown keys (from a newer build)
    /// are ignored, missing ones take defaults.
    fn from_values(values: &HashMap<String, Value>) -> StoreResult<Settings> {
        let mut obj = serde_json::to_value(Settings::default())
            .map_err(|e| StoreError::invalid("settings", e.to_string()))?;
        if let Value::Object(map) = &mut obj {
            for key in KEYS {
                if let Some(v) = values.get(key) {
                    map.insert(key.to_string(), v.clone());
                }
            }
        }
        let s: Settings = serde_json::from_value(obj).map_err(|e| StoreError::BadRecord {
            what: "settings".into(),
            detail: e.to_string(),
        })?;
        s.validated().map_err(|e| StoreError::BadRecord {
            what: "settings".into(),
            detail: e.to_string(),
        })
    }
}

/// A practice's details as leaflets and summaries print them: the one set
/// of rules for the store-wide settings (a SQLite file's practice) and for
/// each practice of a team store (`practice_details.rs`; migrations_pg/0008
/// holds the same rules as CHECKs). Field errors name `practice_name`,
/// `practice_phone` and `practice_address`. Empty is allowed here: a
/// practice not yet set up; what a leaflet needs is checked when printing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PracticeFields {
    pub name: String,
    pub phone: String,
    pub address: String,
}

impl PracticeFields {
    /// Checks every field and returns them trimmed.
    pub(crate) fn validated(&self) -> StoreResult<PracticeFields> {
        let phone = clean_line("practice_phone", &self.phone, 30, false)?;
        if let Some(c) = phone
            .chars()
            .find(|c| !(c.is_ascii_digit() || " +-()".contains(*c)))
        {
            return Err(StoreError::invalid(
                "practice_phone",
                format!("may contain only digits, spaces, +, -, ( and ) (found {c:?})"),
            ));
        }
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        if !phone.is_empty() && !(7..=15).contains(&digits) {
            return Err(StoreError::invalid(
                "practice_phone",
                format!("must have 7 to 15 digits (got {digits})"),
            ));
        }
        Ok(PracticeFields {
            name: clean_line("practice_name", &self.name, 120, false)?,
            phone,
            address: clean_text("practice_address", self.address.trim(), 500)?,
        })
    }
}

fn read_values(conn: &super::db::Conn) -> StoreResult<HashMap<String, Value>> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM settings")?;
    let rows = stmt.query_map((), |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))?;
    let mut out = HashMap::new();
    for row in rows {
        let (k, v) = row?;
        let v: Value = serde_json::from_str(&v).map_err(|e| StoreError::BadRecord {
            what: format!("setting {k}"),
            detail: e.to_string(),
        })?;
        out.insert(k, v);
    }
    Ok(out)
}

pub(crate) fn read(conn: &super::db::Conn) -> StoreResult<Settings> {
    Settings::from_values(&read_values(conn)?)
}

impl Store {
    /// The current settings (defaults for anything never set).
    pub fn settings(&self) -> StoreResult<Settings> {
        read(&self.conn)
    }

    /// Validates and saves the settings; only changed values are written,
    /// and the audit entry names them. Returns the settings as stored.
    pub fn update_settings(&mut self, new: &Settings, actor: &str) -> StoreResult<Settings> {
        let actor = clean_actor(actor)?;
        let new = new.validated()?;
        self.write(|tx, now| {
            // Compare with raw stored values, so a damaged value can still be
            // overwritten by a good one.
            let old = read_values(tx)?;
            let defaults = Settings::default().to_values();
            let mut changed = Vec::new();
            for ((key, value), (_, default)) in new.to_values().into_iter().zip(defaults) {
                let current = old.get(key).unwrap_or(&default);
                if *current == value {
                    continue;
                }
                let text = serde_json::to_string(&value)
                    .map_err(|e| StoreError::invalid(key, e.to_string()))?;
                tx.prepare_cached(
                    "INSERT INTO settings (key, value, updated_at, updated_by)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (key) DO UPDATE SET
                       value = excluded.value,
                       updated_at = excluded.updated_at,
                       updated_by = excluded.updated_by",
                )?
                .execute(params![key, text, ts(now), actor])?;
                changed.push(key);
            }
            if !changed.is_empty() {
                audit::append(
                    tx,
                    now,
                    &actor,
                    AuditAction::Change,
                    AuditEntity::Settings,
                    None,
                    None,
                    &format!("settings changed: {}", changed.join(", ")),
                )?;
            }
            read(tx)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(
            Settings::default().validated().unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn threshold_must_be_plausible() {
        for bad in [0.0, -90.0, f64::NAN, f64::INFINITY, 5000.0] {
            let s = Settings {
                high_dose_threshold_mg_per_day: Some(bad),
                ..Settings::default()
            };
            let e = s.validated().unwrap_err().to_string();
            assert!(
                e.starts_with("high_dose_threshold_mg_per_day: must be between"),
                "{e}"
            );
        }
        let s = Settings {
            high_dose_threshold_mg_per_day: Some(120.0),
            ..Settings::default()
        };
        assert!(s.validated().is_ok());
    }

    #[test]
    fn phone_numbers_are_checked() {
        for ok in ["", "01234 567890", "+44 (0)1234 567890", "0300-123-4567"] {
            let s = Settings {
                practice_phone: ok.into(),
                ..Settings::default()
            };
            assert!(s.validated().is_ok(), "{ok}");
        }
        let cases = [
            (
                "call us",
                "practice_phone: may contain only digits, spaces, +, -, ( and ) (found 'c')",
            ),
            ("123", "practice_phone: must have 7 to 15 digits (got 3)"),
        ];
        for (bad, msg) in cases {
            let s = Settings {
                practice_phone: bad.into(),
                ..Settings::default()
            };
            assert_eq!(s.validated().unwrap_err().to_string(), msg);
        }
    }

    #[test]
    fn text_is_trimmed_and_single_line_where_needed() {
        let s = Settings {
            practice_name: "  The Surgery  ".into(),
            practice_address: "1 High Street\nTown\nAB1 2CD\n".into(),
            reviewer_name: "Dr A Example".into(),
            ..Settings::default()
        }
        .validated()
        .unwrap();
        assert_eq!(s.practice_name, "The Surgery");
        assert_eq!(s.practice_address, "1 High Street\nTown\nAB1 2CD");
        let e = Settings {
            practice_name: "Line\nbreak".into(),
            ..Settings::default()
        }
        .validated()
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("practice_name: must be a single line"),
            "{e}"
        );
    }
}
