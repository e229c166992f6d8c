//! Column-map presets (`--preset`, issue 16): the header names of
//! clinical-system export files, written down once with where they are
//! published. Data, in `assets/import_presets.json`; a preset is only a
//! [`ColumnMap`], so the rows are read exactly as any extract. Pure.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::csv::{Column, ColumnMap, CsvError};

/// One preset (also what the desktop import lists as an export format).
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[ts(export, rename = "ImportPreset")]
pub struct Preset {
    /// What `--preset` takes, e.g. `systmone-sr`.
    pub name: String,
    /// The export it is for, in words.
    pub title: String,
    /// Exactly which file it fits (and which it does not).
    pub fits: String,
    /// Column → header in the file.
    pub columns: std::collections::BTreeMap<String, String>,
    /// Where the header names are published.
    pub source: String,
    /// What the file holds that the import does not use, or uses with care.
    pub limits: String,
}

#[derive(Deserialize)]
struct PresetFile {
    presets: Vec<Preset>,
}

/// Every preset.
pub fn presets() -> &'static [Preset] {
    static PRESETS: OnceLock<Vec<Preset>> = OnceLock::new();
    PRESETS.get_or_init(|| {
        // Checked by the tests below: a build with a broken file fails them.
        serde_json::from_str::<PresetFile>(include_str!("../../assets/import_presets.json"))
            .map(|f| f.presets)
            .unwrap_or_default()
    })
}

/// The column map of preset `name`, with `extra` (a `--map`) replacing or
/// adding columns.
pub fn preset_map(name: &str, extra: &ColumnMap) -> Result<ColumnMap, CsvError> {
    let names = || {
        presets()
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(p) = presets().iter().find(|p| p.name == name.trim()) else {
        return Err(CsvError::BadPreset(format!(
            "there is no preset '{}' (presets: {})",
            name.trim(),
            names()
        )));
    };
    let mut pairs: Vec<(Column, String)> = Vec::new();
    for (column, header) in &p.columns {
        let Some(c) = Column::from_header(column) else {
            return Err(CsvError::BadPreset(format!(
                "preset {}: '{column}' is not a column",
                p.name
            )));
        };
        if !extra.pairs.iter().any(|(x, _)| *x == c) {
            pairs.push((c, header.clone()));
        }
    }
    pairs.extend(extra.pairs.iter().cloned());
    pairs.sort_by_key(|(c, _)| *c);
    Ok(ColumnMap { pairs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_complete_and_sourced() {
        assert!(
            !presets().is_empty(),
            "assets/import_presets.json did not parse"
        );
        for p in presets() {
            let map = preset_map(&p.name, &ColumnMap::default()).unwrap();
            for c in Column::ALL.into_iter().filter(|c| c.required()) {
                assert!(
                    map.pairs.iter().any(|(x, _)| *x == c),
                    "{}: {c} is not mapped",
                    p.name
                );
            }
            assert!(
                p.source.contains("github.com/") || p.source.contains("https://"),
                "{}",
                p.name
            );
            assert!(!p.fits.is_empty() && !p.limits.is_empty() && !p.title.is_empty());
        }
    }

    #[test]
    fn a_map_replaces_a_presets_column_and_unknown_presets_are_named() {
        let extra = ColumnMap::parse("patient_id=Patient,age=Age").unwrap();
        let map = preset_map("systmone-sr", &extra).unwrap();
        let header = |c: Column| {
            map.pairs
                .iter()
                .find(|(x, _)| *x == c)
                .map(|(_, h)| h.as_str())
        };
        assert_eq!(header(Column::PatientId), Some("Patient"));
        assert_eq!(header(Column::Age), Some("Age"));
        assert_eq!(header(Column::Drug), Some("NameOfMedication"));
        let e = preset_map("emis", &ColumnMap::default()).unwrap_err();
        assert!(e.to_string().contains("systmone-sr, emis-web"), "{e}");
    }

    /// The EMIS Web preset's headings are Stepdown's own (typed into the
    /// list report by the recipe in assets/emis/): the recipe names every one.
    #[test]
    fn the_emis_web_recipe_names_every_heading_of_its_preset() {
        let recipe = include_str!("../../assets/emis/stepdown-opioid-issues-report.md");
        let p = presets()
            .iter()
            .find(|p| p.name == "emis-web")
            .expect("emis-web preset");
        for header in p.columns.values() {
            assert!(
                recipe.contains(&format!("`{header}`")),
                "the recipe does not name the heading `{header}`"
            );
        }
        // The desktop import lists the preset by its title: the recipe quotes it.
        assert!(
            recipe.contains(&p.title),
            "the recipe does not quote '{}'",
            p.title
        );
    }
}
