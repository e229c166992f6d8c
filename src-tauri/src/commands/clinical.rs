//! Tauri commands. Each is a one-line mapping onto the core; every error
//! crosses IPC as `stepdown::ApiError` (`{code, message}`).

use stepdown::assess::AssessReport;
use stepdown::catalogue::{self, ProductChoice};
use stepdown::consult::{self, AssessRequest};
use stepdown::reference::{reference, Reference, ReferenceInfo};
use stepdown::ApiError;

/// A medication list pasted from the clinical system, each line read by the
/// core's extract reader, for the clinician to confirm.
#[tauri::command]
pub async fn read_medication_list(
    text: String,
) -> Result<stepdown::import::paste::PastedList, ApiError> {
    tauri::async_runtime::spawn_blocking(move || {
        stepdown::consult::read_medication_list(&text, stepdown::reference::reference())
    })
    .await
    .map_err(|e| {
        ApiError::new(
            stepdown::ErrorCode::Internal,
            format!("the task stopped: {e}"),
        )
    })?
}

/// Most product choices returned to one search, enough for a scrolling list.
const PRODUCT_SEARCH_LIMIT: usize = 40;

/// Versions, review dates and sources of the embedded reference tables.
#[tauri::command]
pub async fn reference_info() -> Result<ReferenceInfo, ApiError> {
    Ok(Reference::load()?.info())
}

/// Product strengths matching what the clinician typed ("oxy", "mst 30").
#[tauri::command]
pub async fn search_products(query: String) -> Vec<ProductChoice> {
    catalogue::search(reference(), &query, PRODUCT_SEARCH_LIMIT)
}

/// The product each entered item is a dose of, for showing a saved, imported
/// or hand-entered regimen with product names.
#[tauri::command]
pub async fn describe_items(
    items: Vec<stepdown::regimen::RawItem>,
) -> Result<Vec<ProductChoice>, ApiError> {
    consult::describe_items(&items, reference())
}

/// Every opioid the reference data knows (any profile), for entering a
/// medicine that is not in the product catalogue.
#[tauri::command]
pub async fn known_drugs() -> Vec<String> {
    reference().known_drugs().to_vec()
}

/// Total daily OME of the regimen as entered, with each item's working, and
/// the risk flags for this patient.
#[tauri::command]
pub async fn assess(request: AssessRequest) -> Result<AssessReport, ApiError> {
    consult::assess(&request, reference())
}

/// The suggested taper plan with the clinician's edits applied.
#[tauri::command]
pub async fn plan(request: consult::PlanRequestUi) -> Result<stepdown::taper::Plan, ApiError> {
    consult::plan(&request, reference())
}

/// Reference tables more than the policy's months past their review date,
/// as of today's date on this computer (the shell reads the clock; the core
/// takes the date as input).
/// `--today YYYY-MM-DD` on the command line replaces the clock, so tests can
/// see the app as it will look when the tables age.
#[tauri::command]
pub async fn reference_currency() -> Vec<stepdown::reference::StaleTable> {
    let today = crate::state::today();
    stepdown::reference::currency(reference(), today)
}

/// Taper presets in plain words, each with its source.
#[tauri::command]
pub async fn taper_presets() -> Vec<stepdown::taper::PresetInfo> {
    stepdown::taper::presets(reference())
}

/// The dose thresholds of every profile, each with its source, so the UI can
/// show the figure the current profile uses without holding any number itself.
#[tauri::command]
pub async fn thresholds() -> Vec<stepdown::reference::ThresholdRow> {
    reference().thresholds.rows.clone()
}

/// Co-medication names (generic and brand) for suggestions as the clinician types.
#[tauri::command]
pub async fn co_medication_names() -> Vec<String> {
    consult::co_medication_names(reference())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_info_reports_the_core_manifest() {
        let info = tauri::async_runtime::block_on(reference_info()).unwrap();
        assert_eq!(
            info.manifest_version,
            stepdown::reference::reference().manifest_version
        );
        assert!(!info.tables.is_empty());
    }

    #[test]
    fn errors_cross_ipc_as_code_and_message() {
        let e = ApiError::new(stepdown::ErrorCode::NotFound, "patient 7 not found");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"code": "not-found", "message": "patient 7 not found"})
        );
    }

    #[test]
    fn invalid_regimen_reaches_the_ui_as_invalid_input_with_fields() {
        let request: AssessRequest = serde_json::from_value(serde_json::json!({
            "items": [{"drug": "morphine", "route": "oral", "strength_mg": -5, "doses_per_day": 2}],
            "profile": "uk"
        }))
        .unwrap();
        let e = tauri::async_runtime::block_on(assess(request)).unwrap_err();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "invalid-input");
        assert_eq!(v["fields"][0]["path"], "items[0].strength_mg");
    }

    /// Issue 15: every strength of every catalogue product is found by the
    /// search the regimen builder calls (with its result limit), by generic
    /// name and by each brand that makes that strength.
    #[test]
    fn every_catalogue_product_is_reachable_from_the_ui_search() {
        let search = |q: &str| tauri::async_runtime::block_on(search_products(q.into()));
        for row in &reference().products.rows {
            for s in row.strengths() {
                let id = format!("{}@{}", row.id, stepdown::vocabulary::num(*s));
                let q = format!("{} {}", row.drug, stepdown::vocabulary::num(*s));
                assert!(search(&q).iter().any(|c| c.id == id), "{id} by {q:?}");
                for brand in row.brands_for(*s) {
                    let q = format!("{brand} {}", stepdown::vocabulary::num(*s));
                    assert!(search(&q).iter().any(|c| c.id == id), "{id} by {q:?}");
                }
            }
        }
    }

    #[test]
    fn product_search_is_bounded() {
        let search = |q: &str| tauri::async_runtime::block_on(search_products(q.into()));
        assert!(search("m").len() <= PRODUCT_SEARCH_LIMIT);
        assert!(!search("oxy").is_empty());
    }
}
