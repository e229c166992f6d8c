//! Reference tables for risk assessment (`stepdown assess`): co-medication
//! lists with UK brand names, drug classes, renal advice per opioid, opioid
//! properties, patient-level thresholds, patient input ranges and the wording
//! of every flag.
//!
//! Like the OME tables, every row names its source and the tables are checked
//! when loaded, so a clinician can review the facts and the words without
//! reading Rust, and a malformed edit fails the tests rather than a consultation.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{check_rows, invalid, parse, positive, ReferenceError, Table, TableHeader};
use crate::vocabulary::{vocabulary, FlagId, Severity};

vocabulary!(
    /// A class of co-medication that changes opioid risk.
    #[ts(export)]
    DrugClass, "drug class" {
        /// Benzodiazepines (diazepam, temazepam, ...).
        Benzodiazepine => "benzodiazepine",
        /// Benzodiazepine-like hypnotics (zopiclone, zolpidem, zaleplon).
        ZDrug => "z-drug",
        /// Gabapentin and pregabalin.
        Gabapentinoid => "gabapentinoid",
        /// Selective serotonin re-uptake inhibitors.
        Ssri => "ssri",
        /// Serotonin and noradrenaline re-uptake inhibitors.
        Snri => "snri",
        /// Tricyclic antidepressants.
        Tricyclic => "tricyclic",
        /// Monoamine-oxidase inhibitors.
        Maoi => "maoi",
        /// 5HT1 agonists for migraine.
        Triptan => "triptan",
        /// Lithium.
        Lithium => "lithium",
        /// St John's wort (Hypericum perforatum).
        StJohnsWort => "st-johns-wort",
        /// Other serotonergic antidepressants (trazodone, mirtazapine, vortioxetine).
        OtherSerotonergicAntidepressant => "other-serotonergic-antidepressant",
        /// Antipsychotics, including phenothiazine antiemetics (other CNS depressants).
        Antipsychotic => "antipsychotic",
        /// Sedating antihistamines (other CNS depressants).
        SedatingAntihistamine => "sedating-antihistamine",
        /// Paracetamol taken outside the opioid regimen.
        Paracetamol => "paracetamol",
        /// Take-home naloxone.
        Naloxone => "naloxone",
    }
);

/// What a class means for risk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrugClassRow {
    /// The class.
    pub id: DrugClass,
    /// Words for people ("SSRI (selective serotonin re-uptake inhibitor)").
    pub label: String,
    /// Whether it counts towards serotonin syndrome with a serotonergic opioid.
    pub serotonergic: bool,
    /// Where that comes from.
    pub source: String,
}

/// One co-medication: its generic name, the names it is recognised by, its classes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoMedicationRow {
    /// Row id.
    pub id: String,
    /// Lower-case generic name.
    pub name: String,
    /// Classes it belongs to (at least one).
    pub classes: Vec<DrugClass>,
    /// UK brand names (recognised case-insensitively).
    pub brands: Vec<String>,
    /// Other names it is entered as (salts, older names).
    pub synonyms: Vec<String>,
    /// Named in the drug-driving law (Road Traffic Act 1988 s5A; the
    /// Drug Driving (Specified Limits) Regulations 2014): diazepam, clonazepam,
    /// lorazepam, oxazepam, temazepam.
    #[serde(default)]
    pub drug_driving_specified: bool,
    /// Where the classification and the brand names come from.
    pub source: String,
}

/// SPS advice for an opioid in renal impairment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RenalAdvice {
    /// Avoid in renal impairment.
    Avoid,
    /// Caution in mild to moderate impairment, avoid if severe.
    AvoidIfSevere,
    /// Use with caution: low doses or longer intervals.
    Caution,
    /// Safest profile, still used cautiously.
    Safest,
}

/// From which eGFR band the renal flag names an opioid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EgfrBand {
    /// Below the "impaired" threshold (eGFR < 60).
    Impaired,
    /// Only below the "severe" threshold (eGFR < 30).
    Severe,
}

