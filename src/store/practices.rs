//! Which practice a new record (a patient, a case-finding import) belongs
//! to, and which practice a case-finding worklist or figures are for.
//!
//! A SQLite file holds one practice and has no practice codes. On a team
//! store every root row carries its practice's ODS code; the server fills it
//! in only when the seat works for exactly one practice. A seat covering
//! several (a PCN pharmacist), or an admin with no assignment, says which:
//! the one rule is [`choose`], shared by patients and case-finding.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::db::{Backend, Conn};
use super::refusal::{Denied, DeniedKind};
use super::{Store, StoreError, StoreResult};

/// A practice of a team store, by its ODS code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Practice {
    /// ODS code (e.g. `A81001`).
    pub code: String,
    /// Name (e.g. "Riverside Surgery").
    pub name: String,
}

/// What a seat may choose from: every practice it may make records in
/// (an admin: all), and the ones it is itself assigned to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SeatChoice {
    /// Ordered by code.
    pub choices: Vec<Practice>,
    /// The seat's own assignments (codes), ordered.
    pub assigned: Vec<String>,
}

/// An ODS code as the store keeps it: upper case, no spaces (`a81 001` is
/// `A81001`); `None` when blank.
pub(crate) fn normalise_code(given: Option<&str>) -> Option<String> {
    let code: String = given?
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect();
    (!code.is_empty()).then_some(code)
}

