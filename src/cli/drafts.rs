//! `stepdown review drafts list|reapply|discard`: the entries kept when a
//! review save was refused because the review had a newer version (issue 19).

use serde_json::json;
use stepdown::consult;
use stepdown::reference::reference;

use super::store::{api_error, ActorArg, DbArg};
use super::{print_json, CliResult};

/// `stepdown review drafts ...`
#[derive(Debug, clap::Args)]
pub struct DraftsArgs {
    #[command(subcommand)]
    command: DraftsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DraftsCommand {
    /// The drafts kept for a review, oldest first, with their entries.
    List(DraftsListArgs),
    /// Save a draft as the review's newest version (on top of the latest) and delete it.
    Reapply(DraftArgs),
    /// Delete a draft without saving it.
    Discard(DraftArgs),
}

#[derive(Debug, clap::Args)]
struct DraftsListArgs {
    #[command(flatten)]
    db: DbArg,
    /// The review id.
    #[arg(long, value_name = "ID")]
    review: i64,
}

#[derive(Debug, clap::Args)]
struct DraftArgs {
    #[command(flatten)]
    db: DbArg,
    /// The draft's id (from the conflict, or `review drafts list`).
    #[arg(long, value_name = "ID")]
    draft: i64,
    #[command(flatten)]
    actor: ActorArg,
}

/// Runs `stepdown review drafts`.
pub fn drafts(args: DraftsArgs) -> CliResult {
    match args.command {
        DraftsCommand::List(a) => {
            let store = super::followup::open_existing(&a.db)?;
            print_json(&store.review_drafts(a.review)?)
        }
        DraftsCommand::Reapply(a) => {
            let mut store = super::followup::open_existing(&a.db)?;
            let actor = a.actor.name(&store)?;
            let saved = consult::reapply_draft(&mut store, a.draft, &actor, reference())
                .map_err(api_error)?;
            print_json(&saved)
        }
        DraftsCommand::Discard(a) => {
            let mut store = super::followup::open_existing(&a.db)?;
            let actor = a.actor.name(&store)?;
            store.discard_review_draft(a.draft, &actor)?;
            print_json(&json!({ "discarded": a.draft }))
        }
    }
}
