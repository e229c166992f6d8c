//! The patient context of `stepdown assess` (`docs/cli.md`): what is
//! known about the person beyond the regimen, and its validation.
//!
//! As with regimen items, input is read in two stages: [`RawPatient`] (every
//! field optional and loosely typed, so that every problem is reported with
//! its path) and [`PatientContext`] (checked ranges, closed vocabularies,
//! co-medications resolved to generic names and classes).
//!
//! Ranges and the co-medication lists come from the reference data. A
//! co-medication that is not recognised is kept and reported as a warning,
//! never an error: the list of all medicines is open-ended, and refusing an
//! assessment because of an unfamiliar antacid would help nobody.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::input::{check_fields, describe, join_path, FieldError};
use crate::reference::risk::{normalise_name, DrugClass, PatientField};
use crate::reference::Reference;
use crate::vocabulary::num;
use crate::vocabulary::{nearest, vocabulary};

vocabulary!(
    /// Sex as recorded.
    #[ts(export)]
    Sex, "sex" {
        /// Female.
        Female => "female", "female",
        /// Male.
        Male => "male", "male",
        /// Other.
        Other => "other", "other",
        /// Not known or not stated.
        Unknown => "unknown", "not known",
    }
);

vocabulary!(
    /// A condition that changes opioid risk.
    #[ts(export)]
    PatientCondition, "condition" {
        /// Chronic obstructive pulmonary disease.
        Copd => "copd", "COPD",
        /// Asthma.
        Asthma => "asthma", "asthma",
        /// Obstructive sleep apnoea.
        SleepApnoea => "sleep-apnoea", "sleep apnoea",
        /// Hepatic (liver) impairment.
        HepaticImpairment => "hepatic-impairment", "hepatic impairment",
        /// Pregnancy.
        Pregnancy => "pregnancy", "pregnancy",
        /// Breastfeeding.
        Breastfeeding => "breastfeeding", "breastfeeding",
        /// Depression.
        Depression => "depression", "depression",
        /// Falls.
        Falls => "falls", "falls",
        /// Dementia.
        Dementia => "dementia", "dementia",
        /// Epilepsy or another seizure disorder.
        Epilepsy => "epilepsy", "epilepsy",
    }
);

vocabulary!(
    /// Past history that changes opioid risk.
    #[ts(export)]
    PatientHistory, "history" {
        /// A previous overdose.
        Overdose => "overdose", "overdose",
        /// Substance use disorder (drugs).
        SubstanceUseDisorder => "substance-use-disorder", "substance use disorder",
        /// Alcohol misuse.
        AlcoholMisuse => "alcohol-misuse", "alcohol misuse",
        /// Mental health disorder.
        MentalHealthDisorder => "mental-health-disorder", "mental health disorder",
    }
);

/// A co-medication as entered, resolved against the reference lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CoMedication {
    /// What was entered, e.g. `"Valium"`.
    pub entered: String,
    /// The generic name it was recognised as (`null` if not recognised).
    pub generic: Option<String>,
    /// Its classes (empty if not recognised).
    pub classes: Vec<DrugClass>,
}

impl CoMedication {
    /// The generic name, with the entered name in brackets when it differs
    /// ("diazepam (entered as Valium)"), for flag rationales.
    pub fn describe(&self) -> String {
        match &self.generic {
            // Entered as the generic itself (as case-finding does for every
            // patient): nothing to normalise.
            Some(g) if self.entered == *g => g.clone(),
            // "Valium" is worth showing; "sertraline 50mg" only repeats the generic.
            Some(g) if !normalise_name(&self.entered).starts_with(&normalise_name(g)) => {
                format!("{g} (entered as {})", self.entered.trim())
            }
            Some(g) => g.clone(),
            None => self.entered.trim().to_string(),
        }
    }

    /// Whether it belongs to `class`.
    pub fn is(&self, class: DrugClass) -> bool {
        self.classes.contains(&class)
    }
}

