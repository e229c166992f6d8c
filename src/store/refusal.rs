//! A refused write in a pharmacist's words: the team server's permission
//! refusals (SQLSTATE 42501: a missing grant, a row-level-security policy,
//! the practice triggers) and a unique key refusing a second record (23505
//! on the server, SQLite's UNIQUE constraint on a file). The server's own
//! text names tables and columns; it is read here for which record it was
//! about and never shown.

use std::fmt;

/// Why the server refused this seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeniedKind {
    /// Only the store's administrator may change this (settings, the
    /// practice list, assignments): the seat's role has no grant.
    AdminOnly,
    /// The record belongs to (or hangs off a record of) a practice the seat
    /// is not assigned to, or no longer exists: row-level security or the
    /// practice trigger refused it.
    OtherPractice,
    /// The seat is assigned to no practice yet, so its new records have none.
    NoPractice,
    /// The store's schema on `server` is older than this build and only its
    /// owner may update it.
    SchemaUpdate {
        /// The store address, without any password.
        server: String,
    },
    /// Any other refusal of the server's (a function, a schema).
    Other,
}

/// A permission refusal: what it was about, and who was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// Why.
    pub kind: DeniedKind,
    /// The record it was about, in words ("a review", "the shared settings").
    pub record: String,
    /// The role that signed in, once known.
    pub role: Option<String>,
    /// The practices (ODS codes) that role is assigned to, once known.
    pub practices: Option<Vec<String>>,
}

impl Denied {
    /// A refusal of `kind` about `record`, the seat not yet known.
    pub fn new(kind: DeniedKind, record: impl Into<String>) -> Denied {
        Denied {
            kind,
            record: record.into(),
            role: None,
            practices: None,
        }
    }

    fn who(&self) -> String {
        match &self.role {
            Some(r) => format!("this seat (signed in as {r})"),
            None => "this seat".to_string(),
        }
    }

    fn works_for(&self) -> String {
        match self.practices.as_deref() {
            Some([]) => " (it is assigned to no practice)".to_string(),
            Some(codes) => format!(" (it works for {})", codes.join(", ")),
            None => String::new(),
        }
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = self.who();
        let record = &self.record;
        match &self.kind {
            DeniedKind::AdminOnly => write!(
                f,
                "{who} may not change {record}: only the store's administrator may. Nothing \
                 was changed; ask your administrator to make the change"
            ),
            DeniedKind::OtherPractice => write!(
                f,
                "{who} may not write {record}: it belongs to a practice this seat is not \
                 assigned to{}, or it no longer exists. Nothing was changed; if you should \
                 work on that practice's records, ask the store's administrator to assign \
                 this seat to it",
                self.works_for()
            ),
            DeniedKind::NoPractice => write!(
                f,
                "{who} is not assigned to any practice yet, so it cannot save {record}. \
                 Nothing was changed; ask the store's administrator to assign this seat to \
                 your practice"
            ),
            DeniedKind::SchemaUpdate { server } => write!(
                f,
                "the store's schema on {server} is older than this version of Stepdown and \
                 {who} may not update it. Nothing was changed; the store's administrator \
                 opens it once with this version to update it"
            ),
            DeniedKind::Other => write!(
                f,
                "{who} is not allowed to do this ({record}). Nothing was changed; ask the \
                 store's administrator"
            ),
        }
    }
}

/// The records of each table, in words, for refusals. Unknown tables are
/// "this record".
fn record_words(table: &str) -> &'static str {
    match table {
        "patients" => "a patient record",
        "reviews" => "a review",
        "review_versions" => "a version of a review",
        "follow_ups" => "a follow-up",
        "leaflet_prints" => "a leaflet print",
        "review_drafts" => "a review draft",
        "settings" => "the shared settings",
        "practices" => "the list of practices",
        "seat_practices" => "the seats' practice assignments",
        "audit_log" | "audit_head" => "the audit log",
        "cf_claims" => "a worklist claim",
        "cf_imports" => "an extract import",
        t if t.starts_with("cf_") => "the case-finding worklist",
        _ => "this record",
    }
}

/// The table a server message names: `permission denied for table x`,
/// `… policy for table "x"`, or a Stepdown trigger's `x: …`.
fn table_named(message: &str) -> &str {
    if let Some(rest) = message.split(" for table ").nth(1) {
        return rest
            .trim_matches('"')
            .split(['"', ' '])
            .next()
            .unwrap_or_default();
    }
    match message.split_once(": ") {
        Some((t, _)) if t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => t,
        _ => "",
    }
}