/// Renal advice for one opioid.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenalOpioidRow {
    /// Row id.
    pub id: String,
    /// Lower-case generic opioid name (must be a known drug).
    pub drug: String,
    /// The SPS category.
    pub advice: RenalAdvice,
    /// From which band the flag names it.
    pub flag_from: EgfrBand,
    /// The advice in words, shown in the flag's rationale.
    pub note: String,
    /// Where it comes from.
    pub source: String,
}

/// A property of an opioid that matters for a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpioidProperty {
    /// Serotonergic: serotonin syndrome with serotonergic co-medication.
    Serotonergic,
    /// Lowers the seizure threshold.
    LowersSeizureThreshold,
    /// Named in the drug-driving law (Road Traffic Act 1988 s5A).
    DrugDrivingSpecified,
    /// Metabolised to a specified drug (codeine and dihydrocodeine to morphine),
    /// so a blood test can find a specified drug.
    MetabolisedToSpecified,
}

/// One opioid property with its source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpioidPropertyRow {
    /// Row id.
    pub id: String,
    /// Lower-case generic opioid name (must be a known drug).
    pub drug: String,
    /// The property.
    pub property: OpioidProperty,
    /// The fact in words.
    pub note: String,
    /// Where it comes from.
    pub source: String,
}

vocabulary!(
    /// What a patient-level threshold is.
    RiskThresholdKind, "risk threshold" {
        /// Age (years) from which the older-adult flag fires.
        OlderAdultAge => "older-adult-age",
        /// Months on opioids from which the long-term-use flag fires.
        LongTermMonths => "long-term-months",
        /// eGFR below which renal impairment is severe.
        EgfrSevereBelow => "egfr-severe-below",
        /// eGFR below which the listed opioids are flagged.
        EgfrImpairedBelow => "egfr-impaired-below",
        /// Paracetamol maximum, mg a day.
        ParacetamolMaxMgPerDay => "paracetamol-max-mg-per-day",
        /// Reduced paracetamol maximum (low weight, hepatic impairment), mg a day.
        ParacetamolReducedMaxMgPerDay => "paracetamol-reduced-max-mg-per-day",
        /// Weight (kg) below which the reduced paracetamol maximum applies.
        ParacetamolLowWeightKg => "paracetamol-low-weight-kg",
        /// Patches worn at once from which the several-patches flag fires.
        SeveralPatchesAtOnce => "several-patches-at-once",
        /// Under the low-weight threshold: most paracetamol a day per kg of body weight.
        ParacetamolLowWeightMgPerKgPerDay => "paracetamol-low-weight-mg-per-kg-per-day",
    }
);

/// One patient-level threshold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskThresholdRow {
    /// Row id.
    pub id: String,
    /// What it is.
    pub kind: RiskThresholdKind,
    /// The number.
    pub value: f64,
    /// Its unit, for people.
    pub unit: String,
    /// Where it comes from.
    pub source: String,
}

vocabulary!(
    /// A numeric field of the patient context.
    PatientField, "patient field" {
        /// `age`, years.
        Age => "age",
        /// `weight_kg`.
        WeightKg => "weight_kg",
        /// `egfr`, mL/min/1.73 m².
        Egfr => "egfr",
        /// `months_on_opioids`.
        MonthsOnOpioids => "months_on_opioids",
        /// `co_medication_paracetamol_mg_per_day`.
        CoMedicationParacetamolMgPerDay => "co_medication_paracetamol_mg_per_day",
    }
);

/// The accepted range of one patient field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientLimitRow {
    /// Row id.
    pub id: String,
    /// The field.
    pub field: PatientField,
    /// Smallest accepted value.
    pub min: f64,
    /// Largest accepted value.
    pub max: f64,
    /// Unit words for messages.
    pub unit: String,
    /// Where the range comes from.
    pub source: String,
}

/// The wording of one flag (or one variant of it, e.g. renal `severe` and `caution`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagTextRow {
    /// Row id: `flag.variant`.
    pub id: String,
    /// The flag.
    pub flag: FlagId,
    /// The variant the flag logic selects.
    pub variant: String,
    /// How serious.
    pub severity: Severity,
    /// Short title.
    pub title: String,
    /// Why it fired, with `{placeholders}` for the patient's figures.
    pub rationale: String,
    /// What to do, in a clinician's words (may use placeholders too).
    pub action: String,
    /// Where the advice comes from.
    pub source: String,
}