/// The validated patient context. Every field is optional: an assessment
/// uses what is known and never assumes the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PatientContext {
    /// Age in years.
    pub age: Option<f64>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Weight in kg.
    pub weight_kg: Option<f64>,
    /// eGFR, mL/min/1.73 m².
    pub egfr: Option<f64>,
    /// Conditions (no duplicates, input order).
    pub conditions: Vec<PatientCondition>,
    /// Past history (no duplicates, input order).
    pub history: Vec<PatientHistory>,
    /// Other medicines, recognised or not (input order).
    pub co_medications: Vec<CoMedication>,
    /// Paracetamol a day from medicines outside the opioid regimen, mg.
    pub co_medication_paracetamol_mg_per_day: Option<f64>,
    /// Whether the patient is opioid-naive.
    pub opioid_naive: Option<bool>,
    /// Months on opioids so far.
    pub months_on_opioids: Option<f64>,
}

impl PatientContext {
    /// Whether `condition` is recorded.
    pub fn has(&self, condition: PatientCondition) -> bool {
        self.conditions.contains(&condition)
    }

    /// Whether `item` is in the history.
    pub fn had(&self, item: PatientHistory) -> bool {
        self.history.contains(&item)
    }

    /// Co-medications of `class`.
    pub fn co_medications_of(&self, class: DrugClass) -> impl Iterator<Item = &CoMedication> {
        self.co_medications.iter().filter(move |m| m.is(class))
    }
}

/// The patient object as entered, before validation (the desktop form's model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, optional_fields)]
pub struct RawPatient {
    /// Age in years (0–120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<f64>,
    /// `female`, `male`, `other` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(as = "Option<Sex>")]
    pub sex: Option<String>,
    /// Weight in kg (2–400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_kg: Option<f64>,
    /// eGFR, mL/min/1.73 m² (0–200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egfr: Option<f64>,
    /// Conditions, e.g. `copd`, `sleep-apnoea`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(as = "Option<Vec<PatientCondition>>")]
    pub conditions: Option<Vec<String>>,
    /// History, e.g. `overdose`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(as = "Option<Vec<PatientHistory>>")]
    pub history: Option<Vec<String>>,
    /// Other medicines by generic or brand name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub co_medications: Option<Vec<String>>,
    /// Paracetamol a day from other medicines, mg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub co_medication_paracetamol_mg_per_day: Option<f64>,
    /// Whether the patient is opioid-naive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opioid_naive: Option<bool>,
    /// Months on opioids so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months_on_opioids: Option<f64>,
}

impl RawPatient {
    /// The accepted field names, in contract order.
    pub const FIELDS: [&'static str; 10] = [
        "age",
        "sex",
        "weight_kg",
        "egfr",
        "conditions",
        "history",
        "co_medications",
        "co_medication_paracetamol_mg_per_day",
        "opioid_naive",
        "months_on_opioids",
    ];
}

/// A validated patient with the things the reader should know about the input.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedPatient {
    /// The context.
    pub patient: PatientContext,
    /// Warnings, one sentence each with the field path (e.g. an unrecognised co-medication).
    pub warnings: Vec<String>,
}

/// Reads the patient object at `path` from JSON, recording unknown fields and
/// wrongly typed values; `None` (with an error) if it is not an object.
pub fn raw_patient_from_value(
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<RawPatient> {
    let Some(obj) = value.as_object() else {
        errors.push(FieldError::new(
            path,
            format!(
                "must be an object of patient details (got {})",
                describe(value)
            ),
        ));
        return None;
    };
    check_fields(obj, path, &RawPatient::FIELDS, errors);
    let mut raw = RawPatient {
        age: number(obj, path, "age", errors),
        sex: string(obj, path, "sex", errors),
        weight_kg: number(obj, path, "weight_kg", errors),
        egfr: number(obj, path, "egfr", errors),
        conditions: strings(obj, path, "conditions", errors),
        history: strings(obj, path, "history", errors),
        co_medications: strings(obj, path, "co_medications", errors),
        co_medication_paracetamol_mg_per_day: number(
            obj,
            path,
            "co_medication_paracetamol_mg_per_day",
            errors,
        ),
        opioid_naive: None,
        months_on_opioids: number(obj, path, "months_on_opioids", errors),
    };
    raw.opioid_naive = match obj.get("opioid_naive") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            errors.push(FieldError::new(
                join_path(path, "opioid_naive"),
                format!("must be true or false (got {})", describe(other)),
            ));
            None
        }
    };
    Some(raw)
}

fn number(
    obj: &Map<String, Value>,
    path: &str,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<f64> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(other) => {
            errors.push(FieldError::new(
                join_path(path, key),
                format!("must be a number (got {})", describe(other)),
            ));
            None
        }
    }
}

