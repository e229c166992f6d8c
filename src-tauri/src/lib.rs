//! Stepdown desktop shell: maps Tauri commands to `stepdown` core calls.
//! No clinical logic lives here.

#![forbid(unsafe_code)]

pub mod commands;

/// Builds and runs the desktop app.
pub fn run() {
    let result = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![
            commands::reference_info,
            commands::search_products,
            commands::calculate_ome,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("stepdown-app: failed to start: {e}");
        std::process::exit(1);
    }
}