/// The risk tables, loaded and checked.
#[derive(Debug, Clone)]
pub struct RiskTables {
    /// Drug classes and whether each is serotonergic.
    pub drug_classes: Table<DrugClassRow>,
    /// Co-medications with brand names.
    pub co_medications: Table<CoMedicationRow>,
    /// Renal advice per opioid.
    pub renal_opioids: Table<RenalOpioidRow>,
    /// Opioid properties (serotonergic, seizures, drug driving).
    pub opioid_properties: Table<OpioidPropertyRow>,
    /// Patient-level thresholds.
    pub thresholds: Table<RiskThresholdRow>,
    /// Accepted ranges of patient fields.
    pub patient_limits: Table<PatientLimitRow>,
    /// Flag wording.
    pub flags: Table<FlagTextRow>,
    /// Normalised generic, brand and other names → index into `co_medications.rows`.
    names: HashMap<String, usize>,
}

/// Normalises a medicine name for matching: lower case, curly apostrophes,
/// full stops and apostrophes dropped, "®"/"™" dropped, spaces collapsed. So
/// "St. John’s Wort", "st johns wort" and "ST JOHN'S WORT" all match.
pub fn normalise_name(name: &str) -> String {
    // NFKC and no invisible characters first (full-width letters, a
    // zero-width space or a direction mark once stopped a co-medication flag).
    let cleaned: String = crate::limits::normalise_for_lookup(name)
        .chars()
        .filter(|c| !matches!(c, '\'' | '’' | '‘' | '.' | '®' | '™'))
        .collect::<String>()
        .to_lowercase();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `{name}` placeholders in a template, or an error for unbalanced braces.
pub(crate) fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("'}' without '{'".into());
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("'{' without '}'".into());
        };
        let name = &after[..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(format!("bad placeholder '{{{name}}}'"));
        }
        out.push(name);
        rest = &after[close + 1..];
    }
    Ok(out)
}

fn rows_of<'a, R>(
    table: &'a Table<R>,
    key: impl Fn(&'a R) -> (&'a str, &'a str) + 'a,
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    table.rows.iter().map(key)
}

