//! Stepdown desktop shell: maps Tauri commands to `stepdown` core calls.
//! No clinical logic lives here.

#![forbid(unsafe_code)]

pub mod commands;
pub mod state;

use tauri::Manager;

use state::AppState;
use stepdown::store::choice;

/// What the app opens: `--db PATH` on the command line, else `STEPDOWN_DB`
/// if set (tests and demos use a scratch file or a team store address),
/// else the store chosen in Settings (kept in `store.json` in Tauri's app
/// config directory; a team store waits for the seat to sign in), else
/// `stepdown.db` in Tauri's app data directory. The decision is the core's
/// (`store::choice::start_up`); this only gathers the inputs.
fn start_state(app: &tauri::App) -> Result<AppState, Box<dyn std::error::Error>> {
    let local_file = app
        .path()
        .app_data_dir()?
        .join(stepdown::store::DB_FILE_NAME);
    let choice_file = app
        .path()
        .app_config_dir()
        .ok()
        .map(|d| d.join(choice::CHOICE_FILE_NAME));
    let loaded = match &choice_file {
        Some(f) => choice::load(f),
        None => choice::Loaded {
            choice: choice::StoreChoice::Local,
            problem: None,
        },
    };
    let flag = state::arg_value("--db");
    let env = std::env::var_os(stepdown::store::DB_ENV_VAR);
    let start_up = choice::start_up(flag.as_deref(), env.as_deref(), &loaded.choice, &local_file);
    Ok(AppState::start(start_up, loaded, choice_file, local_file))
}

/// Builds and runs the desktop app.
pub fn run() {
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .setup(|app| {
            let state = start_state(app)?;
            app.manage(state);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::clinical::reference_info,
            commands::clinical::reference_currency,
            commands::clinical::search_products,
            commands::clinical::assess,
            commands::clinical::co_medication_names,
            commands::clinical::thresholds,
            commands::clinical::plan,
            commands::clinical::taper_presets,
            commands::clinical::describe_items,
            commands::clinical::known_drugs,
            commands::records::store_status,
            commands::store::switch_store,
            commands::records::get_settings,
            commands::records::update_settings,
            commands::records::practice_contacts,
            commands::records::set_practice_contact,
            commands::records::search_patients,
            commands::records::get_patient,
            commands::records::create_patient,
            commands::records::update_patient,
            commands::records::load_demo_patients,
            commands::records::patient_history,
            commands::records::save_review,
            commands::records::get_review,
            commands::records::save_follow_up,
            commands::records::follow_up_due,
            commands::records::outcomes,
            commands::records::check_nhs_number,
            commands::records::print_leaflet,
            commands::records::summary_for_record,
            commands::records::coded_summary_for_record,
            commands::files::choose_save_path,
            commands::files::choose_import_file,
            commands::files::forget_import_file,
            commands::files::open_leaflet,
            commands::casefinding::import_extract,
            commands::casefinding::import_presets,
            commands::casefinding::worklist,
            commands::casefinding::practice_figures,
            commands::casefinding::save_figures_csv,
            commands::casefinding::patient_for_extract,
            commands::records::follow_up_scales,
            commands::records::save_outcomes_csv,
            commands::records::save_outcomes_report,
            commands::records::save_summary_pdf,
            commands::clinical::read_medication_list,
            commands::seats::seat_name,
            commands::seats::seat_practices,
            commands::seats::review_drafts,
            commands::seats::reapply_review_draft,
            commands::seats::discard_review_draft,
            commands::seats::claim_worklist_patient,
            commands::seats::release_worklist_patient,
            commands::seats::set_worklist_status,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("stepdown-app: failed to start: {e}");
        std::process::exit(1);
    }
}
