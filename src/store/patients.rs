//! Patients: create, read, change, delete and search.

use super::db::{self, params, Conn, OptionalExtension, Row, ToValue, Value};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::audit::{self, AuditAction, AuditEntity};
use super::{clean_actor, clean_line, parse_ts, ts, Store, StoreError, StoreResult};
use crate::nhs_number::NhsNumber;

/// A patient as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Patient {
    /// Store id.
    #[ts(type = "number")]
    pub id: i64,
    /// NHS number (validated), if known.
    pub nhs_number: Option<NhsNumber>,
    /// Name as the practice records it.
    pub name: String,
    /// Date of birth (`YYYY-MM-DD`), if known.
    #[ts(as = "Option<String>")]
    pub date_of_birth: Option<NaiveDate>,
    /// The practice's own identifier for the patient, if any.
    pub local_id: Option<String>,
    /// When the record was created.
    #[ts(as = "String")]
    pub created_at: DateTime<Utc>,
    /// When the patient's details last changed.
    #[ts(as = "String")]
    pub updated_at: DateTime<Utc>,
    /// On a team store, the ODS code of the patient's practice (a seat of
    /// several practices may see two same-named patients, one at each).
    /// `None` in a SQLite file, which holds one practice's data and records
    /// no code (migration 0011).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub practice_code: Option<String>,
}

/// A patient in a search result or list, with review activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PatientSummary {
    /// The patient.
    #[serde(flatten)]
    #[ts(flatten)]
    pub patient: Patient,
    /// Number of reviews (consultations).
    #[ts(type = "number")]
    pub review_count: i64,
    /// When a review of this patient was last saved, if ever.
    #[ts(as = "Option<String>")]
    pub last_saved_at: Option<DateTime<Utc>>,
}

/// Patient details as entered. Text fields are validated and trimmed by the
/// store; the error names the field (`nhs_number: …`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct PatientInput {
    /// Required.
    pub name: String,
    /// Optional; spaces and hyphens allowed (`943 476 5919`); modulus-11 checked.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub nhs_number: Option<String>,
    /// Optional, `YYYY-MM-DD`; not in the future.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub date_of_birth: Option<String>,
    /// Optional practice identifier; unique in the practice.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub local_id: Option<String>,
    /// On a team store, the ODS code of the practice a new patient belongs
    /// to (one of `Store::seat_practices`); needed when the seat works for
    /// several. Refused on a SQLite file. Ignored on update: a patient's
    /// practice never changes.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub practice: Option<String>,
}

/// Validated input.
struct ValidPatient {
    name: String,
    nhs_number: Option<NhsNumber>,
    date_of_birth: Option<NaiveDate>,
    local_id: Option<String>,
}

fn blank_to_none(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl PatientInput {
    fn validate(&self, today: NaiveDate) -> StoreResult<ValidPatient> {
        let name = clean_line("name", &self.name, 200, true)?;
        let nhs_number = blank_to_none(&self.nhs_number)
            .map(|s| {
                NhsNumber::parse(s).map_err(|e| StoreError::invalid("nhs_number", e.to_string()))
            })
            .transpose()?;
        let date_of_birth = match blank_to_none(&self.date_of_birth) {
            None => None,
            Some(s) => {
                let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                    StoreError::invalid(
                        "date_of_birth",
                        format!("must be a real date written YYYY-MM-DD (got {s:?})"),
                    )
                })?;
                if d > today {
                    return Err(StoreError::invalid(
                        "date_of_birth",
                        format!("is in the future ({d}; today is {today})"),
                    ));
                }
                if d.year() < 1880 {
                    return Err(StoreError::invalid(
                        "date_of_birth",
                        format!("{d} is implausibly early; check the year"),
                    ));
                }
                Some(d)
            }
        };
        let local_id = match blank_to_none(&self.local_id) {
            None => None,
            Some(s) => Some(clean_line("local_id", s, 64, true)?),
        };
        Ok(ValidPatient {
            name,
            nhs_number,
            date_of_birth,
            local_id,
        })
    }
}

