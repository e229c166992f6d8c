//! Tauri commands, grouped by what they touch. Each maps onto one core call;
//! every error crosses IPC as `stepdown::ApiError` (`{code, message}`).

pub mod casefinding;
pub mod clinical;
pub mod files;
pub mod records;
pub mod seats;
pub mod store;
