//! Clinical reference tables embedded at compile time from `assets/reference/`.
//!
//! Every number the clinical modules use comes from here, and every row names
//! its source. Tables are parsed once and validated by tests (`cargo test`):
//! a row without a source, a non-positive number or a duplicate id fails the build's tests.

use std::collections::HashSet;
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::profile::Profile;

/// The embedded files, by the name the manifest uses.
const EMBEDDED: &[(&str, &str)] = &[(
    "thresholds.json",
    include_str!("../assets/reference/thresholds.json"),
)];

const MANIFEST: &str = include_str!("../assets/reference/manifest.json");

/// Problems found while loading or validating the reference tables.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReferenceError {
    /// A file is not valid JSON for its table type.
    #[error("reference file {file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// The manifest lists a file that is not embedded.
    #[error("reference manifest lists {0}, which is not embedded in this build")]
    NotEmbedded(String),
    /// A rule about the table contents is broken.
    #[error("reference table {table}, row {row}: {message}")]
    Invalid {
        /// Table id.
        table: String,
        /// Row id.
        row: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    manifest_version: String,
    #[allow(dead_code)]
    description: String,
    tables: Vec<String>,
}

/// Header every reference table carries.
#[derive(Debug, Clone, Deserialize)]
pub struct TableHeader {
    /// Stable table identifier.
    pub id: String,
    /// Human-readable title.
    pub title: String,
    /// Table version, bumped whenever a row changes.
    pub version: String,
    /// Date by which the table must be checked against its sources again.
    pub review_date: NaiveDate,
    /// The principal source(s) of the table.
    pub source: String,
}

/// A table: header plus rows.
#[derive(Debug, Clone, Deserialize)]
pub struct Table<R> {
    /// Provenance and version.
    #[serde(flatten)]
    pub header: TableHeader,
    /// The rows, each with its own source.
    pub rows: Vec<R>,
}

/// What a threshold row means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdKind {
    /// At or above this total a regimen is "high dose".
    HighDose,
    /// At or above this total, reassess benefit and risk (CDC).
    Caution,
    /// Above this total, consider specialist pain services.
    SpecialistReferral,
}

/// One dose threshold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRow {
    /// Row id, unique within the table.
    pub id: String,
    /// The profile it belongs to.
    pub profile: Profile,
    /// Its meaning.
    pub kind: ThresholdKind,
    /// mg oral morphine equivalent a day.
    pub mg_per_day: f64,
    /// Where the number comes from.
    pub source: String,
}

/// All reference tables, loaded and validated.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Version of the manifest as a whole.
    pub manifest_version: String,
    /// Dose thresholds per profile.
    pub thresholds: Table<ThresholdRow>,
}

/// Summary of one loaded table, for `stepdown reference` and the About panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TableInfo {
    /// Stable table identifier.
    pub id: String,
    /// Human-readable title.
    pub title: String,
    /// Table version.
    pub version: String,
    /// ISO date by which the table must be reviewed.
    pub review_date: String,
    /// Principal source.
    pub source: String,
    /// Number of rows.
    pub rows: u32,
}

/// Summary of the reference data that this build carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReferenceInfo {
    /// Version of the reference manifest.
    pub manifest_version: String,
    /// Every loaded table.
    pub tables: Vec<TableInfo>,
}