fn listed(practices: &[Practice]) -> String {
    practices
        .iter()
        .map(|p| format!("{} ({})", p.code, p.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rule, for both patients and case-finding (`field` names where the
/// practice came from, `practice` or `--practice`):
/// - SQLite: a practice given is refused (a file holds one practice and has
///   no codes); none gives `None`.
/// - Server, none given: the seat's only assigned practice, else the only
///   practice it may choose from; else a field error listing its choices.
/// - Server, one given (any case, spaces ignored): accepted when it is one
///   of the seat's choices; else a field error naming the seat's own
///   choices only (never what else the store holds).
pub(crate) fn choose(
    backend: Backend,
    given: Option<&str>,
    seat: &SeatChoice,
    field: &str,
) -> StoreResult<Option<String>> {
    let given = normalise_code(given);
    if backend == Backend::Sqlite {
        return match given {
            None => Ok(None),
            Some(code) => Err(StoreError::invalid(
                field,
                format!(
                    "a store on this computer holds one practice and has no practice codes: \
                     leave the practice out (got {code})"
                ),
            )),
        };
    }
    if seat.choices.is_empty() {
        // As the server itself refuses it (exit 4, permission-denied): the
        // seat cannot fix this by choosing; an administrator must assign it.
        return Err(StoreError::PermissionDenied(Box::new(Denied::new(
            DeniedKind::NoPractice,
            "a new record",
        ))));
    }
    match given {
        Some(code) => {
            if seat.choices.iter().any(|p| p.code == code) {
                Ok(Some(code))
            } else {
                Err(StoreError::invalid(
                    field,
                    format!(
                        "{code} is not a practice this seat works for; choose one of {}",
                        listed(&seat.choices)
                    ),
                ))
            }
        }
        None => {
            if let [only] = seat.assigned.as_slice() {
                return Ok(Some(only.clone()));
            }
            if let [only] = seat.choices.as_slice() {
                return Ok(Some(only.code.clone()));
            }
            Err(StoreError::invalid(
                field,
                format!(
                    "this seat works for several practices: say which practice this is for, \
                     one of {}",
                    listed(&seat.choices)
                ),
            ))
        }
    }
}

/// What the seat signed in on `conn` may choose from (empty on SQLite).
pub(crate) fn seat_choice(conn: &Conn) -> StoreResult<SeatChoice> {
    if conn.backend() == Backend::Sqlite {
        return Ok(SeatChoice::default());
    }
    // As the row-level security policies do: the role in effect, and an
    // admin (a member of stepdown_admin) may write to every practice.
    let admin: bool = conn.query_row(
        "SELECT pg_has_role(current_user, 'stepdown_admin', 'MEMBER')",
        (),
        |r| r.get(0),
    )?;
    let sql = if admin {
        "SELECT code, name FROM practices ORDER BY code"
    } else {
        "SELECT p.code, p.name FROM seat_practices sp JOIN practices p ON p.code = sp.practice_code
         WHERE sp.role_name = current_user ORDER BY p.code"
    };
    let choices = conn
        .prepare(sql)?
        .query_map((), |r| {
            Ok(Practice {
                code: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let assigned = conn
        .prepare(
            "SELECT practice_code FROM seat_practices WHERE role_name = current_user
             ORDER BY practice_code",
        )?
        .query_map((), |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(SeatChoice { choices, assigned })
}

/// [`choose`] for the seat signed in on `conn`.
pub(crate) fn resolve(
    conn: &Conn,
    given: Option<&str>,
    field: &str,
) -> StoreResult<Option<String>> {
    if conn.backend() == Backend::Sqlite {
        return choose(Backend::Sqlite, given, &SeatChoice::default(), field);
    }
    choose(conn.backend(), given, &seat_choice(conn)?, field)
}

impl Store {
    /// The practices this seat may make new records in, ordered by code: on
    /// a team store every practice for an admin, a pharmacist's own
    /// assignments otherwise; empty on a SQLite file (one practice, no codes).
    pub fn seat_practices(&self) -> StoreResult<Vec<Practice>> {
        Ok(seat_choice(&self.conn)?.choices)
    }

    /// The practice a new record or a worklist is for: `given` checked, or
    /// the seat's only one (see [`choose`]); `None` on a SQLite file.
    pub fn practice_for(&self, given: Option<&str>) -> StoreResult<Option<String>> {
        resolve(&self.conn, given, "practice").map_err(|e| match e {
            StoreError::PermissionDenied(mut denied) => {
                self.name_the_seat(&mut denied);
                StoreError::PermissionDenied(denied)
            }
            other => other,
        })
    }

    /// Runs `f` with the server session working on `practice` only
    /// (migrations_pg/0007: the seat sees and writes that practice's rows,
    /// and root rows written without a practice take it), then puts the
    /// session back as it was. Case-finding's SQL, written for a SQLite
    /// file of one practice, so works per practice on the server. `None`,
    /// or a SQLite file: `f` as it is.
    pub(crate) fn in_practice<T, E: From<StoreError>>(
        &mut self,
        practice: Option<&str>,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let Some(code) = practice.filter(|_| self.backend() == Backend::Postgres) else {
            return f(self);
        };
        let before: String = self
            .conn
            .query_row(
                "SELECT coalesce(current_setting('stepdown.practice', true), '')",
                (),
                |r| r.get(0),
            )
            .map_err(StoreError::from)?;
        set_working(&self.conn, code)?;
        let out = f(self);
        // Put back even when `f` failed (its transaction is rolled back by
        // now); a session left narrowed would show one practice's rows later.
        let restored = set_working(&self.conn, &before);
        match (out, restored) {
            (Ok(_), Err(e)) => Err(e.into()),
            (out, _) => out,
        }
    }
}

/// Sets the session's working practice (`''`: none).
fn set_working(conn: &Conn, code: &str) -> StoreResult<()> {
    conn.query_row(
        "SELECT set_config('stepdown.practice', ?1, false)",
        [code],
        |r| r.get::<String>(0),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(code: &str, name: &str) -> Practice {
        Practice {
            code: code.into(),
            name: name.into(),
        }
    }

    fn two() -> SeatChoice {
        SeatChoice {
            choices: vec![
                p("A81001", "Riverside Surgery"),
                p("B82002", "Hill Top Practice"),
            ],
            assigned: vec!["A81001".into(), "B82002".into()],
        }
    }

    fn field_message(e: StoreError) -> (String, String) {
        match e {
            StoreError::Invalid { field, message } => (field, message),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn sqlite_refuses_a_practice_and_takes_blank_as_none() {
        let seat = SeatChoice::default();
        assert_eq!(
            choose(Backend::Sqlite, None, &seat, "practice").unwrap(),
            None
        );
        assert_eq!(
            choose(Backend::Sqlite, Some("  "), &seat, "practice").unwrap(),
            None
        );
        let (field, message) =
            field_message(choose(Backend::Sqlite, Some("A81001"), &seat, "practice").unwrap_err());
        assert_eq!(field, "practice");
        assert!(message.contains("holds one practice"), "{message}");
    }

    #[test]
    fn one_practice_is_taken_when_none_is_given() {
        let seat = SeatChoice {
            choices: vec![p("A81001", "Riverside Surgery")],
            assigned: vec!["A81001".into()],
        };
        assert_eq!(
            choose(Backend::Postgres, None, &seat, "practice").unwrap(),
            Some("A81001".into())
        );
        // An admin may choose any practice but works for one: that one.
        let admin = SeatChoice {
            assigned: vec!["B82002".into()],
            ..two()
        };
        assert_eq!(
            choose(Backend::Postgres, Some(""), &admin, "practice").unwrap(),
            Some("B82002".into())
        );
        // An admin with no assignment in a store of one practice.
        let lone = SeatChoice {
            choices: vec![p("A81001", "Riverside Surgery")],
            assigned: vec![],
        };
        assert_eq!(
            choose(Backend::Postgres, None, &lone, "practice").unwrap(),
            Some("A81001".into())
        );
    }

    #[test]
    fn several_practices_must_be_chosen_from_by_name() {
        let (field, message) =
            field_message(choose(Backend::Postgres, None, &two(), "--practice").unwrap_err());
        assert_eq!(field, "--practice");
        assert!(message.contains("A81001 (Riverside Surgery)"), "{message}");
        assert!(message.contains("B82002 (Hill Top Practice)"), "{message}");
        let admin = SeatChoice {
            assigned: vec![],
            ..two()
        };
        assert!(choose(Backend::Postgres, None, &admin, "practice").is_err());
    }

    #[test]
    fn a_given_code_is_normalised_and_must_be_the_seats() {
        assert_eq!(
            choose(Backend::Postgres, Some(" b82 002 "), &two(), "practice").unwrap(),
            Some("B82002".into())
        );
        let alice = SeatChoice {
            choices: vec![p("A81001", "Riverside Surgery")],
            assigned: vec!["A81001".into()],
        };
        let (field, message) = field_message(
            choose(Backend::Postgres, Some("B82002"), &alice, "practice").unwrap_err(),
        );
        assert_eq!(field, "practice");
        assert!(
            message.contains("B82002 is not a practice this seat works for"),
            "{message}"
        );
        assert!(message.contains("A81001 (Riverside Surgery)"), "{message}");
        assert!(!message.contains("Hill Top"), "{message}");
    }

    #[test]
    fn a_seat_with_no_practice_is_told_to_ask() {
        for given in [None, Some("A81001")] {
            match choose(Backend::Postgres, given, &SeatChoice::default(), "practice") {
                Err(StoreError::PermissionDenied(d)) => {
                    assert_eq!(d.kind, DeniedKind::NoPractice);
                    assert!(!d.to_string().contains("A81001"), "{d}");
                }
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    }
}
