fn main() {
    // App commands are declared here so that tauri-build generates their
    // permissions; capabilities/ grants each one explicitly.
    let attributes =
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&[
            "reference_info",
            "search_products",
            "calculate_ome",
        ]));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {e:#}");
    }
}
