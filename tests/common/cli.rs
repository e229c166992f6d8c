//! Running the built `stepdown` binary from the integration tests, as the
//! acceptance tests do. Each test file uses a subset of these.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_stepdown");

/// tests/cases/, where worked cases live as data.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// Runs `stepdown <args> -` with `input` on standard input.
pub fn run_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stepdown");
    // The command may exit before reading (e.g. a bad option), closing the pipe.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    child.wait_with_output().expect("wait")
}

/// `text` in a temporary file, removed when dropped.
pub fn temp_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    f
}

/// Runs `stepdown <args> FILE` with `input` written to a temporary file.
pub fn run_file(args: &[&str], input: &str) -> Output {
    let f = temp_file(input);
    Command::new(BIN)
        .args(args)
        .arg(f.path())
        .output()
        .expect("run stepdown")
}
