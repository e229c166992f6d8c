//! `stepdown worklist claim|release|status`: who holds a case-finding
//! patient and where they are up to (issue 19), so two people do not call
//! the same one.

use stepdown::store::{ClaimStatus, Store};

use super::store::{ActorArg, DbArg};
use super::{print_json, CliError, CliResult};

/// The subcommands of `stepdown worklist`.
#[derive(Debug, clap::Subcommand)]
pub enum WorklistCommand {
    /// Take a patient (you become the holder; status to-contact on a first claim).
    Claim(ClaimArgs),
    /// Let a patient you hold go (their status stays).
    Release(ClaimArgs),
    /// Set where a patient is up to: to-contact, booked or reviewed.
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
pub struct ClaimArgs {
    #[command(flatten)]
    db: DbArg,
    /// The worklist patient (the extract's identifier, `patient_id` in the worklist).
    #[arg(long, value_name = "ID")]
    patient: String,
    /// The practice whose extract the patient is in (ODS code, `practice_code` in the
    /// worklist): needed only on a team store where this seat sees several practices'
    /// extracts with that identifier.
    #[arg(long, value_name = "CODE")]
    practice: Option<String>,
    /// Your name, recorded as the holder [default: the reviewer name in settings, else the
    /// login name].
    #[command(flatten)]
    actor: ActorArg,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    claim: ClaimArgs,
    /// to-contact, booked or reviewed.
    #[arg(long, value_name = "STATUS")]
    status: String,
}

fn open(db: &DbArg) -> CliResult<Store> {
    super::followup::open_existing(db)
}

/// Runs `stepdown worklist claim|release|status`; prints the claim as JSON.
pub fn run(command: WorklistCommand) -> CliResult {
    match command {
        WorklistCommand::Claim(a) => {
            let mut store = open(&a.db)?;
            let holder = a.actor.name(&store);
            print_json(&store.claim_worklist_patient(&a.patient, a.practice.as_deref(), &holder)?)
        }
        WorklistCommand::Release(a) => {
            let mut store = open(&a.db)?;
            let actor = a.actor.name(&store);
            print_json(&store.release_worklist_patient(
                &a.patient,
                a.practice.as_deref(),
                &actor,
            )?)
        }
        WorklistCommand::Status(a) => {
            let status = ClaimStatus::parse(&a.status).ok_or_else(|| {
                CliError::Input(format!("--status: {}", ClaimStatus::unknown(&a.status)))
            })?;
            let mut store = open(&a.claim.db)?;
            let actor = a.claim.actor.name(&store);
            print_json(&store.set_worklist_status(
                &a.claim.patient,
                a.claim.practice.as_deref(),
                status,
                &actor,
            )?)
        }
    }
}