impl RiskTables {
    /// Parses and checks the risk tables; `known_opioids` are the drugs of the
    /// OME factor tables (renal and property rows must name one of them).
    pub fn load(known_opioids: &[String]) -> Result<RiskTables, ReferenceError> {
        let drug_classes: Table<DrugClassRow> = parse("drug_classes.json")?;
        check_rows(
            &drug_classes.header,
            rows_of(&drug_classes, |r| (r.id.as_str(), r.source.as_str())),
        )?;
        let co_medications: Table<CoMedicationRow> = parse("co_medications.json")?;
        check_rows(
            &co_medications.header,
            rows_of(&co_medications, |r| (r.id.as_str(), r.source.as_str())),
        )?;
        let renal_opioids: Table<RenalOpioidRow> = parse("renal_opioids.json")?;
        check_rows(
            &renal_opioids.header,
            rows_of(&renal_opioids, |r| (r.id.as_str(), r.source.as_str())),
        )?;
        let opioid_properties: Table<OpioidPropertyRow> = parse("opioid_properties.json")?;
        check_rows(
            &opioid_properties.header,
            rows_of(&opioid_properties, |r| (r.id.as_str(), r.source.as_str())),
        )?;
        let thresholds: Table<RiskThresholdRow> = parse("risk_thresholds.json")?;
        check_rows(
            &thresholds.header,
            rows_of(&thresholds, |r| (r.id.as_str(), r.source.as_str())),
        )?;
        let patient_limits: Table<PatientLimitRow> = parse("patient_limits.json")?;
        check_rows(
            &patient_limits.header,
            rows_of(&patient_limits, |r| (r.id.as_str(), r.source.as_str())),
        )?;
        let flags: Table<FlagTextRow> = parse("flags.json")?;
        check_rows(
            &flags.header,
            rows_of(&flags, |r| (r.id.as_str(), r.source.as_str())),
        )?;

        check_drug_classes(&drug_classes)?;
        let names = check_co_medications(&co_medications, known_opioids)?;
        check_opioid_rows(
            &renal_opioids.header,
            renal_opioids
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.drug.as_str(), r.note.as_str())),
            known_opioids,
        )?;
        check_opioid_rows(
            &opioid_properties.header,
            opioid_properties
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.drug.as_str(), r.note.as_str())),
            known_opioids,
        )?;
        check_unique_drugs(&renal_opioids)?;
        check_thresholds(&thresholds)?;
        check_patient_limits(&patient_limits)?;
        check_flag_texts(&flags)?;

        Ok(RiskTables {
            drug_classes,
            co_medications,
            renal_opioids,
            opioid_properties,
            thresholds,
            patient_limits,
            flags,
            names,
        })
    }

    /// Headers and row counts, for `Reference::info`.
    pub(crate) fn headers(&self) -> Vec<(&TableHeader, usize)> {
        vec![
            (&self.drug_classes.header, self.drug_classes.rows.len()),
            (&self.co_medications.header, self.co_medications.rows.len()),
            (&self.renal_opioids.header, self.renal_opioids.rows.len()),
            (
                &self.opioid_properties.header,
                self.opioid_properties.rows.len(),
            ),
            (&self.thresholds.header, self.thresholds.rows.len()),
            (&self.patient_limits.header, self.patient_limits.rows.len()),
            (&self.flags.header, self.flags.rows.len()),
        ]
    }

    /// The co-medication a name (generic, brand or synonym; any case) refers to.
    pub fn co_medication(&self, name: &str) -> Option<&CoMedicationRow> {
        // A name already in its normalised form (the generic names an
        // extract's products carry, looked up for every patient) is found
        // without normalising it again: every key normalises to itself
        // (checked when the table is loaded), so the answer is the same.
        let i = match self.names.get(name) {
            Some(&i) => i,
            None => *self.names.get(&normalise_name(name))?,
        };
        self.co_medications.rows.get(i)
    }

    /// Every recognised name, normalised (for "did you mean" suggestions).
    pub fn co_medication_names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }

    /// The row describing a class.
    pub fn drug_class(&self, class: DrugClass) -> Option<&DrugClassRow> {
        self.drug_classes.rows.iter().find(|r| r.id == class)
    }

    /// The value of a patient-level threshold.
    ///
    /// # Panics
    /// Never for embedded data: `load` fails unless every kind has a row.
    pub fn threshold(&self, kind: RiskThresholdKind) -> &RiskThresholdRow {
        match self.thresholds.rows.iter().find(|r| r.kind == kind) {
            Some(r) => r,
            None => panic!("risk thresholds table has no {kind:?} row (a build defect)"),
        }
    }

    /// The accepted range of a patient field.
    ///
    /// # Panics
    /// Never for embedded data: `load` fails unless every field has a row.
    pub fn patient_limit(&self, field: PatientField) -> &PatientLimitRow {
        match self.patient_limits.rows.iter().find(|r| r.field == field) {
            Some(r) => r,
            None => panic!("patient limits table has no {field:?} row (a build defect)"),
        }
    }

    /// SPS renal advice for an opioid, if the table has it.
    pub fn renal(&self, drug: &str) -> Option<&RenalOpioidRow> {
        self.renal_opioids.rows.iter().find(|r| r.drug == drug)
    }

    /// The property row, if `drug` has `property`.
    pub fn opioid_property(
        &self,
        drug: &str,
        property: OpioidProperty,
    ) -> Option<&OpioidPropertyRow> {
        self.opioid_properties
            .rows
            .iter()
            .find(|r| r.drug == drug && r.property == property)
    }

    /// The wording of a flag variant, with its position in the table (the
    /// tie-break order among flags of equal severity).
    pub fn flag_text(&self, flag: FlagId, variant: &str) -> Option<(usize, &FlagTextRow)> {
        self.flags
            .rows
            .iter()
            .enumerate()
            .find(|(_, r)| r.flag == flag && r.variant == variant)
    }
}

