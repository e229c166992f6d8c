//! The consultation facade: typed requests from the desktop UI in, core
//! results or one `ApiError` out. Each function is what one Tauri command
//! calls, so the shell stays a one-line mapping and the CLI and app share
//! the same validation.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api_error::ApiError;
use crate::ome::{calculate, OmeOptions, OmeReport};
use crate::reference::Reference;
use crate::regimen::{num, FieldError, OmeMgPerDay, RawItem, Regimen};
use crate::Profile;

/// What the UI sends to get the total daily OME of a regimen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct OmeRequest {
    /// The regimen as entered.
    pub items: Vec<RawItem>,
    /// Conversion profile.
    #[serde(default)]
    pub profile: Profile,
    /// Replaces the profile's high-dose threshold (mg OME a day), from settings.
    #[serde(default)]
    #[ts(optional)]
    pub high_dose_threshold_mg_per_day: Option<f64>,
}

/// Checks a threshold override, naming the field when it is wrong.
pub fn threshold_option(
    value: Option<f64>,
    field: &str,
) -> Result<Option<OmeMgPerDay>, FieldError> {
    match value {
        None => Ok(None),
        Some(v) => OmeMgPerDay::new(v)
            .filter(|t| t.get() > 0.0)
            .map(Some)
            .ok_or_else(|| {
                FieldError::new(field, format!("must be greater than 0 (got {})", num(v)))
            }),
    }
}

/// Validates the regimen and calculates its OME; every problem comes back
/// with its field path (`items[1].strength_mg`).
pub fn ome(request: &OmeRequest, reference: &Reference) -> Result<OmeReport, ApiError> {
    let threshold = threshold_option(
        request.high_dose_threshold_mg_per_day,
        "high_dose_threshold_mg_per_day",
    );
    let regimen = Regimen::validate(&request.items, "items", request.profile, reference);
    match (threshold, regimen) {
        (Ok(high_dose_threshold), Ok(regimen)) => Ok(calculate(
            &regimen,
            request.profile,
            reference,
            &OmeOptions {
                high_dose_threshold,
            },
        )),
        (threshold, regimen) => {
            let mut fields = Vec::new();
            if let Err(e) = threshold {
                fields.push(e);
            }
            if let Err(mut e) = regimen {
                fields.append(&mut e);
            }
            Err(ApiError::invalid_fields(fields))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;
    use crate::ErrorCode;

    fn morphine_mr(strength: f64) -> RawItem {
        RawItem {
            drug: Some("morphine".into()),
            route: Some("oral".into()),
            release: Some("modified".into()),
            strength_mg: Some(strength),
            units_per_dose: Some(1.0),
            doses_per_day: Some(2.0),
            ..RawItem::default()
        }
    }

    #[test]
    fn calculates_like_the_cli() {
        let r = ome(
            &OmeRequest {
                items: vec![morphine_mr(60.0)],
                profile: Profile::Uk,
                high_dose_threshold_mg_per_day: None,
            },
            reference(),
        )
        .unwrap();
        assert_eq!(r.total_ome_mg_per_day, 120.0);
        assert!(r.complete);
    }

    #[test]
    fn every_problem_comes_back_with_its_field() {
        let e = ome(
            &OmeRequest {
                items: vec![morphine_mr(30.0), morphine_mr(-5.0)],
                profile: Profile::Uk,
                high_dose_threshold_mg_per_day: Some(0.0),
            },
            reference(),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        let paths: Vec<&str> = e.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            ["high_dose_threshold_mg_per_day", "items[1].strength_mg"]
        );
        assert!(e
            .message
            .contains("items[1].strength_mg: must be greater than 0 (got -5)"));
    }

    #[test]
    fn request_rejects_unknown_fields() {
        let err = serde_json::from_str::<OmeRequest>(r#"{"items": [], "profil": "uk"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("profil"), "{err}");
    }
}
