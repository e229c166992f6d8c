//! Working beside other seats on one store (issue 19): the drafts kept when a
//! review save was refused because another seat saved first, and worklist
//! claims. Each maps onto one core call; the seat's name is the one the
//! audit log records for this app (on a team store the PostgreSQL role it
//! signed in as; on a SQLite file the reviewer name in settings, else the
//! login name).

use tauri::AppHandle;

use stepdown::consult;
use stepdown::reference::reference;
use stepdown::store::{ClaimStatus, Practice, ReviewDraft, ReviewSummary, WorklistClaim};
use stepdown::ApiError;

use crate::state::blocking;

/// The name this seat is recorded under: the holder of its claims, and
/// whose patients "mine" shows.
#[tauri::command]
pub async fn seat_name(app: AppHandle) -> Result<String, ApiError> {
    blocking(app, |st| Ok(st.actor())).await
}

/// The practices this seat may make new records in (none on a SQLite file).
/// A seat of several names one with each new patient and import.
#[tauri::command]
pub async fn seat_practices(app: AppHandle) -> Result<Vec<Practice>, ApiError> {
    blocking(app, |st| st.with_store(|s| s.seat_practices())).await
}

/// The drafts kept for a review, oldest first.
#[tauri::command]
pub async fn review_drafts(app: AppHandle, review_id: i64) -> Result<Vec<ReviewDraft>, ApiError> {
    blocking(app, move |st| st.with_store(|s| s.review_drafts(review_id))).await
}

/// Saves a draft as the review's newest version (on top of the latest) and
/// deletes it; audited.
#[tauri::command]
pub async fn reapply_review_draft(
    app: AppHandle,
    draft_id: i64,
) -> Result<ReviewSummary, ApiError> {
    blocking(app, move |st| {
        let actor = st.actor();
        st.with_store_api(|s| consult::reapply_draft(s, draft_id, &actor, reference()))
    })
    .await
}

/// Deletes a draft without saving it; audited.
#[tauri::command]
pub async fn discard_review_draft(app: AppHandle, draft_id: i64) -> Result<(), ApiError> {
    blocking(app, move |st| {
        let actor = st.actor();
        st.with_store(|s| s.discard_review_draft(draft_id, &actor))
    })
    .await
}

/// This seat takes a worklist patient (refused as a conflict if another holds them);
/// `practice_code` is the worklist row's (claims are keyed by practice and identifier).
#[tauri::command]
pub async fn claim_worklist_patient(
    app: AppHandle,
    patient_id: String,
    practice_code: Option<String>,
) -> Result<WorklistClaim, ApiError> {
    blocking(app, move |st| {
        let holder = st.actor();
        st.with_store(|s| s.claim_worklist_patient(&patient_id, practice_code.as_deref(), &holder))
    })
    .await
}

/// This seat lets a worklist patient it holds go (the status stays).
#[tauri::command]
pub async fn release_worklist_patient(
    app: AppHandle,
    patient_id: String,
    practice_code: Option<String>,
) -> Result<WorklistClaim, ApiError> {
    blocking(app, move |st| {
        let actor = st.actor();
        st.with_store(|s| s.release_worklist_patient(&patient_id, practice_code.as_deref(), &actor))
    })
    .await
}

/// Sets where a worklist patient is up to (only the holder on a held one).
#[tauri::command]
pub async fn set_worklist_status(
    app: AppHandle,
    patient_id: String,
    practice_code: Option<String>,
    status: ClaimStatus,
) -> Result<WorklistClaim, ApiError> {
    blocking(app, move |st| {
        let actor = st.actor();
        st.with_store(|s| {
            s.set_worklist_status(&patient_id, practice_code.as_deref(), status, &actor)
        })
    })
    .await
}
