//! Finding one patient by NHS number or local identifier.
//!
//! A SQLite file holds one practice, where both are unique. On a team store
//! a seat of several practices may see the same number or id at two of
//! them (a patient who moved is a new record at the new practice): the
//! lookup never picks one silently, it refuses naming the practices and
//! asks which, and a practice given narrows it to that practice.

use super::db::{Backend, Conn, OptionalExtension};
use super::patients::{from_row, get, Patient, COLUMNS};
use super::practices::Practice;
use super::{Store, StoreError, StoreResult};
use crate::nhs_number::NhsNumber;

/// The one patient where `condition` (on `patients p`, `?1` the key) holds,
/// within `practice` when given; `what` names the key in a refusal.
fn find(
    conn: &Conn,
    condition: &str,
    key: &str,
    practice: Option<&str>,
    // Not the number or id itself: the message may be logged.
    what: &str,
) -> StoreResult<Option<Patient>> {
    if conn.backend() == Backend::Sqlite {
        // Unique in the file: at most one.
        return conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM patients p WHERE {condition}"
            ))?
            .query_row([key], from_row)
            .optional()?
            .transpose();
    }
    let base = format!(
        "SELECT p.id, p.practice_code, coalesce(pr.name, '') FROM patients p
         LEFT JOIN practices pr ON pr.code = p.practice_code WHERE {condition}"
    );
    let mut stmt;
    let rows = match practice {
        Some(code) => {
            stmt = conn.prepare_cached(&format!(
                "{base} AND p.practice_code = ?2 ORDER BY p.practice_code, p.id"
            ))?;
            stmt.query_map([key, code], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<(i64, String, String)>, _>>()?
        }
        None => {
            stmt = conn.prepare_cached(&format!("{base} ORDER BY p.practice_code, p.id"))?;
            stmt.query_map([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<(i64, String, String)>, _>>()?
        }
    };
    match rows.as_slice() {
        [] => Ok(None),
        [(id, _, _)] => get(conn, *id).map(Some),
        several => {
            // Only the seat's own practices: row-level security limits what
            // it sees. Within one practice the key is unique, so this names
            // two practices or more.
            let mut practices: Vec<Practice> = Vec::new();
            for (_, code, name) in several {
                if !practices.iter().any(|p| &p.code == code) {
                    practices.push(Practice {
                        code: code.clone(),
                        name: name.clone(),
                    });
                }
            }
            let listed = practices
                .iter()
                .map(|p| format!("{} ({})", p.code, p.name))
                .collect::<Vec<_>>()
                .join(", ");
            Err(StoreError::invalid(
                "practice",
                format!(
                    "{what} is held at several practices this seat works for: {listed}; \
                     say which practice (--practice)"
                ),
            ))
        }
    }
}

impl Store {
    /// The patient with this NHS number (any spacing), if any. On a team
    /// store `practice` narrows the search to that practice (checked as
    /// [`Store::practice_for`] does; refused on a SQLite file); without it,
    /// a number held at several of the seat's practices is refused naming
    /// them, never one picked.
    pub fn patient_by_nhs_number(
        &self,
        nhs_number: &str,
        practice: Option<&str>,
    ) -> StoreResult<Option<Patient>> {
        let n = NhsNumber::parse(nhs_number)
            .map_err(|e| StoreError::invalid("nhs_number", e.to_string()))?;
        let practice = self.lookup_practice(practice)?;
        find(
            &self.conn,
            "p.nhs_number = ?1",
            n.as_str(),
            practice.as_deref(),
            "this NHS number",
        )
    }

    /// The patient with this local identifier (case-insensitive), if any;
    /// `practice` as for [`Store::patient_by_nhs_number`].
    pub fn patient_by_local_id(
        &self,
        local_id: &str,
        practice: Option<&str>,
    ) -> StoreResult<Option<Patient>> {
        let practice = self.lookup_practice(practice)?;
        let local_id = local_id.trim();
        find(
            &self.conn,
            &self.conn.dialect().nocase_eq("p.local_id", "?1"),
            local_id,
            practice.as_deref(),
            "this local identifier",
        )
    }

    /// A practice given to a lookup, checked by `practice_for`'s rule; none
    /// given searches every practice the seat sees.
    fn lookup_practice(&self, given: Option<&str>) -> StoreResult<Option<String>> {
        match super::practices::normalise_code(given) {
            None => Ok(None),
            Some(code) => self.practice_for(Some(&code)),
        }
    }
}