// `practice_code` exists in both schemas (SQLite's migration 0011); no
// SQLite path writes it, so a file's patients read back `None`.
pub(crate) const COLUMNS: &str = "p.id, p.nhs_number, p.name, p.date_of_birth, p.local_id, \
     p.created_at, p.updated_at, p.practice_code";

/// Reads a patient from the first eight columns ([`COLUMNS`]). Values the
/// schema's checks should have made impossible are reported as damaged data.
pub(crate) fn from_row(r: &Row<'_>) -> db::Result<StoreResult<Patient>> {
    let id: i64 = r.get(0)?;
    let nhs: Option<String> = r.get(1)?;
    let dob: Option<String> = r.get(3)?;
    let created: String = r.get(5)?;
    let updated: String = r.get(6)?;
    let what = format!("patient {id}");
    let build = || -> StoreResult<Patient> {
        let nhs_number = nhs
            .as_deref()
            .map(|s| {
                NhsNumber::parse(s).map_err(|e| StoreError::BadRecord {
                    what: what.clone(),
                    detail: format!("NHS number {e}"),
                })
            })
            .transpose()?;
        let date_of_birth = dob
            .as_deref()
            .map(|s| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| StoreError::BadRecord {
                    what: what.clone(),
                    detail: format!("date of birth {s:?} ({e})"),
                })
            })
            .transpose()?;
        Ok(Patient {
            id,
            nhs_number,
            name: r.get(2)?,
            date_of_birth,
            local_id: r.get(4)?,
            created_at: parse_ts(&created, &what)?,
            updated_at: parse_ts(&updated, &what)?,
            practice_code: r.get(7)?,
        })
    };
    Ok(build())
}

pub(crate) fn get(conn: &Conn, id: i64) -> StoreResult<Patient> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM patients p WHERE p.id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            entity: "patient".into(),
            id,
        })?
}

/// Refuses an NHS number or local id that another patient of the same
/// practice already has, naming that patient's id (not their name: the
/// message may be logged). On a team store the same NHS number may be at
/// two practices (a patient who moved is a new record at the new
/// practice): `practice` limits the check to one; `None` in a SQLite file.
fn check_unique(
    conn: &Conn,
    p: &ValidPatient,
    except: Option<i64>,
    practice: Option<&str>,
) -> StoreResult<()> {
    let (in_practice, mut values) = match practice {
        Some(code) => (
            " AND practice_code = ?3",
            vec![Value::Null, Value::Null, Value::Text(code.to_string())],
        ),
        None => ("", vec![Value::Null, Value::Null]),
    };
    values[1] = except.map_or(Value::Null, Value::Integer);
    if let Some(n) = &p.nhs_number {
        values[0] = Value::Text(n.as_str().to_string());
        let other: Option<i64> = conn
            .prepare_cached(&format!(
                "SELECT id FROM patients WHERE nhs_number = ?1 AND id IS DISTINCT FROM ?2{in_practice}"
            ))?
            .query_row(values.clone(), |r| r.get(0))
            .optional()?;
        if let Some(other) = other {
            return Err(StoreError::invalid(
                "nhs_number",
                format!("{n} is already recorded for patient {other}"),
            ));
        }
    }
    if let Some(l) = &p.local_id {
        values[0] = Value::Text(l.clone());
        let other: Option<i64> = conn
            .prepare_cached(&format!(
                "SELECT id FROM patients WHERE {} AND id IS DISTINCT FROM ?2{in_practice}",
                conn.dialect().nocase_eq("local_id", "?1")
            ))?
            .query_row(values, |r| r.get(0))
            .optional()?;
        if let Some(other) = other {
            return Err(StoreError::invalid(
                "local_id",
                format!("{l:?} is already used by patient {other}"),
            ));
        }
    }
    Ok(())
}

