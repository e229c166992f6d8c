//! A second (third, …) practice's SQLite store moved into a team store whose
//! audit log has begun with other practices' history (`stepdown
//! migrate-store`, issue 19). The first practice keeps its ids and its
//! chain (migrate.rs); here both must fit around what the server holds:
//! - every record gets a new id, the source's id plus one offset per table
//!   (larger than any id the server has issued), so references are renumbered
//!   by the same rule and keep their order; case-finding texts, shared by all
//!   practices and unique by content, map to the server's row of the same
//!   text where there is one;
//! - the source's audit entries are appended to the server's one chain, in
//!   their order, as new entries (new ids and hashes, given by the server)
//!   with the same time, actor, action, entity and summary, record ids
//!   renumbered, all in the practice's part of the log; then one entry
//!   records the move: the source's own chain head (entries, newest id and
//!   hash), the file's SHA-256, where its entries now are and the offsets, so
//!   the original chain can be checked again from the source file.
//!
//! Everything runs in the caller's transaction (the audit head already
//! locked) and is verified before it commits: each table's rows on the
//! server equal to the rows sent (the source's, renumbered), the appended
//! entries equal to the source's modulo the renumbering and their hashes
//! walked here, and the server's own `stepdown_audit_verify()` sound.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::audit::{self, ChainContent};
use super::db::{Conn, Value};
use super::migrate::{
    chain_check_failed, practice_rows, quote, refuse, refuse_held_rows, server_chain, source_head,
    target_columns, Batch, Copied, MigratedHead, SourceTable, TableCopied, TABLES,
};
use super::{StoreError, StoreResult};

/// Who the entry recording the move names as its actor.
const ACTOR: &str = "stepdown migrate-store";

/// Copied tables whose ids are not renumbered: they have none of their own
/// (case-finding issues, summaries and state are keyed by others' ids), or
/// are not copied row by row (settings; the audit log is appended).
const NOT_RENUMBERED: &[&str] = &[
    "cf_issues",
    "cf_summaries",
    "cf_state",
    "settings",
    "audit_log",
];

/// Tables whose ids are renumbered by an offset (cf_texts too, for the texts
/// the server does not hold yet), in the order they are copied.
fn renumbered() -> impl Iterator<Item = &'static str> {
    TABLES
        .iter()
        .copied()
        .filter(|t| !NOT_RENUMBERED.contains(t))
}

/// Keys (ids, or extract patient ids) read back from the server at a time:
/// about 30,000 issues for a range of extract patients.
const READ_BACK_RANGE: i64 = 2_000;

/// How a column refers to another row.
#[derive(Clone, Copy)]
enum Ref {
    /// The id of a row of this table.
    Id(&'static str),
    /// A bound of that table's ids (an import's first patient and text):
    /// renumbered by the offset, whether or not a row has it.
    Bound(&'static str),
}

/// Every column of a copied table that holds another row's id. A source
/// column ending in `_id` that is not here (nor the row's own id, nor an
/// extract's identifier) refuses the merge: it could not be renumbered.
const REFS: &[(&str, &str, Ref)] = &[
    ("reviews", "patient_id", Ref::Id("patients")),
    ("review_versions", "review_id", Ref::Id("reviews")),
    (
        "leaflet_prints",
        "review_version_id",
        Ref::Id("review_versions"),
    ),
    ("follow_ups", "review_id", Ref::Id("reviews")),
    ("review_drafts", "review_id", Ref::Id("reviews")),
    ("cf_imports", "first_patient_id", Ref::Bound("cf_patients")),
    ("cf_imports", "first_text_id", Ref::Bound("cf_texts")),
    ("cf_issues", "patient_id", Ref::Id("cf_patients")),
    ("cf_issues", "drug_id", Ref::Id("cf_texts")),
    ("cf_issues", "dose_id", Ref::Id("cf_texts")),
    ("cf_issues", "import_id", Ref::Id("cf_imports")),
    ("cf_summaries", "patient_id", Ref::Id("cf_patients")),
];

/// `_id` columns that are not ids of rows: the extract's identifier of a
/// patient and the practice's own (its clinical system's number).
const NOT_REFS: &[&str] = &["extract_id", "local_id"];

/// How one table's ids were renumbered: the new id is the source's plus
/// `offset`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IdOffset {
    /// The table.
    pub table: String,
    /// Added to each source id.
    pub offset: i64,
}

/// What a merge did besides copying: how to find the source's history and
/// records on the server, and how to check them against the source file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Merged {
    /// SHA-256 (hex) of the source file as read.
    pub file_sha256: String,
    /// The source's own chain head, verified before the copy.
    pub source_head: MigratedHead,
    /// The server's ids of the source's entries: source entry k (in id
    /// order, from 1) is server entry `first_entry_id + k - 1`.
    pub first_entry_id: Option<i64>,
    /// The last of them.
    pub last_entry_id: Option<i64>,
    /// The entry recording the move (source head, file hash, offsets).
    pub record_entry_id: i64,
    /// Per renumbered table.
    pub id_offsets: Vec<IdOffset>,
    /// Source texts the server held already (same text): their rows are the
    /// server's, not copies.
    pub texts_shared: i64,
    /// Source settings not copied because settings are store-wide and the
    /// server's are kept: keys the server lacks or has another value for.
    pub settings_not_copied: Vec<String>,
}