fn string(
    obj: &Map<String, Value>,
    path: &str,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            errors.push(FieldError::new(
                join_path(path, key),
                format!("must be a string (got {})", describe(other)),
            ));
            None
        }
    }
}

/// A list of strings; a non-string element is reported at its index and left out.
fn strings(
    obj: &Map<String, Value>,
    path: &str,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Array(values)) => Some(
            values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v {
                    Value::String(s) => Some(s.clone()),
                    other => {
                        errors.push(FieldError::new(
                            format!("{}[{i}]", join_path(path, key)),
                            format!("must be a string (got {})", describe(other)),
                        ));
                        None
                    }
                })
                .collect(),
        ),
        Some(other) => {
            errors.push(FieldError::new(
                join_path(path, key),
                format!("must be a list of strings (got {})", describe(other)),
            ));
            None
        }
    }
}

impl PatientContext {
    /// Validates a raw patient, reporting every problem with its path under
    /// `prefix` (normally `patient`). Unrecognised co-medications are kept and
    /// reported in the warnings.
    pub fn validate(
        raw: &RawPatient,
        prefix: &str,
        reference: &Reference,
    ) -> Result<ValidatedPatient, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut range = |field: PatientField, value: Option<f64>| -> Option<f64> {
            let v = value?;
            let limit = reference.risk.patient_limit(field);
            if !v.is_finite() || v < limit.min || v > limit.max {
                errors.push(FieldError::new(
                    join_path(prefix, field.as_str()),
                    format!(
                        "must be between {} and {} {} (got {})",
                        num(limit.min),
                        num(limit.max),
                        limit.unit,
                        num(v)
                    ),
                ));
                return None;
            }
            Some(v)
        };
        let age = range(PatientField::Age, raw.age);
        let weight_kg = range(PatientField::WeightKg, raw.weight_kg);
        let egfr = range(PatientField::Egfr, raw.egfr);
        let months_on_opioids = range(PatientField::MonthsOnOpioids, raw.months_on_opioids);
        let co_medication_paracetamol_mg_per_day = range(
            PatientField::CoMedicationParacetamolMgPerDay,
            raw.co_medication_paracetamol_mg_per_day,
        );

        let sex = raw.sex.as_deref().and_then(|s| match Sex::parse(s) {
            Some(x) => Some(x),
            None => {
                errors.push(FieldError::new(join_path(prefix, "sex"), Sex::unknown(s)));
                None
            }
        });
        let conditions = vocab_list(
            raw.conditions.as_deref(),
            &join_path(prefix, "conditions"),
            PatientCondition::parse,
            PatientCondition::unknown,
            &mut errors,
        );
        let history = vocab_list(
            raw.history.as_deref(),
            &join_path(prefix, "history"),
            PatientHistory::parse,
            PatientHistory::unknown,
            &mut errors,
        );

        let co_path = join_path(prefix, "co_medications");
        let mut co_medications = Vec::new();
        for (i, entered) in raw.co_medications.iter().flatten().enumerate() {
            let path = format!("{co_path}[{i}]");
            if entered.trim().is_empty() {
                errors.push(FieldError::new(path, "must not be blank"));
                continue;
            }
            let (m, warning) = resolve_co_medication(entered, reference);
            if let Some(w) = warning {
                warnings.push(format!("{path}: {w}"));
            }
            co_medications.push(m);
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        let patient = PatientContext {
            age,
            sex,
            weight_kg,
            egfr,
            conditions,
            history,
            co_medications,
            co_medication_paracetamol_mg_per_day,
            opioid_naive: raw.opioid_naive,
            months_on_opioids,
        };
        warnings.extend(consistency_warnings(&patient, prefix));
        Ok(ValidatedPatient { patient, warnings })
    }
}

/// Parses a list of vocabulary words: unknown words are errors at their index,
/// repeats are dropped (they add nothing).
fn vocab_list<T: PartialEq + Copy>(
    words: Option<&[String]>,
    path: &str,
    parse: impl Fn(&str) -> Option<T>,
    unknown: impl Fn(&str) -> String,
    errors: &mut Vec<FieldError>,
) -> Vec<T> {
    let mut out = Vec::new();
    for (i, w) in words.into_iter().flatten().enumerate() {
        match parse(w) {
            Some(v) if !out.contains(&v) => out.push(v),
            Some(_) => {}
            None => errors.push(FieldError::new(format!("{path}[{i}]"), unknown(w))),
        }
    }
    out
}