fn check_drug_classes(table: &Table<DrugClassRow>) -> Result<(), ReferenceError> {
    let t = table.header.id.as_str();
    for class in DrugClass::ALL {
        let n = table.rows.iter().filter(|r| r.id == class).count();
        if n != 1 {
            return Err(invalid(
                t,
                class.as_str(),
                format!("expected exactly one row for this class, found {n}"),
            ));
        }
    }
    for r in &table.rows {
        if r.label.trim().is_empty() {
            return Err(invalid(t, r.id.as_str(), "class has no label"));
        }
    }
    Ok(())
}

/// Names must be lower-case generics with at least one class, and every name,
/// brand and synonym must be unambiguous and must not be an opioid (opioids
/// belong in the regimen, where they count towards the OME).
fn check_co_medications(
    table: &Table<CoMedicationRow>,
    known_opioids: &[String],
) -> Result<HashMap<String, usize>, ReferenceError> {
    let t = table.header.id.as_str();
    let mut names = HashMap::new();
    for (i, r) in table.rows.iter().enumerate() {
        let bad = |m: String| invalid(t, &r.id, m);
        if r.name.trim().is_empty() || r.name != r.name.to_lowercase() {
            return Err(bad("name must be a lower-case generic name".into()));
        }
        if r.classes.is_empty() {
            return Err(bad("a co-medication needs at least one class".into()));
        }
        let all = std::iter::once(&r.name).chain(&r.brands).chain(&r.synonyms);
        for name in all {
            let key = normalise_name(name);
            if key.is_empty() {
                return Err(bad("blank name, brand or synonym".into()));
            }
            // `co_medication` looks a normalised name up as it is.
            if normalise_name(&key) != key {
                return Err(bad(format!("'{name}' does not normalise to itself")));
            }
            if known_opioids.iter().any(|o| normalise_name(o) == key) {
                return Err(bad(format!("'{name}' is an opioid, not a co-medication")));
            }
            if let Some(&other) = names.get(&key) {
                if other != i {
                    return Err(bad(format!("'{name}' is also a name of another row")));
                }
            }
            names.insert(key, i);
        }
    }
    Ok(names)
}

fn check_opioid_rows<'a>(
    header: &TableHeader,
    rows: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
    known_opioids: &[String],
) -> Result<(), ReferenceError> {
    for (id, drug, note) in rows {
        if !known_opioids.iter().any(|k| k == drug) {
            return Err(invalid(
                &header.id,
                id,
                format!("'{drug}' is not an opioid of the OME tables"),
            ));
        }
        if note.trim().is_empty() {
            return Err(invalid(&header.id, id, "row has no note"));
        }
    }
    Ok(())
}

fn check_unique_drugs(table: &Table<RenalOpioidRow>) -> Result<(), ReferenceError> {
    let mut seen = HashSet::new();
    for r in &table.rows {
        if !seen.insert(r.drug.as_str()) {
            return Err(invalid(&table.header.id, &r.id, "opioid listed twice"));
        }
    }
    Ok(())
}

fn check_thresholds(table: &Table<RiskThresholdRow>) -> Result<(), ReferenceError> {
    let t = table.header.id.as_str();
    for r in &table.rows {
        if !positive(r.value) || r.unit.trim().is_empty() {
            return Err(invalid(t, &r.id, "value must be positive, with a unit"));
        }
    }
    for kind in RiskThresholdKind::ALL {
        let n = table.rows.iter().filter(|r| r.kind == kind).count();
        if n != 1 {
            return Err(invalid(
                t,
                &format!("{kind:?}"),
                format!("expected exactly one threshold of this kind, found {n}"),
            ));
        }
    }
    let value = |kind| {
        table
            .rows
            .iter()
            .find(|r| r.kind == kind)
            .map_or(f64::NAN, |r| r.value)
    };
    // The bands must nest, or "severe" would be the milder of the two.
    if value(RiskThresholdKind::EgfrSevereBelow) >= value(RiskThresholdKind::EgfrImpairedBelow) {
        return Err(invalid(
            t,
            "egfr",
            "severe band must be below the impaired band",
        ));
    }
    if value(RiskThresholdKind::ParacetamolReducedMaxMgPerDay)
        >= value(RiskThresholdKind::ParacetamolMaxMgPerDay)
    {
        return Err(invalid(t, "paracetamol", "reduced maximum must be lower"));
    }
    Ok(())
}

