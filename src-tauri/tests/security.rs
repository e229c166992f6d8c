//! The shell's security posture, pinned: strict CSP, least-privilege
//! capabilities, and no HTTP client linked in. A change that loosens any of
//! these fails here and has to be argued for.

use std::collections::BTreeSet;
use std::path::Path;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(rel: &str) -> serde_json::Value {
    let path = manifest_dir().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn csp() -> serde_json::Map<String, serde_json::Value> {
    let conf = read_json("tauri.conf.json");
    conf["app"]["security"]["csp"]
        .as_object()
        .expect("app.security.csp must be set as an object of directives")
        .clone()
}

#[test]
fn csp_allows_only_self_and_ipc() {
    let csp = csp();
    assert_eq!(csp["default-src"], "'self'");
    assert_eq!(csp["script-src"], "'self'");
    assert_eq!(csp["connect-src"], "ipc: http://ipc.localhost");
    assert_eq!(csp["object-src"], "'none'");
    for (directive, value) in &csp {
        let v = value.as_str().unwrap_or_default();
        assert!(
            !v.contains("unsafe-eval") && !v.contains("unsafe-inline"),
            "{directive} must not allow unsafe-inline or unsafe-eval: {v}"
        );
        for token in v.split_whitespace() {
            let remote = token.starts_with("https:")
                || token.starts_with("http:") && token != "http://ipc.localhost"
                || token.starts_with("ws")
                || token == "*";
            assert!(!remote, "{directive} allows remote content: {token}");
        }
    }
}

#[test]
fn the_window_is_titled_stepdown() {
    let conf = read_json("tauri.conf.json");
    assert_eq!(conf["app"]["windows"][0]["title"], "Stepdown");
    assert_eq!(conf["app"]["windows"][0]["label"], "main");
}

/// The commands the app registers, as declared in build.rs.
fn declared_commands() -> BTreeSet<String> {
    let build = std::fs::read_to_string(manifest_dir().join("build.rs")).expect("build.rs");
    let start = build
        .find(".commands(&[")
        .expect("build.rs declares commands")
        + 12;
    let end = start + build[start..].find(']').expect("closing bracket");
    build[start..end]
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Plugin permissions the UI needs: writing text to the clipboard, and nothing
/// else. The Copy buttons put the core's summary text on the clipboard
/// (issue 18, "the coded summary copied"); the webview cannot read the
/// clipboard (which may hold anything the user copied elsewhere), nor write
/// images or HTML. The save dialog is opened, and the saved leaflet opened,
/// from Rust (src/commands/files.rs), so the webview holds neither the dialog
/// nor the opener (issue 20: the opener allowed any `**/*.pdf`, and the
/// dialog's path came back through the webview).
const PLUGIN_GRANTS: [&str; 1] = ["clipboard-manager:allow-write-text"];

#[test]
fn capabilities_grant_only_stepdown_commands() {
    let allowed: BTreeSet<String> = declared_commands()
        .iter()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .collect();
    let dir = manifest_dir().join("capabilities");
    let mut granted = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("capabilities dir") {
        let path = entry.expect("dir entry").path();
        let cap: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(
            cap["windows"],
            serde_json::json!(["main"]),
            "{}",
            path.display()
        );
        for p in cap["permissions"].as_array().expect("permissions array") {
            // Plugin grants are pinned exactly, scope included.
            if let Some(id) = p.as_str().filter(|id| PLUGIN_GRANTS.contains(id)) {
                granted.insert(id.to_string());
                continue;
            }
            let p = p
                .as_str()
                .expect("app permission ids are plain strings (no scoped plugin grants)");
            assert!(
                !p.contains(':'),
                "{} grants the plugin permission {p}: the webview gets no plugin access but {PLUGIN_GRANTS:?}",
                path.display()
            );
            assert!(
                allowed.contains(p),
                "{} grants {p}, which is not one of the app's own commands {allowed:?}",
                path.display()
            );
            granted.insert(p.to_string());
        }
    }
    let mut expected = allowed.clone();
    expected.extend(PLUGIN_GRANTS.iter().map(|s| s.to_string()));
    assert_eq!(
        granted, expected,
        "every declared command is granted, plus the pinned plugin grants"
    );
}

/// The clipboard grant is write-text only: no capability file grants reading
/// the clipboard, the plugin's default set (which a bare `clipboard-manager:default`
/// would pull in), or a wildcard.
#[test]
fn the_clipboard_is_written_never_read() {
    let dir = manifest_dir().join("capabilities");
    let mut writes = 0;
    for entry in std::fs::read_dir(&dir).expect("capabilities dir") {
        let path = entry.expect("dir entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let cap: serde_json::Value = serde_json::from_str(&text).expect("json");
        for p in cap["permissions"].as_array().expect("permissions array") {
            let id = p.as_str().unwrap_or_else(|| {
                p["identifier"]
                    .as_str()
                    .expect("a permission has an identifier")
            });
            if id.starts_with("clipboard-manager:") {
                assert_eq!(
                    id,
                    "clipboard-manager:allow-write-text",
                    "{} grants {id}",
                    path.display()
                );
                writes += 1;
            }
        }
    }
    assert_eq!(writes, 1, "the Copy buttons need the write-text grant");
}

#[test]
fn no_http_client_is_linked() {
    // Cargo.lock lists optional dependencies too (Tauri's updater pulls reqwest
    // in there), so ask cargo for the graph actually built into the app.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            "stepdown-app",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(manifest_dir())
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        tree.lines().any(|l| l.starts_with("tauri v")),
        "cargo tree output looks wrong:\n{tree}"
    );
    for forbidden in [
        "reqwest",
        "hyper",
        "ureq",
        "isahc",
        "curl",
        "attohttpc",
        "surf",
    ] {
        let linked: Vec<&str> = tree
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(forbidden))
            .collect();
        assert!(
            linked.is_empty(),
            "the app links the HTTP client crate {forbidden} ({linked:?}); Stepdown must not make network requests"
        );
    }
}

/// The `#[tauri::command]` functions in src/commands/, with their parameter lists.
fn commands_with_params() -> Vec<(String, String)> {
    let dir = manifest_dir().join("src/commands");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/commands") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let mut rest = text.as_str();
        while let Some(at) = rest.find("#[tauri::command]") {
            rest = &rest[at + 17..];
            let open = rest.find('(').expect("a command has parameters");
            let name = rest[..open]
                .split_whitespace()
                .last()
                .expect("fn name")
                .to_string();
            let close = open + rest[open..].find(')').expect("closing parenthesis");
            out.push((name, rest[open + 1..close].to_string()));
        }
    }
    out
}

