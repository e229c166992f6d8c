//! Shared plumbing for the `stepdown` subcommands: reading JSON input from a
//! file or standard input, and the exit-status contract (0 ok, 1 internal, 2 bad input).

pub mod assess;
pub mod audit;
pub mod casefinding;
pub mod leaflet;
pub mod ome;
pub mod plan;
pub mod record;
pub mod reference;
pub mod store;

use std::io::Read;
use std::path::Path;

/// A failure that ends the command, with the exit status it maps to.
#[derive(Debug)]
pub enum CliError {
    /// Bad input (exit 2): the message names the field and what is wrong.
    Input(String),
    /// Anything else (exit 1).
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Internal(e)
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        CliError::Internal(e.into())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Internal(e.into())
    }
}

/// Result type of every subcommand.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Reads the whole input named on the command line: a path, or `-` for standard input.
pub fn read_input(path: &Path) -> CliResult<String> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Input(format!("standard input: could not read ({e})")))?;
    } else {
        text = std::fs::read_to_string(path).map_err(|e| {
            CliError::Input(format!(
                "{}: could not read input file ({e})",
                path.display()
            ))
        })?;
    }
    Ok(text)
}

/// Prints a value as pretty JSON on standard output. A reader that has gone
/// (`stepdown ... | head`) is not an error: `println!` would panic there.
pub fn print_json<T: serde::Serialize>(value: &T) -> CliResult {
    use std::io::Write;
    let text = serde_json::to_string_pretty(value)?;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