fn check_patient_limits(table: &Table<PatientLimitRow>) -> Result<(), ReferenceError> {
    let t = table.header.id.as_str();
    for r in &table.rows {
        if !(r.min.is_finite() && r.max.is_finite() && r.min >= 0.0 && r.min < r.max) {
            return Err(invalid(t, &r.id, "need finite 0 <= min < max"));
        }
        if r.unit.trim().is_empty() {
            return Err(invalid(t, &r.id, "limit has no unit words"));
        }
    }
    for field in PatientField::ALL {
        let n = table.rows.iter().filter(|r| r.field == field).count();
        if n != 1 {
            return Err(invalid(
                t,
                field.as_str(),
                format!("expected exactly one range for this field, found {n}"),
            ));
        }
    }
    Ok(())
}

/// Every variant the flag logic can select has exactly one wording row, no
/// row is unused, ids are `flag.variant`, the texts are non-empty and every
/// placeholder is one the flag fills in.
fn check_flag_texts(table: &Table<FlagTextRow>) -> Result<(), ReferenceError> {
    let t = table.header.id.as_str();
    let mut seen = BTreeSet::new();
    for r in &table.rows {
        let bad = |m: String| invalid(t, &r.id, m);
        if r.id != format!("{}.{}", r.flag.as_str(), r.variant) {
            return Err(bad("id must be flag.variant".into()));
        }
        if !r.flag.variants().contains(&r.variant.as_str()) {
            return Err(bad(format!(
                "variant '{}' is never selected (known: {})",
                r.variant,
                r.flag.variants().join(", ")
            )));
        }
        for (what, text) in [
            ("title", &r.title),
            ("rationale", &r.rationale),
            ("action", &r.action),
        ] {
            if text.trim().is_empty() {
                return Err(bad(format!("{what} is empty")));
            }
            let names = placeholders(text).map_err(|m| bad(format!("{what}: {m}")))?;
            for name in names {
                if !r.flag.placeholders().contains(&name) {
                    return Err(bad(format!(
                        "{what}: placeholder '{{{name}}}' is not filled by this flag"
                    )));
                }
            }
        }
        seen.insert((r.flag, r.variant.clone()));
    }
    for flag in FlagId::ALL {
        for variant in flag.variants() {
            if !seen.contains(&(flag, (*variant).to_string())) {
                return Err(invalid(
                    t,
                    &format!("{}.{variant}", flag.as_str()),
                    "no wording for this flag variant",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;

    #[test]
    fn risk_tables_load_and_every_row_has_a_source() {
        let r = &reference().risk;
        for (h, n) in r.headers() {
            assert!(n > 0, "{} is empty", h.id);
            assert!(!h.source.trim().is_empty());
        }
        let sources = r
            .co_medications
            .rows
            .iter()
            .map(|x| &x.source)
            .chain(r.drug_classes.rows.iter().map(|x| &x.source))
            .chain(r.renal_opioids.rows.iter().map(|x| &x.source))
            .chain(r.opioid_properties.rows.iter().map(|x| &x.source))
            .chain(r.thresholds.rows.iter().map(|x| &x.source))
            .chain(r.patient_limits.rows.iter().map(|x| &x.source))
            .chain(r.flags.rows.iter().map(|x| &x.source));
        for s in sources {
            assert!(s.trim().len() > 10, "thin source: {s:?}");
        }
    }

    #[test]
    fn brand_names_map_to_generics_in_any_case() {
        let r = &reference().risk;
        for (brand, generic) in [
            ("Valium", "diazepam"),
            ("LYRICA", "pregabalin"),
            ("neurontin", "gabapentin"),
            ("Zimovane", "zopiclone"),
            ("Stilnoct", "zolpidem"),
            ("Cipramil", "citalopram"),
            ("Lustral", "sertraline"),
            ("Prozac", "fluoxetine"),
            ("Cymbalta", "duloxetine"),
            ("Efexor", "venlafaxine"),
            ("Seroxat", "paroxetine"),
            ("Imigran", "sumatriptan"),
            ("Priadel", "lithium"),
            ("St. John’s Wort", "st john's wort"),
            ("  Temazepam ", "temazepam"),
        ] {
            assert_eq!(
                r.co_medication(brand).map(|m| m.name.as_str()),
                Some(generic),
                "{brand}"
            );
        }
        assert!(r.co_medication("morphine").is_none());
    }

    #[test]
    fn classes_match_the_contract() {
        let r = &reference().risk;
        let class_of = |n: &str| r.co_medication(n).map(|m| m.classes.clone());
        assert_eq!(class_of("diazepam"), Some(vec![DrugClass::Benzodiazepine]));
        assert_eq!(class_of("zopiclone"), Some(vec![DrugClass::ZDrug]));
        assert_eq!(class_of("pregabalin"), Some(vec![DrugClass::Gabapentinoid]));
        assert_eq!(class_of("sertraline"), Some(vec![DrugClass::Ssri]));
        assert_eq!(class_of("amitriptyline"), Some(vec![DrugClass::Tricyclic]));
        // The contract's serotonergic classes, and only those, are serotonergic.
        for class in DrugClass::ALL {
            let serotonergic = matches!(
                class,
                DrugClass::Ssri
                    | DrugClass::Snri
                    | DrugClass::Tricyclic
                    | DrugClass::Maoi
                    | DrugClass::Triptan
                    | DrugClass::Lithium
                    | DrugClass::StJohnsWort
                    | DrugClass::OtherSerotonergicAntidepressant
            );
            assert_eq!(
                r.drug_class(class).map(|c| c.serotonergic),
                Some(serotonergic),
                "{class}"
            );
        }
    }

    #[test]
    fn renal_rows_follow_sps_and_the_contract() {
        let r = &reference().risk;
        for d in [
            "morphine",
            "codeine",
            "dihydrocodeine",
            "tramadol",
            "pethidine",
            "diamorphine",
        ] {
            assert_eq!(
                r.renal(d).map(|x| x.flag_from),
                Some(EgfrBand::Impaired),
                "{d}"
            );
        }
        assert_eq!(
            r.renal("dihydrocodeine").map(|x| x.advice),
            Some(RenalAdvice::Avoid)
        );
        assert_eq!(
            r.renal("fentanyl").map(|x| x.advice),
            Some(RenalAdvice::Safest)
        );
        assert_eq!(r.threshold(RiskThresholdKind::EgfrSevereBelow).value, 30.0);
    }

    #[test]
    fn serotonergic_opioids_are_the_five_named() {
        let r = &reference().risk;
        let mut drugs: Vec<&str> = r
            .opioid_properties
            .rows
            .iter()
            .filter(|p| p.property == OpioidProperty::Serotonergic)
            .map(|p| p.drug.as_str())
            .collect();
        drugs.sort_unstable();
        // Fentanyl added for issue 15 (Durogesic SmPC 4.4-4.5).
        assert_eq!(
            drugs,
            [
                "fentanyl",
                "methadone",
                "pethidine",
                "tapentadol",
                "tramadol"
            ]
        );
    }

    #[test]
    fn placeholders_are_parsed_and_checked() {
        assert_eq!(placeholders("a {x} b {y_z}").unwrap(), ["x", "y_z"]);
        assert!(placeholders("a {x").is_err());
        assert!(placeholders("a x}").is_err());
        assert!(placeholders("a {X}").is_err());
        assert!(placeholders("no braces").unwrap().is_empty());
    }

    fn flag_table(row: &str) -> Table<FlagTextRow> {
        serde_json::from_str(&format!(
            r#"{{"id": "flags", "title": "t", "version": "1", "review_date": "2027-01-01", "source": "s", "rows": [{row}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn flag_text_rules_reject_bad_rows() {
        // A single row cannot cover every flag: the completeness check fails...
        let ok = r#"{"id": "alcohol.default", "flag": "alcohol", "variant": "default", "severity": "caution", "title": "t", "rationale": "r", "action": "a", "source": "s"}"#;
        let e = check_flag_texts(&flag_table(ok)).unwrap_err().to_string();
        assert!(e.contains("no wording for this flag variant"), "{e}");
        // ...and each bad row is reported for what is wrong with it.
        let bad_placeholder = ok.replace(r#""rationale": "r""#, r#""rationale": "{nope}""#);
        let e = check_flag_texts(&flag_table(&bad_placeholder))
            .unwrap_err()
            .to_string();
        assert!(e.contains("placeholder '{nope}'"), "{e}");
        let bad_variant = ok
            .replace("alcohol.default", "alcohol.other")
            .replace(r#""variant": "default""#, r#""variant": "other""#);
        let e = check_flag_texts(&flag_table(&bad_variant))
            .unwrap_err()
            .to_string();
        assert!(e.contains("never selected"), "{e}");
        let empty_action = ok.replace(r#""action": "a""#, r#""action": " ""#);
        let e = check_flag_texts(&flag_table(&empty_action))
            .unwrap_err()
            .to_string();
        assert!(e.contains("action is empty"), "{e}");
    }

    #[test]
    fn co_medication_rules_reject_opioids_and_ambiguous_names() {
        let table = |rows: &str| -> Table<CoMedicationRow> {
            serde_json::from_str(&format!(
                r#"{{"id": "co", "title": "t", "version": "1", "review_date": "2027-01-01", "source": "s", "rows": [{rows}]}}"#
            ))
            .unwrap()
        };
        let opioids = vec!["morphine".to_string()];
        let opioid = r#"{"id": "m", "name": "x", "classes": ["ssri"], "brands": ["Morphine"], "synonyms": [], "source": "s"}"#;
        assert!(check_co_medications(&table(opioid), &opioids)
            .unwrap_err()
            .to_string()
            .contains("is an opioid"));
        let twice = r#"{"id": "a", "name": "a", "classes": ["ssri"], "brands": ["B"], "synonyms": [], "source": "s"},
                       {"id": "c", "name": "c", "classes": ["ssri"], "brands": ["b"], "synonyms": [], "source": "s"}"#;
        assert!(check_co_medications(&table(twice), &opioids)
            .unwrap_err()
            .to_string()
            .contains("also a name of another row"));
        let no_class = r#"{"id": "a", "name": "a", "classes": [], "brands": [], "synonyms": [], "source": "s"}"#;
        assert!(check_co_medications(&table(no_class), &opioids).is_err());
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalise_name("  St. John’s   WORT® "), "st johns wort");
        assert_eq!(normalise_name("Zimovane"), "zimovane");
    }

    #[test]
    fn issue_15_co_medications_are_recognised_with_their_classes() {
        let r = &reference().risk;
        let class_of = |n: &str| r.co_medication(n).map(|m| m.classes.clone());
        for name in [
            "clobazam",
            "lormetazepam",
            "loprazolam",
            "alprazolam",
            "midazolam",
            "Xanax",
            "Buccolam",
        ] {
            assert_eq!(
                class_of(name),
                Some(vec![DrugClass::Benzodiazepine]),
                "{name}"
            );
        }
        for name in ["trazodone", "mirtazapine", "Zispin"] {
            assert_eq!(
                class_of(name),
                Some(vec![DrugClass::OtherSerotonergicAntidepressant]),
                "{name}"
            );
        }
        assert_eq!(class_of("quetiapine"), Some(vec![DrugClass::Antipsychotic]));
        assert_eq!(
            class_of("Phenergan"),
            Some(vec![DrugClass::SedatingAntihistamine])
        );
        let specified: Vec<&str> = r
            .co_medications
            .rows
            .iter()
            .filter(|m| m.drug_driving_specified)
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(specified.len(), 5, "{specified:?}");
    }
}