/// Resolves an entered co-medication: the whole name, or failing that its
/// leading words ("Sertraline 50mg tablets" → sertraline). An opioid entered
/// here, or a name not recognised, is kept with a warning.
pub fn resolve_co_medication(
    entered: &str,
    reference: &Reference,
) -> (CoMedication, Option<String>) {
    let risk = &reference.risk;
    let words: Vec<&str> = entered.split_whitespace().collect();
    let found = (1..=words.len())
        .rev()
        .find_map(|n| risk.co_medication(&words[..n].join(" ")));
    if let Some(row) = found {
        return (
            CoMedication {
                entered: entered.to_string(),
                generic: Some(row.name.clone()),
                classes: row.classes.clone(),
            },
            None,
        );
    }
    let unrecognised = CoMedication {
        entered: entered.to_string(),
        generic: None,
        classes: Vec::new(),
    };
    let key = normalise_name(entered);
    let first = normalise_name(words.first().copied().unwrap_or(""));
    if let Some(opioid) = opioid_named(&key, &first, reference) {
        return (
            unrecognised,
            Some(format!(
                "'{}' is an opioid ({opioid}): enter it in items so that it counts towards the total; it is not checked here",
                entered.trim()
            )),
        );
    }
    let hint = match nearest(&key, risk.co_medication_names()).as_slice() {
        [] => String::new(),
        close => format!(" (did you mean {}?)", close.join(" or ")),
    };
    (
        unrecognised,
        Some(format!(
            "'{}' is not recognised{hint}; it is kept, but not checked for interactions",
            entered.trim()
        )),
    )
}

/// The opioid a co-medication name refers to: an opioid generic, a catalogue
/// brand or a combination product name.
fn opioid_named(key: &str, first_word: &str, reference: &Reference) -> Option<String> {
    if let Some(d) = reference
        .known_drugs()
        .iter()
        .find(|d| d.as_str() == key || d.as_str() == first_word)
    {
        return Some(d.clone());
    }
    reference.products.rows.iter().find_map(|p| {
        let brand = p.brand_examples.iter().any(|b| normalise_name(b) == key);
        let combination = p.combination.as_ref().is_some_and(|c| {
            normalise_name(&c.name) == key || normalise_name(&c.name) == first_word
        });
        (brand || combination).then(|| p.drug.clone())
    })
}

