//! Which store the window works on (issue 19: "the same in Settings"): the
//! store on this computer or a team store, switched from Settings or the
//! sign-in prompt. The checks and the opening are the core's
//! (`store::choice`); the choice is kept outside any store.

use tauri::AppHandle;

use stepdown::store::choice::{SignIn, StoreChoice};
use stepdown::ApiError;

use super::records::{store_status_of, StoreStatus};
use crate::state::blocking;

/// Opens `choice` (signed in as `sign_in` on a team store), checks it, saves
/// the choice and switches the window to it; on any failure the window
/// stays on the store it had and nothing saved changes. The password is used
/// for this connection (and the import's) and kept nowhere else.
#[tauri::command]
pub async fn switch_store(
    app: AppHandle,
    choice: StoreChoice,
    sign_in: Option<SignIn>,
) -> Result<StoreStatus, ApiError> {
    blocking(app, move |st| {
        st.switch(choice, sign_in)?;
        Ok(store_status_of(st))
    })
    .await
}
