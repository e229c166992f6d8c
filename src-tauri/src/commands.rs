//! Tauri commands. Each is a one-line mapping onto the core; every error
//! crosses IPC as `stepdown::ApiError` (`{code, message}`).

use stepdown::reference::{Reference, ReferenceInfo};
use stepdown::ApiError;

/// Versions, review dates and sources of the embedded reference tables.
#[tauri::command]
pub fn reference_info() -> Result<ReferenceInfo, ApiError> {
    Ok(Reference::load()?.info())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_info_reports_the_core_manifest() {
        let info = reference_info().unwrap();
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
}