/// Issue 20: `print_leaflet` and `save_figures_csv` wrote to whatever path
/// string arrived over IPC, and the webview could open any PDF. Pinned: no
/// command takes a path (or folder, or file name to write) from the webview;
/// the writing and opening commands exist and use the path the save dialog
/// returned, remembered on the Rust side; the `--save-dir` test hook is
/// compiled into debug builds only.
#[test]
fn save_and_open_paths_come_only_from_the_dialog() {
    let commands = commands_with_params();
    let names: BTreeSet<&str> = commands.iter().map(|(n, _)| n.as_str()).collect();
    for needed in [
        "print_leaflet",
        "save_figures_csv",
        "choose_save_path",
        "open_leaflet",
        "save_outcomes_csv",
        "save_outcomes_report",
        "save_summary_pdf",
    ] {
        assert!(
            names.contains(needed),
            "{needed} is not a command: {names:?}"
        );
    }
    assert!(
        !names.contains("save_dir"),
        "the test hook is not a command"
    );
    for (name, params) in &commands {
        for param in params.split(',') {
            let pname = param.split(':').next().unwrap_or("").trim();
            let ty = param.split(':').nth(1).unwrap_or("").trim();
            assert!(
                !(pname.contains("path")
                    || pname.contains("dir")
                    || pname == "file"
                    || ty.contains("PathBuf")),
                "command {name} takes `{}` from the webview: outputs go only where the save dialog said",
                param.trim()
            );
        }
    }
    let files =
        std::fs::read_to_string(manifest_dir().join("src/commands/files.rs")).expect("files.rs");
    assert!(
        files.contains("blocking_save_file"),
        "the dialog is opened from Rust"
    );
    assert!(
        files.contains("take_chosen"),
        "writes use the remembered path"
    );
    for (file, writer) in [
        ("records.rs", "SaveKind::Leaflet"),
        ("casefinding.rs", "SaveKind::FiguresCsv"),
        ("records.rs", "SaveKind::OutcomesCsv"),
        ("records.rs", "SaveKind::OutcomesReport"),
        ("records.rs", "SaveKind::SummaryPdf"),
    ] {
        let text =
            std::fs::read_to_string(manifest_dir().join("src/commands").join(file)).expect("read");
        assert!(
            text.contains(writer),
            "{file} writes to the path chosen for {writer}"
        );
    }
    let state = std::fs::read_to_string(manifest_dir().join("src/state.rs")).expect("state.rs");
    let hook = state
        .find("arg_value(\"--save-dir\")")
        .expect("the test hook");
    let before = &state[..hook];
    let cfg = before.rfind("#[cfg(").expect("the hook is behind a cfg");
    assert!(
        before[cfg..].starts_with("#[cfg(debug_assertions)]"),
        "the --save-dir hook must be compiled into debug builds only"
    );
    assert!(state.contains("#[cfg(not(debug_assertions))]"));
}

/// Issue 19, Settings: the store choice is kept outside the store, and
/// never with a password. The one command that changes it takes a choice
/// (the store on this computer carries no path; a team store an address the
/// core refuses if it holds a password) and a sign-in kept in memory; the
/// shell writes the choice only through the core's checked writer.
#[test]
fn the_store_choice_is_saved_only_through_the_cores_checks() {
    let commands = commands_with_params();
    let (_, params) = commands
        .iter()
        .find(|(n, _)| n == "switch_store")
        .expect("switch_store is a command");
    assert!(params.contains("choice: StoreChoice"), "{params}");
    assert!(params.contains("sign_in: Option<SignIn>"), "{params}");
    let state = std::fs::read_to_string(manifest_dir().join("src/state.rs")).expect("state.rs");
    assert!(state.contains("choice::save(file, &saved)"));
    assert!(
        state.contains("choice::open_choice("),
        "opened and checked by the core first"
    );
    for file in ["src/state.rs", "src/commands/store.rs", "src/lib.rs"] {
        let text = std::fs::read_to_string(manifest_dir().join(file)).expect("read");
        assert!(
            !text.contains("std::fs::write") && !text.contains("File::create"),
            "{file} writes a file itself: the choice goes through store::choice::save"
        );
    }
}
