//! Whose practice a leaflet or summary prints: a patient's own.
//!
//! A SQLite file holds one practice: its details are the store-wide
//! settings (`practice_name`, `practice_phone`, `practice_address`), as
//! before. A team store holds several: each practice's row carries its own
//! name, phone and address (migrations_pg/0008), written only by admins and
//! audited by the server, and a patient's leaflet prints the details of the
//! patient's practice, never the settings' or another practice's (a patient
//! told to ring the wrong surgery is harmed).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::db::{self, params, Backend, Conn, OptionalExtension, Row};
use super::practices::{normalise_code, resolve, seat_choice};
use super::settings::PracticeFields;
use super::{clean_actor, Patient, Store, StoreError, StoreResult};

/// A practice's details as leaflets and summaries print them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PracticeContact {
    /// ODS code on a team store; `None` for a SQLite file's one practice,
    /// whose details are the settings'.
    #[ts(optional = nullable)]
    pub code: Option<String>,
    /// Name (empty: not set yet, SQLite only).
    pub name: String,
    /// Phone number (empty: not set yet).
    pub phone: String,
    /// Address, possibly on several lines (empty: not set).
    pub address: String,
}

/// One practice's details as an administrator sets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct PracticeContactInput {
    /// Name (required: every practice of a team store has one).
    pub practice_name: String,
    /// Phone number printed on leaflets: digits, spaces, + - ( ); 7 to 15 digits.
    pub practice_phone: String,
    /// Address (may span lines).
    pub practice_address: String,
}

impl PracticeContactInput {
    /// The rules of the settings (one set: [`PracticeFields`]), and a name.
    fn validated(&self) -> StoreResult<PracticeFields> {
        let fields = PracticeFields {
            name: self.practice_name.clone(),
            phone: self.practice_phone.clone(),
            address: self.practice_address.clone(),
        }
        .validated()?;
        if fields.name.is_empty() {
            return Err(StoreError::invalid(
                "practice_name",
                "must not be empty: every practice of a team store has a name",
            ));
        }
        Ok(fields)
    }
}

const SELECT: &str = "SELECT code, name, phone, address FROM practices";

fn row(r: &Row<'_>) -> db::Result<PracticeContact> {
    Ok(PracticeContact {
        code: Some(r.get(0)?),
        name: r.get(1)?,
        phone: r.get(2)?,
        address: r.get(3)?,
    })
}

/// One practice's row on a team store.
fn read(conn: &Conn, code: &str) -> StoreResult<PracticeContact> {
    conn.prepare_cached(&format!("{SELECT} WHERE code = ?1"))?
        .query_row([code], row)
        .optional()?
        .ok_or_else(|| {
            StoreError::invalid(
                "practice",
                format!("there is no practice {code} in this store"),
            )
        })
}

/// The SQLite file's one practice: the settings.
fn from_settings(conn: &Conn) -> StoreResult<PracticeContact> {
    let s = super::settings::read(conn)?;
    Ok(PracticeContact {
        code: None,
        name: s.practice_name,
        phone: s.practice_phone,
        address: s.practice_address,
    })
}

impl Store {
    /// The details of every practice this seat works for, ordered by code (an
    /// admin: every practice; a pharmacist: its own, never what else the
    /// store holds). On a SQLite file, its one practice from the settings.
    pub fn practice_contacts(&self) -> StoreResult<Vec<PracticeContact>> {
        if self.backend() == Backend::Sqlite {
            return Ok(vec![from_settings(&self.conn)?]);
        }
        seat_choice(&self.conn)?
            .choices
            .iter()
            .map(|p| read(&self.conn, &p.code))
            .collect()
    }

    /// One practice's details on a team store (`code` in any case, spaces
    /// ignored; one of the seat's practices). On a SQLite file a code is
    /// refused (it has none; its details are the settings).
    pub fn practice_contact(&self, code: &str) -> StoreResult<PracticeContact> {
        let code = self.checked_code(code)?;
        read(&self.conn, &code)
    }

    /// Sets one practice's details on a team store: validated as the
    /// settings are (errors name `practice_name`, `practice_phone`,
    /// `practice_address`), written by an administrator only (the server's
    /// grants; a pharmacist is refused, permission denied), and audited by
    /// the server in that practice's part of the log, naming the fields
    /// changed with `actor`. Returns the details as stored. On a SQLite file
    /// a code is refused: set the settings instead.
    pub fn set_practice_contact(
        &mut self,
        code: &str,
        input: &PracticeContactInput,
        actor: &str,
    ) -> StoreResult<PracticeContact> {
        let actor = clean_actor(actor)?;
        let fields = input.validated()?;
        let code = self.checked_code(code)?;
        let out = self.write(|tx, _now| {
            // The server's audit trigger names this actor (transaction-local).
            tx.query_row(
                "SELECT set_config('stepdown.actor', ?1, true)",
                [actor.as_str()],
                |r| r.get::<String>(0),
            )?;
            tx.prepare_cached(
                "UPDATE practices SET name = ?1, phone = ?2, address = ?3 WHERE code = ?4",
            )?
            .execute(params![fields.name, fields.phone, fields.address, code])?;
            read(tx, &code)
        });
        out.map_err(|e| match e {
            StoreError::PermissionDenied(mut denied) => {
                denied.record = format!("the details of practice {code}");
                StoreError::PermissionDenied(denied)
            }
            other => other,
        })
    }

    /// The practice a patient's leaflet and summary print: on a team store
    /// the patient's own practice's row, never the settings or another
    /// practice; on a SQLite file the settings.
    pub fn patient_practice_contact(&self, patient: &Patient) -> StoreResult<PracticeContact> {
        if self.backend() == Backend::Sqlite {
            return from_settings(&self.conn);
        }
        let code = patient
            .practice_code
            .as_deref()
            .ok_or_else(|| StoreError::BadRecord {
                what: format!("patient {}", patient.id),
                detail: "has no practice on a team store".into(),
            })?;
        read(&self.conn, code)
    }

    /// `code` normalised and one of the seat's practices (the rule of
    /// `practices::choose`: refused on SQLite, a field error naming the
    /// seat's own practices otherwise).
    fn checked_code(&self, code: &str) -> StoreResult<String> {
        let given = normalise_code(Some(code))
            .ok_or_else(|| StoreError::invalid("practice", "give the practice's ODS code"))?;
        resolve(&self.conn, Some(&given), "practice")?
            .ok_or_else(|| StoreError::invalid("practice", "give the practice's ODS code"))
    }
}
