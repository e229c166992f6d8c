//! Caps on input (`assets/limits.json`), and the sanitising of text that an
//! error echoes back. Issue 20 found `/dev/zero` read until 8.4 GB, 100,000
//! pauses answered with 100,001 error lines, a 1 MB drug name taking seconds,
//! and error messages carrying raw control and right-to-left characters. The
//! caps are data, not clinical figures: they bound the work one input can
//! cause. Pure.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

/// A problem at a field path: (path, message). Plain pairs, so this module
/// depends on nothing else in the crate (callers make their own error type).
pub type Problem = (String, String);

/// The caps, from `assets/limits.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// What the file is for.
    pub about: String,
    /// Largest JSON input read, in bytes.
    pub max_input_bytes: u64,
    /// Largest extract file read, in bytes.
    pub max_extract_bytes: u64,
    /// Most regimen items in one input.
    pub max_items: usize,
    /// Most pauses in one taper request.
    pub max_pauses: usize,
    /// Most clinician edits in one edits file.
    pub max_edits: usize,
    /// Longest list of anything else.
    pub max_array_len: usize,
    /// Longest text value, in characters.
    pub max_string_chars: usize,
    /// Longest clinical notes (`notes`), in characters: a consultation's notes
    /// are longer than any name or reason.
    pub max_notes_chars: usize,
    /// Most problems listed in one error (the rest are counted).
    pub max_errors_reported: usize,
    /// Longest text an error echoes back, in characters.
    pub max_error_text_chars: usize,
    /// Longest line of an error message as shown, in characters: the last
    /// line of defence for a value quoted without [`sanitize`].
    pub max_error_line_chars: usize,
    /// Smallest amount (mg, mL, units) read as a number at all: below it a
    /// value such as 5e-324 is an entry error, not a dose. A numeric floor
    /// far under any real strength, not a clinical threshold.
    pub min_amount: f64,
    /// Earliest year a date may have.
    pub min_year: i32,
    /// Latest year a date may have.
    pub max_year: i32,
}

/// Checks a date's year against the caps (years 0000 and 9999 once passed).
pub fn check_year(date: chrono::NaiveDate) -> Result<(), String> {
    use chrono::Datelike;
    let l = limits();
    if date.year() < l.min_year || date.year() > l.max_year {
        return Err(format!(
            "the year {} is not plausible (accepted: {} to {})",
            date.year(),
            l.min_year,
            l.max_year
        ));
    }
    Ok(())
}

/// The embedded caps. A broken file is a build defect, caught by the tests.
pub fn limits() -> &'static Limits {
    static LIMITS: OnceLock<Limits> = OnceLock::new();
    LIMITS.get_or_init(|| {
        serde_json::from_str(include_str!("../assets/limits.json"))
            .unwrap_or_else(|e| panic!("assets/limits.json is invalid: {e}"))
    })
}

/// Checks a parsed JSON input against the caps: list lengths (`items`,
/// `pauses`, `edits`, any other list) and text lengths, each problem at its
/// field path. Walks the value once.
pub fn check_value(value: &Value) -> Result<(), Vec<Problem>> {
    let l = limits();
    let mut errors = Vec::new();
    walk(value, "", l, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn walk(value: &Value, path: &str, l: &Limits, errors: &mut Vec<Problem>) {
    if errors.len() > l.max_errors_reported {
        return;
    }
    let field = path.trim_start_matches('.');
    match value {
        Value::String(s) => {
            let cap = if field.rsplit('.').next() == Some("notes") {
                l.max_notes_chars
            } else {
                l.max_string_chars
            };
            let n = s.chars().count();
            if n > cap {
                errors.push((
                    if field.is_empty() { "input" } else { field }.to_string(),
                    format!("is {n} characters long; at most {cap} are accepted"),
                ));
            }
        }
        Value::Array(a) => {
            let key = field.rsplit('.').next().unwrap_or("");
            let (cap, what) = match key {
                "items" => (l.max_items, "items"),
                "pauses" => (l.max_pauses, "pauses"),
                "edits" => (l.max_edits, "edits"),
                _ => (l.max_array_len, "entries"),
            };
            if a.len() > cap {
                errors.push((
                    if field.is_empty() { "input" } else { field }.to_string(),
                    format!("has {} {what}; at most {cap} are accepted", a.len()),
                ));
                // The entries of a list that is refused whole are not examined.
                return;
            }
            for (i, v) in a.iter().enumerate() {
                walk(v, &format!("{path}[{i}]"), l, errors);
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                walk(v, &format!("{path}.{k}"), l, errors);
            }
        }
        _ => {}
    }
}

/// A one-line text entered outside any JSON input (a name or practice detail
/// given as a command-line option or in the leaflet's and summary's details)
/// against `max_string_chars`: the message says how long it is, never echoes it.
pub fn check_text_len(text: &str) -> Result<(), String> {
    let cap = limits().max_string_chars;
    let n = text.chars().count();
    if n > cap {
        return Err(format!(
            "is {n} characters long; at most {cap} are accepted"
        ));
    }
    Ok(())
}

/// The caps for a request that reaches the core already parsed (the desktop's
/// IPC arguments): its size written as JSON against `max_input_bytes`, then
/// the list and text caps of [`check_value`], so the app is held to the same
/// limits as the CLI's input files.
pub fn check_parsed<T: serde::Serialize>(request: &T) -> Result<(), Vec<Problem>> {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let cap = limits().max_input_bytes;
    let mut count = Count(0);
    let value = serde_json::to_writer(&mut count, request)
        .and_then(|()| serde_json::to_value(request))
        .map_err(|e| vec![("input".to_string(), format!("could not be read ({e})"))])?;
    if count.0 > cap {
        return Err(vec![(
            "input".to_string(),
            format!("is {} bytes; at most {cap} are accepted", count.0),
        )]);
    }
    check_value(&value)
}

/// Refuses duplicate keys in any JSON object (serde_json keeps the last one
/// silently, so `{"strength_mg": 10, "strength_mg": 100}` read as 100).
/// Returns the parser's error, with line and column, naming the key.
pub fn check_no_duplicate_keys(text: &str) -> Result<(), serde_json::Error> {
    serde_json::from_str::<NoDuplicates>(text).map(|_| ())
}

struct NoDuplicates;

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "the key \"{}\" appears twice in one object (which one was meant?)",
                    sanitize(&key)
                )));
            }
            map.next_value::<NoDuplicates>()?;
        }
        Ok(NoDuplicates)
    }
}