/// The practice of a stored patient (`None` in a SQLite file, which has no codes).
fn practice_of(conn: &Conn, id: i64) -> StoreResult<Option<String>> {
    if conn.backend() == db::Backend::Sqlite {
        return Ok(None);
    }
    conn.prepare_cached("SELECT practice_code FROM patients WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            entity: "patient".into(),
            id,
        })
}

pub(crate) fn create_in(
    conn: &Conn,
    input: &PatientInput,
    actor: &str,
    now: DateTime<Utc>,
) -> StoreResult<Patient> {
    let p = input.validate(now.date_naive())?;
    // On a team store, the practice given or the seat's only one, written
    // explicitly (the server's default covers only a seat of one practice).
    let practice = super::practices::resolve(conn, input.practice.as_deref(), "practice")?;
    check_unique(conn, &p, None, practice.as_deref())?;
    let mut values = vec![
        p.nhs_number.as_ref().map(NhsNumber::as_str).to_value(),
        Value::Text(p.name.clone()),
        p.date_of_birth.map(|d| d.to_string()).to_value(),
        p.local_id.to_value(),
        Value::Text(ts(now)),
    ];
    let sql = match &practice {
        Some(code) => {
            values.push(Value::Text(code.clone()));
            "INSERT INTO patients (nhs_number, name, date_of_birth, local_id, created_at, updated_at,
                                   practice_code)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
             RETURNING id"
        }
        None => {
            "INSERT INTO patients (nhs_number, name, date_of_birth, local_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             RETURNING id"
        }
    };
    let id: i64 = conn.prepare_cached(sql)?.query_row(values, |r| r.get(0))?;
    audit::append(
        conn,
        now,
        actor,
        AuditAction::Create,
        AuditEntity::Patient,
        Some(id),
        Some(id),
        &format!("patient {id} created"),
    )?;
    get(conn, id)
}

impl Store {
    /// Adds a patient.
    pub fn create_patient(&mut self, input: &PatientInput, actor: &str) -> StoreResult<Patient> {
        let actor = clean_actor(actor)?;
        self.write(|tx, now| create_in(tx, input, &actor, now))
    }

    /// One patient.
    pub fn patient(&self, id: i64) -> StoreResult<Patient> {
        get(&self.conn, id)
    }