fn embedded(file: &str) -> Result<&'static str, ReferenceError> {
    EMBEDDED
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, text)| *text)
        .ok_or_else(|| ReferenceError::NotEmbedded(file.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(file: &str) -> Result<T, ReferenceError> {
    serde_json::from_str(embedded(file)?).map_err(|e| ReferenceError::Parse {
        file: file.to_string(),
        message: e.to_string(),
    })
}

fn invalid(table: &str, row: &str, message: impl Into<String>) -> ReferenceError {
    ReferenceError::Invalid {
        table: table.to_string(),
        row: row.to_string(),
        message: message.into(),
    }
}

/// Checks a table's header and the rules every row must follow.
fn check_rows<'a>(
    header: &TableHeader,
    rows: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<(), ReferenceError> {
    let t = header.id.as_str();
    if header.source.trim().is_empty() {
        return Err(invalid(t, "(header)", "table has no source"));
    }
    if header.version.trim().is_empty() {
        return Err(invalid(t, "(header)", "table has no version"));
    }
    let mut seen = HashSet::new();
    for (id, source) in rows {
        if id.trim().is_empty() {
            return Err(invalid(t, "(blank)", "row has no id"));
        }
        if !seen.insert(id) {
            return Err(invalid(t, id, "duplicate row id"));
        }
        if source.trim().is_empty() {
            return Err(invalid(t, id, "row has no source"));
        }
    }
    Ok(())
}

impl Reference {
    /// Parses and validates every embedded table.
    pub fn load() -> Result<Reference, ReferenceError> {
        let manifest: Manifest =
            serde_json::from_str(MANIFEST).map_err(|e| ReferenceError::Parse {
                file: "manifest.json".into(),
                message: e.to_string(),
            })?;
        for file in &manifest.tables {
            embedded(file)?;
        }
        let thresholds: Table<ThresholdRow> = parse("thresholds.json")?;
        check_rows(
            &thresholds.header,
            thresholds
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.source.as_str())),
        )?;
        for r in &thresholds.rows {
            if !(r.mg_per_day.is_finite() && r.mg_per_day > 0.0) {
                return Err(invalid(
                    &thresholds.header.id,
                    &r.id,
                    "threshold must be positive",
                ));
            }
        }
        for p in Profile::ALL {
            if !thresholds
                .rows
                .iter()
                .any(|r| r.profile == p && r.kind == ThresholdKind::HighDose)
            {
                return Err(invalid(
                    &thresholds.header.id,
                    p.as_str(),
                    "profile has no high-dose threshold",
                ));
            }
        }
        Ok(Reference {
            manifest_version: manifest.manifest_version,
            thresholds,
        })
    }

    /// The threshold of `kind` for `profile`, with its row (and so its source).
    pub fn threshold(&self, profile: Profile, kind: ThresholdKind) -> Option<&ThresholdRow> {
        self.thresholds
            .rows
            .iter()
            .find(|r| r.profile == profile && r.kind == kind)
    }

    fn headers(&self) -> Vec<(&TableHeader, usize)> {
        vec![(&self.thresholds.header, self.thresholds.rows.len())]
    }

    /// Versions, review dates and sources of every table.
    pub fn info(&self) -> ReferenceInfo {
        ReferenceInfo {
            manifest_version: self.manifest_version.clone(),
            tables: self
                .headers()
                .into_iter()
                .map(|(h, rows)| TableInfo {
                    id: h.id.clone(),
                    title: h.title.clone(),
                    version: h.version.clone(),
                    review_date: h.review_date.to_string(),
                    source: h.source.clone(),
                    rows: u32::try_from(rows).unwrap_or(u32::MAX),
                })
                .collect(),
        }
    }
}

/// The reference data embedded in this build.
///
/// The tables are compile-time constants checked by `reference::tests`, so a
/// failure here is a build defect, not a user error.
pub fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| match Reference::load() {
        Ok(r) => r,
        Err(e) => panic!("embedded reference data is invalid: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_reference_loads_and_validates() {
        let r = Reference::load().expect("reference data must validate");
        assert!(!r.manifest_version.is_empty());
    }

    #[test]
    fn manifest_lists_exactly_the_embedded_files() {
        let m: Manifest = serde_json::from_str(MANIFEST).unwrap();
        let mut listed: Vec<_> = m.tables.iter().map(String::as_str).collect();
        let mut embedded: Vec<_> = EMBEDDED.iter().map(|(n, _)| *n).collect();
        listed.sort();
        embedded.sort();
        assert_eq!(listed, embedded);
    }

    #[test]
    fn uk_high_dose_threshold_is_90_from_opioids_aware() {
        let t = reference()
            .threshold(Profile::Uk, ThresholdKind::HighDose)
            .unwrap();
        assert_eq!(t.mg_per_day, 90.0);
        assert!(t.source.contains("Opioids Aware"));
    }

    #[test]
    fn row_without_source_is_rejected() {
        let h = TableHeader {
            id: "t".into(),
            title: "t".into(),
            version: "1".into(),
            review_date: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
            source: "s".into(),
        };
        let err = check_rows(&h, [("a", "src"), ("b", " ")].into_iter()).unwrap_err();
        assert!(
            err.to_string().contains("row b: row has no source"),
            "{err}"
        );
        let err = check_rows(&h, [("a", "src"), ("a", "src")].into_iter()).unwrap_err();
        assert!(err.to_string().contains("duplicate row id"), "{err}");
    }

    #[test]
    fn info_lists_every_table_with_version_and_review_date() {
        let info = reference().info();
        assert_eq!(info.tables.len(), EMBEDDED.len());
        for t in &info.tables {
            assert!(!t.version.is_empty() && !t.source.is_empty() && t.rows > 0);
            assert!(NaiveDate::parse_from_str(&t.review_date, "%Y-%m-%d").is_ok());
        }
    }
}
