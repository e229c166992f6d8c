//! `stepdown audit verify` and `stepdown audit list`: the tamper-evident
//! audit log, read through a read-only connection so checking a store never
//! changes it.

use stepdown::store::{list_audit_file, resolve_db_path, verify_audit_file};

use super::store::{DbArg, ReportFormat};
use super::{print_json, CliResult};

/// Arguments of `stepdown audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain: OK with the number of entries, or the first
    /// broken link (entry id and what differs) with exit status 1.
    Verify {
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: ReportFormat,
    },
    /// Print the newest audit entries (newest first) as JSON, with their chain hashes.
    List {
        #[command(flatten)]
        db: DbArg,
        /// At most this many entries.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
    },
}

/// Runs `stepdown audit …`.
pub fn run(args: AuditArgs) -> CliResult {
    match args.command {
        AuditCommand::Verify { db, format } => {
            let path = resolve_db_path(db.db.as_deref())?;
            let report = verify_audit_file(&path)?;
            match format {
                ReportFormat::Json => print_json(&report)?,
                ReportFormat::Text => super::print_text(&format!("{}\n", report.to_text()))?,
            }
            if !report.ok {
                match &report.first_broken {
                    Some(b) => eprintln!(
                        "stepdown audit verify: {}: the audit log has been tampered with at entry {}: {}",
                        super::shown(&path),
                        b.id,
                        b.detail
                    ),
                    None => eprintln!(
                        "stepdown audit verify: {}: the audit log cannot be trusted: {}",
                        super::shown(&path),
                        report.problems.join("; ")
                    ),
                }
                // The report is the output, so this is not "bad input" (exit 2,
                // nothing on stdout): like `stepdown check`, a failed
                // verification exits 1 after printing it.
                std::process::exit(1);
            }
            Ok(())
        }
        AuditCommand::List { db, limit } => {
            let path = resolve_db_path(db.db.as_deref())?;
            print_json(&list_audit_file(&path, limit)?)
        }
    }
}