/// Text from the input made safe to show in an error: control characters,
/// bidirectional controls (which can reorder what a reader sees) and other
/// invisible format characters are written as `\u{…}`, and anything longer
/// than the cap is cut with a count of what was left out.
pub fn sanitize(text: &str) -> String {
    escape_and_cut(text, limits().max_error_text_chars)
}

/// A whole error message as it is shown (the CLI prints every message, and
/// the desktop's [`crate::ApiError::new`] carries every message, through
/// this): each line escaped and cut as by [`sanitize`], at
/// `max_error_line_chars`, so a value quoted anywhere without [`sanitize`]
/// still cannot hide or reorder text or fill the screen (issue 20: messages
/// echoed raw control and right-to-left characters and whole 1 MB values).
/// Messages of plain text pass unchanged.
pub fn sanitize_message(message: &str) -> String {
    let cap = limits().max_error_line_chars;
    if message.chars().all(|c| !is_hidden(c) || c == '\n') && message.len() <= cap {
        return message.to_string();
    }
    message
        .split('\n')
        .map(|line| escape_and_cut(line, cap))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` escaped, then cut so that at most `cap` characters of it are shown
/// (an escape counts as the characters it is written with).
fn escape_and_cut(text: &str, cap: usize) -> String {
    let mut out = String::new();
    let mut shown = 0;
    for (i, c) in text.chars().enumerate() {
        let piece = if is_hidden(c) && c != '\n' {
            format!("\\u{{{:04x}}}", u32::from(c))
        } else {
            c.to_string()
        };
        shown += piece.chars().count();
        if shown > cap {
            let left = text.chars().count() - i;
            out.push_str(&format!("… ({left} more characters)"));
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// Characters that do not show, or change how the text around them shows.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00ad}'                 // soft hyphen
            | '\u{061c}'               // Arabic letter mark
            | '\u{180e}'               // Mongolian vowel separator
            | '\u{200b}'..='\u{200f}'  // zero-width space/joiners, LRM, RLM
            | '\u{202a}'..='\u{202e}'  // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}'  // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}'  // bidi isolates
            | '\u{feff}'               // byte-order mark / zero-width no-break space
        )
}

/// A name as looked up: NFKC (full-width and compatibility forms to their
/// plain letters) with invisible characters removed, so "ｄｉａｚｅｐａｍ" or
/// "diazepam" with a zero-width space still finds diazepam (issue 20: such a
/// name stopped its co-medication flag).
pub fn normalise_for_lookup(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfkc()
        .filter(|c| !is_hidden(*c) || c.is_whitespace())
        .collect()
}

/// Problems (path, message) for an error message: each sanitised and cut,
/// at most `max_errors_reported` of them, then how many more there were.
pub fn report_errors<'a>(errors: impl ExactSizeIterator<Item = (&'a str, &'a str)>) -> String {
    let l = limits();
    let total = errors.len();
    let mut lines: Vec<String> = errors
        .take(l.max_errors_reported)
        .map(|(path, message)| format!("{}: {}", sanitize(path), sanitize(message)))
        .collect();
    if total > l.max_errors_reported {
        lines.push(format!(
            "… and {} more problems (only the first {} are listed)",
            total - l.max_errors_reported,
            l.max_errors_reported
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_file_is_valid_and_positive() {
        let l = limits();
        assert!(l.max_input_bytes >= 64 * 1024);
        assert!(l.max_items >= 10 && l.max_pauses >= 10);
        assert!(l.max_string_chars >= 200);
        assert!(l.max_notes_chars >= l.max_string_chars);
        assert!(l.max_errors_reported >= 5);
        assert!(l.max_error_text_chars >= 80);
        assert!(l.max_error_line_chars >= 2 * l.max_error_text_chars);
        assert!(l.min_amount > 0.0 && l.min_amount <= 0.001);
        assert!(l.min_year <= 1950 && l.max_year >= 2100);
        let d = |y| chrono::NaiveDate::from_ymd_opt(y, 1, 1).unwrap();
        assert!(check_year(d(0)).is_err());
        assert!(check_year(d(9999)).is_err());
        check_year(d(2026)).unwrap();
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_position() {
        check_no_duplicate_keys(r#"{"a": 1, "b": [{"c": 1, "d": 2}]}"#).unwrap();
        let e =
            check_no_duplicate_keys("{\"items\": [{\"strength_mg\": 10,\n \"strength_mg\": 100}]}")
                .unwrap_err();
        assert!(
            e.to_string().contains("\"strength_mg\" appears twice"),
            "{e}"
        );
        assert_eq!(e.line(), 2);
    }

    #[test]
    fn long_lists_and_strings_are_refused_at_their_path() {
        let items: Vec<Value> = (0..limits().max_items + 1).map(|_| Value::Null).collect();
        let e = check_value(&serde_json::json!({"items": items})).unwrap_err();
        assert_eq!(e[0].0, "items");
        let long = "x".repeat(limits().max_string_chars + 1);
        let e = check_value(&serde_json::json!({"items": [{"drug": long}]})).unwrap_err();
        assert_eq!(e[0].0, "items[0].drug");
        check_value(&serde_json::json!({"items": [{"drug": "morphine"}], "pauses": []})).unwrap();
    }

    #[test]
    fn errors_escape_hidden_characters_and_are_cut() {
        assert_eq!(sanitize("a\u{202e}b\u{1b}[31m"), "a\\u{202e}b\\u{001b}[31m");
        let long = "y".repeat(10_000);
        let s = sanitize(&long);
        assert!(s.chars().count() < 400, "{}", s.len());
        assert!(s.ends_with("more characters)"));
        let errors: Vec<(String, &str)> = (0..1000)
            .map(|i| (format!("pauses[{i}]"), "duplicate"))
            .collect();
        let text = report_errors(errors.iter().map(|(p, m)| (p.as_str(), *m)));
        assert_eq!(text.lines().count(), limits().max_errors_reported + 1);
        assert!(text.ends_with("(only the first 20 are listed)"), "{text}");
    }

    /// Issue 20: a zero-width space, a direction mark or full-width letters
    /// in a co-medication name stopped its flag.
    #[test]
    fn co_medications_with_hidden_or_full_width_characters_are_recognised() {
        let reference = crate::reference::reference();
        for entered in [
            "dia\u{200b}zepam",
            "\u{200f}diazepam",
            "ｄｉａｚｅｐａｍ",
            "Diazepam\u{feff} 5mg",
        ] {
            let (c, warning) = crate::patient::resolve_co_medication(entered, reference);
            assert_eq!(
                c.generic.as_deref(),
                Some("diazepam"),
                "{entered:?}: {warning:?}"
            );
        }
    }

    /// Issue 20: years 0000 and 9999 and 5e-324 mg passed validation.
    #[test]
    fn implausible_years_and_vanishing_amounts_are_field_errors() {
        let reference = crate::reference::reference();
        let input = |date: &str, mg: &str| {
            format!(
                r#"{{"items": [{{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": {mg}, "units_per_dose": 1, "doses_per_day": 2}}], "start_date": "{date}"}}"#
            )
        };
        for (date, mg, field) in [
            ("0000-01-01", "30", "start_date"),
            ("9999-12-31", "30", "start_date"),
            ("2026-12-01", "5e-324", "items[0].strength_mg"),
        ] {
            let e = crate::taper::plan_from_json(&input(date, mg), crate::Profile::Uk, reference)
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{date} {mg}: {e}");
        }
        crate::taper::plan_from_json(&input("2026-12-01", "30"), crate::Profile::Uk, reference)
            .unwrap();
    }

    #[test]
    fn names_are_normalised_before_lookup() {
        assert_eq!(normalise_for_lookup("ｄｉａｚｅｐａｍ"), "diazepam");
        assert_eq!(normalise_for_lookup("dia\u{200b}zepam\u{200f}"), "diazepam");
        assert_eq!(normalise_for_lookup("St John\u{2019}s"), "St John\u{2019}s");
    }
}