    /// Replaces a patient's details. The audit entry lists which fields changed.
    pub fn update_patient(
        &mut self,
        id: i64,
        input: &PatientInput,
        actor: &str,
    ) -> StoreResult<Patient> {
        let actor = clean_actor(actor)?;
        self.write(|tx, now| {
            let before = get(tx, id)?;
            let p = input.validate(now.date_naive())?;
            // The patient's own practice: it never changes (a practice
            // given with the details is not used here).
            check_unique(tx, &p, Some(id), practice_of(tx, id)?.as_deref())?;
            let mut changed = Vec::new();
            if before.name != p.name {
                changed.push("name");
            }
            if before.nhs_number != p.nhs_number {
                changed.push("nhs_number");
            }
            if before.date_of_birth != p.date_of_birth {
                changed.push("date_of_birth");
            }
            if before.local_id != p.local_id {
                changed.push("local_id");
            }
            if changed.is_empty() {
                return Ok(before);
            }
            tx.prepare_cached(
                "UPDATE patients SET nhs_number = ?2, name = ?3, date_of_birth = ?4,
                        local_id = ?5, updated_at = ?6
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                p.nhs_number.as_ref().map(NhsNumber::as_str),
                p.name,
                p.date_of_birth.map(|d| d.to_string()),
                p.local_id,
                ts(now)
            ])?;
            audit::append(
                tx,
                now,
                &actor,
                AuditAction::Change,
                AuditEntity::Patient,
                Some(id),
                Some(id),
                &format!("patient {id} changed: {}", changed.join(", ")),
            )?;
            get(tx, id)
        })
    }

    /// Deletes a patient with all their reviews and leaflet records. The
    /// audit log keeps a record that this happened (without the details).
    pub fn delete_patient(&mut self, id: i64, actor: &str) -> StoreResult<()> {
        let actor = clean_actor(actor)?;
        self.write(|tx, now| {
            get(tx, id)?;
            let (reviews, versions): (i64, i64) = tx.query_row(
                "SELECT count(DISTINCT r.id), count(v.id)
                 FROM reviews r LEFT JOIN review_versions v ON v.review_id = r.id
                 WHERE r.patient_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            tx.execute("DELETE FROM patients WHERE id = ?1", [id])?;
            audit::append(
                tx,
                now,
                &actor,
                AuditAction::Delete,
                AuditEntity::Patient,
                Some(id),
                Some(id),
                &format!(
                    "patient {id} deleted with {reviews} review(s) ({versions} saved version(s))"
                ),
            )?;
            Ok(())
        })
    }

    /// Finds patients by name, NHS number or local identifier.
    ///
    /// A query of digits (spaces and hyphens allowed) also matches NHS
    /// numbers that start with those digits. Otherwise each word must appear
    /// in the name (anywhere, any case) or begin the local identifier, so
    /// "smith jo" finds "Jo Smith". An empty query lists everyone. Sorted by
    /// name; at most `limit` results (1–1,000).
    pub fn search_patients(&self, query: &str, limit: u32) -> StoreResult<Vec<PatientSummary>> {
        let query = query.trim();
        if query.chars().count() > 200 {
            return Err(StoreError::invalid(
                "query",
                "must be at most 200 characters",
            ));
        }
        let limit = limit.clamp(1, 1000);
        let mut conditions = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let like = self.conn.dialect().like_nocase();
        let digits: String = query.chars().filter(char::is_ascii_digit).collect();
        let looks_numeric = !digits.is_empty()
            && query
                .chars()
                .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
        if looks_numeric {
            values.push(Value::Text(format!("{digits}%")));
            values.push(Value::Text(format!("{}%", like_escape(query))));
            let (a, b) = (values.len() - 1, values.len());
            conditions.push(format!(
                "(p.nhs_number LIKE ?{a} OR p.local_id {like} ?{b} ESCAPE '\\')"
            ));
        } else {
            for word in query.split_whitespace().take(8) {
                values.push(Value::Text(format!("%{}%", like_escape(word))));
                values.push(Value::Text(format!("{}%", like_escape(word))));
                let (a, b) = (values.len() - 1, values.len());
                conditions.push(format!(
                    "(p.name {like} ?{a} ESCAPE '\\' OR p.local_id {like} ?{b} ESCAPE '\\')"
                ));
            }
        }
        let where_clause = if conditions.is_empty() {
            "1 = 1".to_string()
        } else {
            conditions.join(" AND ")
        };
        values.push(Value::Integer(i64::from(limit)));
        let limit_param = values.len();
        let order = self.conn.dialect().order_nocase("p.name");
        // Placeholders only: the query text never becomes SQL.
        let sql = format!(
            "SELECT {COLUMNS},
                    (SELECT count(*) FROM reviews r WHERE r.patient_id = p.id),
                    (SELECT max(v.saved_at) FROM reviews r
                       JOIN review_versions v ON v.review_id = r.id
                      WHERE r.patient_id = p.id)
             FROM patients p
             WHERE {where_clause}
             ORDER BY {order}, p.id
             LIMIT ?{limit_param}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(values, |r| {
            let patient = from_row(r)?;
            let count: i64 = r.get(8)?;
            let last: Option<String> = r.get(9)?;
            Ok((patient, count, last))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (patient, review_count, last) = row?;
            let patient = patient?;
            let last_saved_at = last
                .as_deref()
                .map(|s| parse_ts(s, &format!("patient {} reviews", patient.id)))
                .transpose()?;
            out.push(PatientSummary {
                patient,
                review_count,
                last_saved_at,
            });
        }
        Ok(out)
    }

    /// Number of patients in the store.
    pub fn patient_count(&self) -> StoreResult<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM patients", (), |r| r.get(0))?)
    }
}

/// Escapes LIKE wildcards so user text matches literally.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
