//! `stepdown assess`: the OME report plus risk flags for a regimen and a
//! patient context (contract `docs/cli.md`).
//!
//! Input `{"patient": {...}, "items": [...]}`; output
//! `{"ome": {...}, "flags": [...], "warnings": [...]}` (plus the validated
//! patient, for the desktop app). The CLI, the desktop shell and the store's
//! demo loader all come through here, so they cannot disagree.
//!
//! Pure: no IO, no clock.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::flags::{evaluate, Flag, FlagContext};
use crate::input::{check_fields, describe, parse_json, FieldError, InputError};
use crate::item::Regimen;
use crate::ome::{calculate, OmeOptions, OmeReport};
use crate::patient::{raw_patient_from_value, PatientContext, RawPatient, ValidatedPatient};
use crate::profile::Profile;
use crate::reference::Reference;
use crate::regimen::{raw_items_at, validate_slots, RawItem};

/// The result of an assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AssessReport {
    /// The OME report, exactly as `stepdown ome` gives it.
    pub ome: OmeReport,
    /// Risk flags, most severe first.
    pub flags: Vec<Flag>,
    /// Things about the patient input the reader should know (e.g. a
    /// co-medication that was not recognised), one sentence each with its path.
    pub warnings: Vec<String>,
    /// The patient context as understood (co-medications resolved to generics).
    pub patient: PatientContext,
}

/// The input of `stepdown assess`, as the desktop app builds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, optional_fields)]
pub struct RawAssessInput {
    /// What is known about the patient (absent: nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<RawPatient>,
    /// The regimen items.
    #[ts(optional = false)]
    pub items: Vec<RawItem>,
}

/// Assesses a validated regimen and patient.
pub fn assess(
    regimen: &Regimen,
    patient: &ValidatedPatient,
    profile: Profile,
    reference: &Reference,
    options: &OmeOptions,
) -> AssessReport {
    let ome = calculate(regimen, profile, reference, options);
    let flags = evaluate(&FlagContext {
        regimen,
        ome: &ome,
        patient: &patient.patient,
        profile,
        reference,
        options,
    });
    AssessReport {
        ome,
        flags,
        warnings: patient.warnings.clone(),
        patient: patient.patient.clone(),
    }
}

/// Reads, validates and assesses the JSON text of a `stepdown assess` input.
pub fn assess_from_json(
    text: &str,
    profile: Profile,
    reference: &Reference,
    options: &OmeOptions,
) -> Result<AssessReport, InputError> {
    let value = parse_json(text)?;
    assess_value(&value, profile, reference, options)
}

/// Validates and assesses an already-parsed input (the store's demo loader uses this).
/// Every problem in the patient and the items is reported, each with its path.
pub fn assess_value(
    value: &Value,
    profile: Profile,
    reference: &Reference,
    options: &OmeOptions,
) -> Result<AssessReport, InputError> {
    let mut errors = Vec::new();
    let Some(obj) = value.as_object() else {
        return Err(InputError::Invalid(vec![FieldError::new(
            "input",
            format!(
                "must be a JSON object with \"patient\" and \"items\" (got {})",
                describe(value)
            ),
        )]));
    };
    check_fields(obj, "", &["patient", "items"], &mut errors);
    let raw_patient = match obj.get("patient") {
        None | Some(Value::Null) => Some(RawPatient::default()),
        Some(v) => raw_patient_from_value(v, "patient", &mut errors),
    };
    let patient = raw_patient.and_then(|raw| {
        PatientContext::validate(&raw, "patient", reference)
            .map_err(|mut e| errors.append(&mut e))
            .ok()
    });
    let regimen = raw_items_at(obj, "items", &mut errors).and_then(|slots| {
        validate_slots(&slots, "items", profile, reference)
            .map_err(|mut e| errors.append(&mut e))
            .ok()
    });
    match (regimen, patient) {
        (Some(regimen), Some(patient)) if errors.is_empty() => {
            Ok(assess(&regimen, &patient, profile, reference, options))
        }
        _ => Err(InputError::Invalid(errors)),
    }
}