/// The renumbering.
struct IdMap {
    offsets: HashMap<&'static str, i64>,
    /// Source text id to server text id.
    texts: HashMap<i64, i64>,
}

impl IdMap {
    fn offset(&self, table: &str, id: i64) -> Option<i64> {
        self.offsets.get(table).and_then(|o| id.checked_add(*o))
    }

    fn id(&self, table: &str, id: i64) -> Option<i64> {
        if table == "cf_texts" {
            self.texts.get(&id).copied()
        } else {
            self.offset(table, id)
        }
    }
}

fn bad(what: String, detail: impl Into<String>) -> StoreError {
    StoreError::BadRecord {
        what,
        detail: detail.into(),
    }
}

/// Copies the source into a store holding other practices' history; the
/// caller holds the audit head's lock and commits.
pub(super) fn merge_all(
    src: &rusqlite::Connection,
    tx: &Conn,
    practice: &str,
    from: &Path,
) -> StoreResult<(Copied, Merged)> {
    let file_sha256 = file_sha256(from)?;
    // No seat writes a copied table while the ids are chosen and used (reads
    // go on); the head's lock already queues every seat's audited write.
    tx.execute_batch(&format!(
        "LOCK TABLE {} IN EXCLUSIVE MODE",
        TABLES
            .iter()
            .filter(|t| **t != "settings")
            .map(|t| quote(t))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    refuse_held(tx, practice)?;
    refuse_unfinished(src)?;
    let source_head = source_chain(src)?;

    let practice_created = super::migrate::create_practice(src, tx, practice)?;

    let mut map = IdMap {
        offsets: HashMap::new(),
        texts: HashMap::new(),
    };
    let mut id_offsets = Vec::new();
    for table in renumbered() {
        let offset = next_free(tx, table)?;
        map.offsets.insert(table, offset);
        id_offsets.push(IdOffset {
            table: table.to_string(),
            offset,
        });
    }
    let mut texts_shared = 0;
    let mut tables = Vec::new();
    for &table in TABLES {
        if table == "settings" || table == "audit_log" {
            continue;
        }
        let rows = if table == "cf_texts" {
            let (rows, shared) = copy_texts(src, tx, &mut map)?;
            texts_shared = shared;
            rows
        } else {
            copy_table(src, tx, table, practice, &map)?
        };
        tables.push(TableCopied {
            table: table.to_string(),
            rows,
        });
    }
    // Identity columns continue after the renumbered ids (never back over
    // an id given before).
    for table in renumbered() {
        tx.execute(
            &format!(
                "SELECT setval(s.seq, s.v) FROM (SELECT pg_get_serial_sequence(?1, 'id') AS seq, \
                 greatest((SELECT max(id) FROM {}), \
                 pg_sequence_last_value(pg_get_serial_sequence(?1, 'id')::regclass)) AS v) s \
                 WHERE s.v IS NOT NULL",
                quote(table)
            ),
            vec![Value::Text(table.to_string())],
        )?;
    }
    let settings_not_copied = settings_not_copied(src, tx)?;
    tables.push(TableCopied {
        table: "settings".into(),
        rows: 0,
    });

    let (entries, first_entry_id, last_entry_id, record_entry_id, head) = append_history(
        src,
        tx,
        practice,
        &map,
        &source_head,
        &file_sha256,
        &id_offsets,
        texts_shared,
        &settings_not_copied,
    )?;
    tables.push(TableCopied {
        table: "audit_log".into(),
        rows: entries,
    });
    if file_sha256 != self::file_sha256(from)? {
        return Err(StoreError::Database(format!(
            "{} changed while it was copied, so nothing was copied (the server's transaction \
             was rolled back): close every Stepdown using it and migrate again",
            from.display()
        )));
    }
    Ok((
        (practice_created, tables, head),
        Merged {
            file_sha256,
            source_head,
            first_entry_id,
            last_entry_id,
            record_entry_id,
            id_offsets,
            texts_shared,
            settings_not_copied,
        },
    ))
}

fn file_sha256(path: &Path) -> StoreResult<String> {
    let what = || format!("reading {} to hash it", path.display());
    let mut f = std::fs::File::open(path).map_err(|e| StoreError::io(what(), e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| StoreError::io(what(), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Refused: the server holding records of this practice already (a second
/// migration of it, or work begun there): records are not merged.
fn refuse_held(tx: &Conn, practice: &str) -> StoreResult<()> {
    for &table in TABLES {
        let has_practice = target_columns(tx, table)?
            .iter()
            .any(|(c, _)| c == "practice_code");
        if has_practice && table != "audit_log" {
            refuse_held_rows(tx, table, practice)?;
        }
    }
    Ok(())
}

/// Refused: an import stopped part-way, whose ranges of patient and text ids
/// (to be removed by the next import) would mean nothing after renumbering.
fn refuse_unfinished(src: &rusqlite::Connection) -> StoreResult<()> {
    let unfinished: Option<i64> = src
        .query_row(
            "SELECT min(id) FROM cf_imports WHERE published = 0",
            [],
            |r| r.get(0),
        )
        .map_err(StoreError::from)?;
    if let Some(id) = unfinished {
        return Err(refuse(
            "from",
            format!(
                "the source's case-finding import {id} stopped part-way: open the store with \
                 this Stepdown and import again (which removes it) before migrating it"
            ),
        ));
    }
    Ok(())
}

/// The source's chain walked here (as `check` did) and its head: what the
/// entry recording the move names.
fn source_chain(src: &rusqlite::Connection) -> StoreResult<MigratedHead> {
    let mut stmt = src.prepare(
        "SELECT id, at, actor, action, entity, entity_id, patient_id, summary, chain_hash \
         FROM audit_log ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev: Option<String> = None;
    let (mut entries, mut last_id) = (0i64, 0i64);
    while let Some(r) = rows.next()? {
        let e = SourceEntry::read(r)?;
        let expected = audit::chain_hash(prev.as_deref(), &e.content(e.id));
        if e.chain_hash.as_deref() != Some(expected.as_str()) {
            return Err(refuse(
                "from",
                format!(
                    "the source's audit entry {} does not follow the entry before it: its \
                     chain is broken, so it is not migrated",
                    e.id
                ),
            ));
        }
        prev = e.chain_hash;
        entries += 1;
        last_id = e.id;
    }
    // The head, where the source has one, must be where the log ends (else
    // its newest entries were removed).
    if let Some(h) = source_head(src)? {
        if h != (entries, last_id, prev.clone()) {
            return Err(refuse(
                "from",
                format!(
                    "the source's audit head ({} entries to id {}) is not where its log ends \
                     ({entries} entries to id {last_id}), so it is not migrated",
                    h.0, h.1
                ),
            ));
        }
    }
    Ok(MigratedHead {
        entries,
        last_id,
        chain_hash: prev,
    })
}

/// One audit entry of the source.
struct SourceEntry {
    id: i64,
    at: String,
    actor: String,
    action: String,
    entity: String,
    entity_id: Option<i64>,
    patient_id: Option<i64>,
    summary: String,
    chain_hash: Option<String>,
}

impl SourceEntry {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<SourceEntry> {
        Ok(SourceEntry {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            entity: r.get(4)?,
            entity_id: r.get(5)?,
            patient_id: r.get(6)?,
            summary: r.get(7)?,
            chain_hash: r.get(8)?,
        })
    }

    fn content(&self, id: i64) -> ChainContent<'_> {
        ChainContent {
            id,
            at: &self.at,
            actor: &self.actor,
            action: &self.action,
            entity: &self.entity,
            entity_id: self.entity_id,
            patient_id: self.patient_id,
            summary: &self.summary,
        }
    }

    /// Record ids renumbered: the patient, and the record by its kind.
    fn renumbered(mut self, map: &IdMap) -> StoreResult<SourceEntry> {
        let what = || format!("audit_log id {}", self.id);
        let table = match self.entity.as_str() {
            "patient" => Some("patients"),
            "review" => Some("reviews"),
            "leaflet" => Some("leaflet_prints"),
            "worklist-claim" => Some("cf_claims"),
            "casefinding-import" => Some("cf_imports"),
            "settings" | "store" => None,
            other => {
                return Err(bad(
                    what(),
                    format!("entity {other:?} is not one this Stepdown can renumber"),
                ))
            }
        };
        if let Some(id) = self.entity_id {
            let Some(table) = table else {
                return Err(bad(
                    what(),
                    format!(
                        "a {} entry names record {id}, which cannot be renumbered",
                        self.entity
                    ),
                ));
            };
            self.entity_id = Some(
                map.id(table, id)
                    .ok_or_else(|| bad(what(), "its record id is out of range"))?,
            );
        }
        if let Some(id) = self.patient_id {
            self.patient_id = Some(
                map.id("patients", id)
                    .ok_or_else(|| bad(what(), "its patient id is out of range"))?,
            );
        }
        Ok(self)
    }
}

/// The first id free in `table` on the server: past every row and every id
/// its sequence has given (a deleted row's id is never reused).
fn next_free(tx: &Conn, table: &str) -> StoreResult<i64> {
    Ok(tx.query_row(
        &format!(
            "SELECT greatest((SELECT coalesce(max(id), 0) FROM {}), \
             coalesce(pg_sequence_last_value(pg_get_serial_sequence(?1, 'id')::regclass), 0))",
            quote(table)
        ),
        vec![Value::Text(table.to_string())],
        |r| r.get::<i64>(0),
    )?)
}

/// A row's values in a form equal on both sides (an integral REAL read back
/// equals the integer sent).
fn digest(values: &[Value]) -> [u8; 32] {
    let mut h = Sha256::new();
    for v in values {
        match v {
            Value::Null => h.update([0]),
            Value::Integer(i) => {
                h.update([1]);
                h.update(i.to_le_bytes());
            }
            Value::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                h.update([1]);
                h.update((*f as i64).to_le_bytes());
            }
            Value::Real(f) => {
                h.update([2]);
                h.update(f.to_bits().to_le_bytes());
            }
            Value::Text(s) => {
                h.update([3]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
            Value::Blob(b) => {
                h.update([4]);
                h.update((b.len() as u64).to_le_bytes());
                h.update(b);
            }
        }
    }
    h.finalize().into()
}

/// One table of the practice: rows renumbered, sent, then read back and
/// compared. Returns the rows copied.
fn copy_table(
    src: &rusqlite::Connection,
    tx: &Conn,
    table: &'static str,
    practice: &str,
    map: &IdMap,
) -> StoreResult<i64> {
    let source = SourceTable::open(src, tx, table)?;
    if !source.kept_by_practice() {
        return Err(StoreError::MissingStructure(format!(
            "the server's {table} has no practice column: its rows cannot be kept apart"
        )));
    }
    let mut cols = source.cols.clone();
    let n_src = cols.len();
    // What each column becomes.
    let mut refs: Vec<Option<Ref>> = Vec::with_capacity(n_src);
    for c in &cols {
        let r = if c == "id" {
            Some(Ref::Id(table))
        } else {
            REFS.iter()
                .find(|(t, col, _)| *t == table && col == c)
                .map(|(_, _, r)| *r)
        };
        if r.is_none() && c.ends_with("_id") && !NOT_REFS.contains(&c.as_str()) {
            return Err(refuse(
                "from",
                format!(
                    "the source's {table}.{c} holds ids this Stepdown does not know how to \
                     renumber, so it cannot join a store in use: nothing was copied"
                ),
            ));
        }
        refs.push(r);
    }
    let is_draft = table == "review_drafts";
    let input_idx = cols.iter().position(|c| c == "input");
    cols.push("practice_code".to_string());
    let mut sent: Vec<([u8; 32], String)> = Vec::new();
    // The key the read-back pages by, and the range of it sent.
    let page_col = cols[..n_src]
        .iter()
        .position(|c| c == "id")
        .or_else(|| cols[..n_src].iter().position(|c| c == "patient_id"));
    let mut key_range: Option<(i64, i64)> = None;
    let mut batch = Batch::new(table, cols.clone());
    let mut stmt = src.prepare(&source.select())?;
    let mut rows = stmt.query([])?;
    let mut ordinal = 0i64;
    while let Some(row) = rows.next()? {
        ordinal += 1;
        let (mut values, key) = source.row(row, ordinal, practice)?;
        for (i, r) in refs.iter().enumerate() {
            let (Some(r), Value::Integer(id)) = (r, &values[i]) else {
                continue;
            };
            let mapped = match r {
                Ref::Id(t) => map.id(t, *id),
                Ref::Bound(t) => map.offset(t, *id),
            };
            values[i] = Value::Integer(mapped.ok_or_else(|| {
                bad(
                    format!("{table} {key}"),
                    format!("{} {id} names no row that could be renumbered", cols[i]),
                )
            })?);
        }
        if is_draft {
            if let Some(i) = input_idx {
                if let Value::Text(doc) = &values[i] {
                    values[i] = Value::Text(renumber_draft(doc, map, &format!("{table} {key}"))?);
                }
            }
        }
        values.push(Value::Text(practice.to_string()));
        if let Some(Value::Integer(k)) = page_col.and_then(|i| values.get(i)) {
            key_range = Some(key_range.map_or((*k, *k), |(lo, hi)| (lo.min(*k), hi.max(*k))));
        }
        sent.push((digest(&values), key.clone()));
        batch.push(tx, key, values)?;
    }
    batch.flush(tx)?;
    drop(rows);

    // Read back: the practice's rows on the server are exactly those sent.
    // A range of keys at a time (ids, else extract patients), so that only
    // a page of a large table is held at once.
    let mut on_server: Vec<[u8; 32]> = Vec::with_capacity(sent.len());
    let list = cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    let page = |sql: &str, params: Vec<Value>, out: &mut Vec<[u8; 32]>| -> StoreResult<()> {
        let mut stmt = tx.prepare(sql)?;
        let mut rows = stmt.query(params)?;
        while let Some(r) = rows.next()? {
            let values = (0..cols.len())
                .map(|i| r.value(i))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(digest(&values));
        }
        Ok(())
    };
    let held = practice_rows(tx, table, practice)?;
    match (page_col, key_range) {
        (Some(col), Some((lo, hi))) => {
            let sql = format!(
                "SELECT {list} FROM {} WHERE practice_code = ?1 AND {k} >= ?2 AND {k} < ?3",
                quote(table),
                k = quote(&cols[col])
            );
            let mut from = lo;
            while from <= hi {
                let to = from.saturating_add(READ_BACK_RANGE);
                page(
                    &sql,
                    vec![
                        Value::Text(practice.to_string()),
                        Value::Integer(from),
                        Value::Integer(to),
                    ],
                    &mut on_server,
                )?;
                from = to;
            }
        }
        _ => page(
            &format!(
                "SELECT {list} FROM {} WHERE practice_code = ?1",
                quote(table)
            ),
            vec![Value::Text(practice.to_string())],
            &mut on_server,
        )?,
    }
    if held != on_server.len() as i64 {
        return Err(StoreError::Database(format!(
            "{table}: the server holds {held} rows of practice {practice} but {} were read \
             back; nothing was copied (the server's transaction was rolled back)",
            on_server.len()
        )));
    }
    let copied = sent.len() as i64;
    if on_server.len() != sent.len() {
        return Err(StoreError::Database(format!(
            "{table}: {copied} rows copied but the server holds {} of practice {practice}; \
             nothing was copied (the server's transaction was rolled back)",
            on_server.len()
        )));
    }
    let mut want: Vec<[u8; 32]> = sent.iter().map(|(d, _)| *d).collect();
    want.sort_unstable();
    on_server.sort_unstable();
    if want != on_server {
        let held: HashSet<[u8; 32]> = on_server.into_iter().collect();
        let key = sent
            .iter()
            .find(|(d, _)| !held.contains(d))
            .map_or_else(|| "a row".to_string(), |(_, k)| k.clone());
        return Err(StoreError::Database(format!(
            "{table} {key}: the row on the server differs from the source's (renumbered); \
             nothing was copied (the server's transaction was rolled back)"
        )));
    }
    Ok(copied)
}

/// A refused save's entry (a ReviewInput, JSON) names its patient and review.
fn renumber_draft(doc: &str, map: &IdMap, what: &str) -> StoreResult<String> {
    let mut v: serde_json::Value = serde_json::from_str(doc)
        .map_err(|e| bad(what.to_string(), format!("input is not JSON ({e})")))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| bad(what.to_string(), "input is not a JSON object"))?;
    for (field, table) in [("patient_id", "patients"), ("review_id", "reviews")] {
        let Some(slot) = obj.get_mut(field) else {
            continue;
        };
        if slot.is_null() {
            continue;
        }
        let id = slot
            .as_i64()
            .and_then(|id| map.id(table, id))
            .ok_or_else(|| bad(what.to_string(), format!("input.{field} is not an id")))?;
        *slot = serde_json::Value::from(id);
    }
    Ok(v.to_string())
}

/// Case-finding texts: shared, unique by content. A text the server holds
/// already is that row; another is copied with its id renumbered. Returns
/// (source texts, of which shared).
fn copy_texts(src: &rusqlite::Connection, tx: &Conn, map: &mut IdMap) -> StoreResult<(i64, i64)> {
    let offset = map.offsets.get("cf_texts").copied().unwrap_or(0);
    let mut held: HashMap<String, i64> = HashMap::new();
    {
        let mut stmt = tx.prepare("SELECT id, text FROM cf_texts")?;
        let mut rows = stmt.query(())?;
        while let Some(r) = rows.next()? {
            held.insert(r.get::<String>(1)?, r.get::<i64>(0)?);
        }
    }
    let mut batch = Batch::new("cf_texts", vec!["id".into(), "text".into()]);
    let mut stmt = src.prepare("SELECT id, text FROM cf_texts ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let (mut n, mut shared) = (0i64, 0i64);
    let mut expect: Vec<(i64, i64, String)> = Vec::new();
    while let Some(r) = rows.next()? {
        let (id, text): (i64, String) = (r.get(0)?, r.get(1)?);
        n += 1;
        let new = match held.get(&text) {
            Some(&existing) => {
                shared += 1;
                existing
            }
            None => {
                let new = id.checked_add(offset).ok_or_else(|| {
                    bad(format!("cf_texts id {id}"), "its id cannot be renumbered")
                })?;
                batch.push(
                    tx,
                    format!("id {id}"),
                    vec![Value::Integer(new), Value::Text(text.clone())],
                )?;
                new
            }
        };
        map.texts.insert(id, new);
        expect.push((id, new, text));
    }
    batch.flush(tx)?;
    // Each source text is on the server under the id it was mapped to.
    let mut now: HashMap<i64, String> = HashMap::new();
    {
        let mut stmt = tx.prepare("SELECT id, text FROM cf_texts")?;
        let mut rows = stmt.query(())?;
        while let Some(r) = rows.next()? {
            now.insert(r.get::<i64>(0)?, r.get::<String>(1)?);
        }
    }
    if let Some((id, _, _)) = expect
        .iter()
        .find(|(_, new, text)| now.get(new) != Some(text))
    {
        return Err(StoreError::Database(format!(
            "cf_texts id {id}: the text on the server differs from the source's; nothing was \
             copied (the server's transaction was rolled back)"
        )));
    }
    Ok((n, shared))
}

/// Settings are store-wide on the server (its administrators'): the
/// server's are kept. The source keys the server lacks or holds with another
/// value are named in the report and the record of the move.
fn settings_not_copied(src: &rusqlite::Connection, tx: &Conn) -> StoreResult<Vec<String>> {
    let mut server: HashMap<String, String> = HashMap::new();
    {
        let mut stmt = tx.prepare("SELECT key, value FROM settings")?;
        let mut rows = stmt.query(())?;
        while let Some(r) = rows.next()? {
            server.insert(r.get(0)?, r.get(1)?);
        }
    }
    let mut stmt = src.prepare("SELECT key, value FROM settings ORDER BY key")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter(|(k, v)| server.get(k) != Some(v))
        .map(|(k, _)| k)
        .collect())
}

type Appended = (i64, Option<i64>, Option<i64>, i64, MigratedHead);

/// The source's entries appended in order, then the record of the move;
/// all verified before returning.
#[allow(clippy::too_many_arguments)]
fn append_history(
    src: &rusqlite::Connection,
    tx: &Conn,
    practice: &str,
    map: &IdMap,
    source_head: &MigratedHead,
    file_sha256: &str,
    id_offsets: &[IdOffset],
    texts_shared: i64,
    settings_not_copied: &[String],
) -> StoreResult<Appended> {
    let (before_entries, before_last, before_hash) = tx.query_row(
        "SELECT entries, last_id, chain_hash FROM audit_head WHERE id = 1",
        (),
        |r| {
            Ok((
                r.get::<i64>(0)?,
                r.get::<i64>(1)?,
                r.get::<Option<String>>(2)?,
            ))
        },
    )?;
    let cols: Vec<String> = [
        "at",
        "actor",
        "action",
        "entity",
        "entity_id",
        "patient_id",
        "summary",
        "practice_code",
    ]
    .iter()
    .map(|c| c.to_string())
    .collect();
    // The server gives each its id and hash (its chain trigger), in the
    // order sent: the source's.
    let mut batch = Batch::new("audit_log", cols);
    let mut moved: Vec<SourceEntry> = Vec::new();
    {
        let mut stmt = src.prepare(
            "SELECT id, at, actor, action, entity, entity_id, patient_id, summary, chain_hash \
             FROM audit_log ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let e = SourceEntry::read(r)?.renumbered(map)?;
            batch.push(
                tx,
                format!("id {}", e.id),
                vec![
                    Value::Text(e.at.clone()),
                    Value::Text(e.actor.clone()),
                    Value::Text(e.action.clone()),
                    Value::Text(e.entity.clone()),
                    e.entity_id.map_or(Value::Null, Value::Integer),
                    e.patient_id.map_or(Value::Null, Value::Integer),
                    Value::Text(e.summary.clone()),
                    Value::Text(practice.to_string()),
                ],
            )?;
            moved.push(e);
        }
    }
    batch.flush(tx)?;
    let n = moved.len() as i64;
    if n != source_head.entries {
        return Err(StoreError::Database(format!(
            "audit_log: {n} entries read but the source's chain has {}; nothing was copied",
            source_head.entries
        )));
    }
    let (first, last) = if n > 0 {
        (Some(before_last + 1), Some(before_last + n))
    } else {
        (None, None)
    };
    let offsets = id_offsets
        .iter()
        .map(|o| format!("{} +{}", o.table, o.offset))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = format!(
        "practice {practice}'s single-seat store moved in (file SHA-256 {file_sha256}): its \
         audit log of {} entries (source ids to {}, head hash {}) is entries {} here, in order, \
         each with its time, actor, action, entity and summary as written and its record ids \
         renumbered: {offsets}; case-finding texts by content ({texts_shared} already here); \
         settings kept as the team store's{}",
        source_head.entries,
        source_head.last_id,
        source_head.chain_hash.as_deref().unwrap_or("none"),
        match (first, last) {
            (Some(a), Some(b)) => format!("{a} to {b}"),
            _ => "none".into(),
        },
        if settings_not_copied.is_empty() {
            String::new()
        } else {
            format!(" (not copied: {})", settings_not_copied.join(", "))
        }
    );
    let at = super::ts(chrono::Utc::now());
    let record_id = tx.query_row(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, patient_id, summary, \
         practice_code) VALUES (?1, ?2, 'create', 'store', NULL, NULL, ?3, ?4) RETURNING id",
        vec![
            Value::Text(at.clone()),
            Value::Text(ACTOR.into()),
            Value::Text(summary.clone()),
            Value::Text(practice.to_string()),
        ],
        |r| r.get::<i64>(0),
    )?;
    if record_id != before_last + n + 1 {
        return Err(StoreError::Database(format!(
            "the entry recording the move is {record_id}, not {}: nothing was copied",
            before_last + n + 1
        )));
    }

    // Each appended entry read back: the source's content, renumbered, at
    // the next id, in the practice, its hash following the one before
    // (walked here, independently of the server's function).
    let mut stmt = tx.prepare(
        "SELECT id, at, actor, action, entity, entity_id, patient_id, summary, chain_hash, \
         practice_code FROM audit_log WHERE id > ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query(vec![Value::Integer(before_last)])?;
    let mut prev = before_hash;
    let mut k = 0usize;
    let record = SourceEntry {
        id: record_id,
        at,
        actor: ACTOR.into(),
        action: "create".into(),
        entity: "store".into(),
        entity_id: None,
        patient_id: None,
        summary,
        chain_hash: None,
    };
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let want = if k < moved.len() {
            &moved[k]
        } else if k == moved.len() {
            &record
        } else {
            return Err(StoreError::Database(format!(
                "audit entry {id} appeared during the move; nothing was copied"
            )));
        };
        let what = if k < moved.len() {
            format!("audit_log id {} (server entry {id})", want.id)
        } else {
            format!("the record of the move (server entry {id})")
        };
        let got = (
            r.get::<String>(1)?,
            r.get::<String>(2)?,
            r.get::<String>(3)?,
            r.get::<String>(4)?,
            r.get::<Option<i64>>(5)?,
            r.get::<Option<i64>>(6)?,
            r.get::<String>(7)?,
        );
        let hash: String = r.get(8)?;
        let code: Option<String> = r.get(9)?;
        let expected_id = before_last + 1 + k as i64;
        let content = want.content(expected_id);
        let same = id == expected_id
            && got
                == (
                    want.at.clone(),
                    want.actor.clone(),
                    want.action.clone(),
                    want.entity.clone(),
                    want.entity_id,
                    want.patient_id,
                    want.summary.clone(),
                )
            && code.as_deref() == Some(practice);
        if !same {
            return Err(StoreError::Database(format!(
                "{what}: the entry on the server differs from the source's (renumbered); \
                 nothing was copied (the server's transaction was rolled back)"
            )));
        }
        if hash != audit::chain_hash(prev.as_deref(), &content) {
            return Err(StoreError::Database(format!(
                "{what}: its hash does not follow the entry before it; nothing was copied"
            )));
        }
        prev = Some(hash);
        k += 1;
    }
    if k != moved.len() + 1 {
        return Err(StoreError::Database(format!(
            "audit_log: {k} entries appended, not {}; nothing was copied",
            moved.len() + 1
        )));
    }

    // The server's own check over the whole chain, and its head.
    let (server, head) = server_chain(tx, "move")?;
    if (head.entries, head.last_id, &head.chain_hash) != (before_entries + n + 1, record_id, &prev)
        || server.last_id != head.last_id
        || server.last_hash != head.chain_hash
    {
        return Err(chain_check_failed(
            "move",
            format!(
                "the server's head is {} entries to id {} ({} in the log), expected {} to id \
                 {record_id}",
                head.entries,
                head.last_id,
                server.entries,
                before_entries + n + 1
            ),
        ));
    }
    Ok((n, first, last, record_id, head))
}