/// A 42501 refusal from the server, from its message (never shown).
pub(crate) fn denied_from_server(message: &str) -> Denied {
    let record = record_words(table_named(message));
    let kind = if message.contains("row-level security")
        || message.contains("not in a practice this role works for")
    {
        DeniedKind::OtherPractice
    } else if message.contains("is assigned to no practice") {
        DeniedKind::NoPractice
    } else if message.starts_with("permission denied for table") {
        DeniedKind::AdminOnly
    } else {
        DeniedKind::Other
    };
    Denied::new(kind, record)
}

/// What a unique key keeps single, in words, from the constraint's name (on
/// the server) or SQLite's `table.column` / index name.
pub(crate) fn duplicate_words(key: &str) -> &'static str {
    let has = |s: &str| key.contains(s);
    if has("nhs_number") {
        "a patient with this NHS number"
    } else if has("patients") && has("local_id") {
        "a patient with this local identifier"
    } else if has("review_versions") {
        "this version of the review (another save took its number first)"
    } else if has("cf_imports") {
        "this extract file (it was imported before)"
    } else if has("cf_claims") {
        "a claim on this worklist patient"
    } else if has("cf_patients") {
        "a worklist patient with this identifier"
    } else if has("seat_practices") {
        "this seat's assignment to that practice"
    } else if has("practices") {
        "a practice with this ODS code"
    } else if has("settings") {
        "this setting"
    } else {
        "a record with the same identifying value"
    }
}

/// SQLite's unique refusal (`UNIQUE constraint failed: t.c, t.d` or
/// `… index 'name'`) as the key it names.
pub(crate) fn sqlite_unique_key(message: &str) -> String {
    message
        .split_once("constraint failed: ")
        .map(|(_, k)| k.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_refusals_are_read_for_the_record_and_the_reason() {
        let d = denied_from_server("permission denied for table settings");
        assert_eq!(
            (d.kind, d.record.as_str()),
            (DeniedKind::AdminOnly, "the shared settings")
        );
        let d = denied_from_server(
            "new row violates row-level security policy for table \"review_versions\"",
        );
        assert_eq!(
            (d.kind, d.record.as_str()),
            (DeniedKind::OtherPractice, "a version of a review")
        );
        let d = denied_from_server(
            "reviews: the row it belongs to is not in a practice this role works for (or does \
             not exist)",
        );
        assert_eq!(
            (d.kind, d.record.as_str()),
            (DeniedKind::OtherPractice, "a review")
        );
        let d = denied_from_server(
            "patients: the role seat_x is assigned to no practice (an admin assigns practices \
             in seat_practices)",
        );
        assert_eq!(
            (d.kind, d.record.as_str()),
            (DeniedKind::NoPractice, "a patient record")
        );
        let d = denied_from_server("permission denied for function f");
        assert_eq!(
            (d.kind, d.record.as_str()),
            (DeniedKind::Other, "this record")
        );
    }

    #[test]
    fn a_refusal_in_words_names_the_seat_its_practices_and_whom_to_ask_and_no_sql() {
        let d = Denied {
            role: Some("seat_bob".into()),
            practices: Some(vec!["B82002".into()]),
            ..denied_from_server("new row violates row-level security policy for table \"reviews\"")
        };
        let text = d.to_string();
        assert!(text.contains("signed in as seat_bob"), "{text}");
        assert!(text.contains("a review"), "{text}");
        assert!(text.contains("works for B82002"), "{text}");
        assert!(text.contains("ask the store's administrator"), "{text}");
        assert!(
            !text.contains("row-level") && !text.contains("\"reviews\""),
            "{text}"
        );
    }

    #[test]
    fn unique_keys_are_named_in_words_on_both_backends() {
        assert_eq!(
            duplicate_words("patients_nhs_number_key"),
            duplicate_words(&sqlite_unique_key(
                "UNIQUE constraint failed: patients.nhs_number"
            ))
        );
        assert_eq!(
            duplicate_words("practices_pkey"),
            "a practice with this ODS code"
        );
        assert_eq!(
            duplicate_words("seat_practices_pkey"),
            "this seat's assignment to that practice"
        );
        assert_eq!(
            duplicate_words("whatever"),
            "a record with the same identifying value"
        );
    }
}