/// Validates and assesses the desktop app's typed input.
pub fn assess_raw(
    input: &RawAssessInput,
    profile: Profile,
    reference: &Reference,
    options: &OmeOptions,
) -> Result<AssessReport, InputError> {
    let mut errors = Vec::new();
    let raw_patient = input.patient.clone().unwrap_or_default();
    let patient = PatientContext::validate(&raw_patient, "patient", reference)
        .map_err(|mut e| errors.append(&mut e))
        .ok();
    let regimen = Regimen::validate(&input.items, "items", profile, reference)
        .map_err(|mut e| errors.append(&mut e))
        .ok();
    match (regimen, patient) {
        (Some(regimen), Some(patient)) if errors.is_empty() => {
            Ok(assess(&regimen, &patient, profile, reference, options))
        }
        _ => Err(InputError::Invalid(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{FlagId, Severity};
    use crate::reference::reference;
    use serde_json::json;

    fn run(profile: Profile, input: Value) -> AssessReport {
        assess_value(&input, profile, reference(), &OmeOptions::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn ids(r: &AssessReport) -> Vec<FlagId> {
        r.flags.iter().map(|f| f.id).collect()
    }

    #[test]
    fn shared_case_high_dose_older_benzo() {
        let r = run(
            Profile::Uk,
            json!({"patient": {"age": 70, "co_medications": ["diazepam"]},
                   "items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 60, "units_per_dose": 1, "doses_per_day": 2}]}),
        );
        let ids = ids(&r);
        for id in [FlagId::HighDose, FlagId::OlderAdult, FlagId::Benzodiazepine] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        assert!(!ids.contains(&FlagId::Gabapentinoid));
        let high = &r.flags[0];
        assert_eq!(high.severity, Severity::High);
        let h = r.flags.iter().find(|f| f.id == FlagId::HighDose).unwrap();
        assert_eq!(
            h.rationale,
            "Total 120 mg OME/day is at or above the 90 mg OME/day high-dose threshold."
        );
        let b = r
            .flags
            .iter()
            .find(|f| f.id == FlagId::Benzodiazepine)
            .unwrap();
        assert!(
            b.rationale.starts_with("Takes diazepam with opioids."),
            "{}",
            b.rationale
        );
    }

    #[test]
    fn flags_are_sorted_most_severe_first() {
        let r = run(
            Profile::Uk,
            json!({"patient": {"age": 80, "egfr": 25, "conditions": ["copd"], "co_medications": ["Lyrica", "Valium"], "months_on_opioids": 24},
                   "items": [{"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500}]}),
        );
        assert!(
            r.flags.windows(2).all(|w| w[0].severity <= w[1].severity),
            "{:?}",
            ids(&r)
        );
        assert_eq!(r.flags.last().map(|f| f.severity), Some(Severity::Info));
    }

    #[test]
    fn patient_and_item_errors_are_reported_together() {
        let e = assess_value(
            &json!({"patient": {"age": 130}, "items": [{"drug": "morphine", "route": "oral", "strength_mg": -5, "doses_per_day": 2}], "extra": 1}),
            Profile::Uk,
            reference(),
            &OmeOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("patient.age: must be between 0 and 120 years (got 130)"),
            "{e}"
        );
        assert!(
            e.contains("items[0].strength_mg: must be greater than 0 (got -5)"),
            "{e}"
        );
        assert!(e.contains("extra: unknown field"), "{e}");
    }

    #[test]
    fn missing_patient_means_nothing_known() {
        let r = run(
            Profile::Uk,
            json!({"items": [{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2}]}),
        );
        assert_eq!(ids(&r), [FlagId::Driving]);
    }

    #[test]
    fn raw_input_matches_json_input() {
        let json_input = json!({"patient": {"age": 70, "co_medications": ["Valium"]},
                                "items": [{"drug": "morphine", "route": "oral", "strength_mg": 60, "doses_per_day": 2}]});
        let raw: RawAssessInput = serde_json::from_value(json_input.clone()).unwrap();
        let a = assess_raw(&raw, Profile::Uk, reference(), &OmeOptions::default()).unwrap();
        let b = run(Profile::Uk, json_input);
        assert_eq!(a, b);
    }
}