/// Things that are valid one by one but worth a second look together.
fn consistency_warnings(p: &PatientContext, prefix: &str) -> Vec<String> {
    let mut w = Vec::new();
    if let (Some(true), Some(months)) = (p.opioid_naive, p.months_on_opioids) {
        if months > 0.0 {
            w.push(format!(
                "{}: opioid_naive is true but months_on_opioids is {}; check which is right",
                join_path(prefix, "opioid_naive"),
                num(months)
            ));
        }
    }
    let paracetamol_listed = p.co_medications_of(DrugClass::Paracetamol).next().is_some();
    if paracetamol_listed && p.co_medication_paracetamol_mg_per_day.is_none() {
        w.push(format!(
            "{}: paracetamol is listed without co_medication_paracetamol_mg_per_day, so the paracetamol check counts only the regimen's combination products",
            join_path(prefix, "co_medications")
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;
    use serde_json::json;

    fn validate(v: Value) -> Result<ValidatedPatient, Vec<String>> {
        let mut errors = Vec::new();
        let raw = raw_patient_from_value(&v, "patient", &mut errors);
        let result = raw.map(|r| PatientContext::validate(&r, "patient", reference()));
        match result {
            Some(Ok(p)) if errors.is_empty() => Ok(p),
            Some(Err(more)) => {
                errors.extend(more);
                Err(errors.iter().map(ToString::to_string).collect())
            }
            _ => Err(errors.iter().map(ToString::to_string).collect()),
        }
    }

    #[test]
    fn full_patient_validates() {
        let p = validate(json!({
            "age": 70, "sex": "Female", "weight_kg": 61.5, "egfr": 55,
            "conditions": ["copd", "Sleep-Apnoea", "copd"], "history": ["overdose"],
            "co_medications": ["Valium", "sertraline 50mg", "Zimovane"],
            "co_medication_paracetamol_mg_per_day": 1000, "opioid_naive": false,
            "months_on_opioids": 30
        }))
        .unwrap();
        let ctx = &p.patient;
        assert_eq!(ctx.age, Some(70.0));
        assert_eq!(ctx.sex, Some(Sex::Female));
        assert_eq!(
            ctx.conditions,
            [PatientCondition::Copd, PatientCondition::SleepApnoea]
        );
        assert_eq!(
            ctx.co_medications[0].describe(),
            "diazepam (entered as Valium)"
        );
        assert_eq!(ctx.co_medications[1].generic.as_deref(), Some("sertraline"));
        assert!(ctx.co_medications[2].is(DrugClass::ZDrug));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn out_of_range_values_are_named() {
        let e = validate(json!({"age": 130, "egfr": -1, "weight_kg": 1.5})).unwrap_err();
        assert!(
            e.contains(&"patient.age: must be between 0 and 120 years (got 130)".to_string()),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("patient.egfr: must be between 0 and 200")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("patient.weight_kg: must be between 2 and 400 kg (got 1.5)")),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_fields_and_words_are_explained() {
        let e =
            validate(json!({"agee": 70, "conditions": ["copd2"], "history": ["od"], "sex": "f"}))
                .unwrap_err();
        let all = e.join("\n");
        assert!(
            all.contains("patient.agee: unknown field (did you mean age?)"),
            "{all}"
        );
        assert!(
            all.contains("patient.conditions[0]: unknown condition 'copd2' (did you mean copd? accepted: copd, asthma, sleep-apnoea"),
            "{all}"
        );
        assert!(
            all.contains("patient.history[0]: unknown history 'od'"),
            "{all}"
        );
        assert!(
            all.contains("accepted: overdose, substance-use-disorder"),
            "{all}"
        );
        assert!(all.contains("patient.sex: unknown sex 'f'"), "{all}");
    }

    #[test]
    fn wrong_types_are_reported() {
        let e = validate(json!({"age": "70", "opioid_naive": "yes", "co_medications": "diazepam", "conditions": [1]}))
            .unwrap_err();
        let all = e.join("\n");
        assert!(
            all.contains("patient.age: must be a number (got \"70\")"),
            "{all}"
        );
        assert!(
            all.contains("patient.opioid_naive: must be true or false"),
            "{all}"
        );
        assert!(
            all.contains("patient.co_medications: must be a list of strings"),
            "{all}"
        );
        assert!(
            all.contains("patient.conditions[0]: must be a string (got 1)"),
            "{all}"
        );
        let e = validate(json!([1])).unwrap_err();
        assert_eq!(
            e,
            ["patient: must be an object of patient details (got a list)"]
        );
    }

    #[test]
    fn unrecognised_co_medication_is_a_warning_not_an_error() {
        let p =
            validate(json!({"co_medications": ["Fluoxetin", "Gaviscon", "MST Continus"]})).unwrap();
        assert_eq!(p.patient.co_medications.len(), 3);
        assert!(p.patient.co_medications.iter().all(|m| m.generic.is_none()));
        assert!(
            p.warnings[0].starts_with("patient.co_medications[0]: 'Fluoxetin' is not recognised (did you mean fluoxetine?)"),
            "{:?}",
            p.warnings
        );
        assert!(
            p.warnings[1].contains("'Gaviscon' is not recognised; it is kept"),
            "{:?}",
            p.warnings
        );
        assert!(
            p.warnings[2].contains("is an opioid (morphine)"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn blank_co_medication_is_an_error() {
        let e = validate(json!({"co_medications": [" "]})).unwrap_err();
        assert_eq!(e, ["patient.co_medications[0]: must not be blank"]);
    }

    #[test]
    fn boundaries_are_inclusive() {
        assert!(validate(json!({"age": 0, "egfr": 200, "weight_kg": 2})).is_ok());
        assert!(validate(json!({"age": 120, "egfr": 0, "weight_kg": 400})).is_ok());
        assert!(validate(json!({"age": 120.5})).is_err());
    }

    #[test]
    fn inconsistent_inputs_warn() {
        let p = validate(json!({"opioid_naive": true, "months_on_opioids": 12, "co_medications": ["paracetamol"]})).unwrap();
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
    }
}
