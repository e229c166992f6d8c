fn main() {
    // App commands are declared here so that tauri-build generates their
    // permissions; capabilities/ grants each one explicitly.
    let attributes =
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&[
            "reference_info",
            "reference_currency",
            "search_products",
            "assess",
            "co_medication_names",
            "thresholds",
            "plan",
            "taper_presets",
            "describe_items",
            "known_drugs",
            "store_status",
            "get_settings",
            "update_settings",
            "search_patients",
            "get_patient",
            "create_patient",
            "update_patient",
            "load_demo_patients",
            "patient_history",
            "save_review",
            "get_review",
            "save_follow_up",
            "follow_up_due",
            "outcomes",
            "check_nhs_number",
            "print_leaflet",
            "summary_for_record",
            "coded_summary_for_record",
            "choose_save_path",
            "choose_import_file",
            "forget_import_file",
            "open_leaflet",
            "import_extract",
            "import_presets",
            "worklist",
            "practice_figures",
            "save_figures_csv",
            "patient_for_extract",
            "follow_up_scales",
            "save_outcomes_csv",
            "save_outcomes_report",
            "save_summary_pdf",
            "read_medication_list",
        ]));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {e:#}");
    }
}
