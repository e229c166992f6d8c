//! SQL is written once, with SQLite's numbered placeholders (`?1`, `?2`, and
//! bare `?` for "the next one"); PostgreSQL wants `$1`, `$2`. This scanner
//! rewrites them outside string literals, quoted identifiers and comments,
//! so a `?` inside `'…'`, `"…"`, `-- …` or `/* … */` is left alone.

/// `sql` with every placeholder written `$N` (SQLite's numbering rules: a bare
/// `?` is one more than the largest number so far).
pub(crate) fn to_dollar(sql: &str) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut i = 0;
    let mut largest = 0u32;
    // Copies bytes[from..to] (both on char boundaries: every byte we stop at is ASCII).
    let copy = |out: &mut String, from: usize, to: usize| out.push_str(&sql[from..to]);
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'\'' | b'"') => {
                // A quoted literal or identifier; a doubled quote stays inside.
                let start = i;
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == q {
                        if bytes.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                copy(&mut out, start, i);
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                let start = i;
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                copy(&mut out, start, i);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start = i;
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(bytes.len());
                copy(&mut out, start, i);
            }
            b'?' => {
                i += 1;
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let n = if i > start {
                    sql[start..i].parse::<u32>().unwrap_or(u32::MAX)
                } else {
                    largest + 1
                };
                largest = largest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => {
                // Up to the next byte that may start something above.
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b'\'' | b'"' | b'-' | b'/' | b'?') {
                    i += 1;
                }
                if i == start {
                    i += 1;
                }
                copy(&mut out, start, i);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::to_dollar;

    #[test]
    fn numbered_and_bare_placeholders_follow_sqlites_numbering() {
        assert_eq!(
            to_dollar("SELECT a FROM t WHERE x = ?1 AND y = ?2 OR z = ?1"),
            "SELECT a FROM t WHERE x = $1 AND y = $2 OR z = $1"
        );
        assert_eq!(to_dollar("VALUES (?,?,?)"), "VALUES ($1,$2,$3)");
        // A bare ? after ?5 is ?6, as in SQLite.
        assert_eq!(to_dollar("?5, ?, ?2, ?"), "$5, $6, $2, $7");
        assert_eq!(to_dollar("LIMIT ?12"), "LIMIT $12");
    }

    #[test]
    fn literals_identifiers_and_comments_are_left_alone() {
        assert_eq!(
            to_dollar("SELECT '?1', 'it''s ?', \"col?\" FROM t WHERE a = ?1"),
            "SELECT '?1', 'it''s ?', \"col?\" FROM t WHERE a = $1"
        );
        assert_eq!(
            to_dollar("SELECT 1 -- what? ?1\nWHERE b = ?2 /* ?3 ? */ AND c = ?3"),
            "SELECT 1 -- what? ?1\nWHERE b = $2 /* ?3 ? */ AND c = $3"
        );
        assert_eq!(
            to_dollar("x LIKE ?1 ESCAPE '\\' AND y - 1 = ?2 / 2"),
            "x LIKE $1 ESCAPE '\\' AND y - 1 = $2 / 2"
        );
        // Unicode in literals and around placeholders survives byte-exactly.
        assert_eq!(
            to_dollar("SELECT 'Zoë ?' || ?1 || '€'"),
            "SELECT 'Zoë ?' || $1 || '€'"
        );
        // An unterminated literal or comment is copied as it is (the server reports it).
        assert_eq!(to_dollar("SELECT 'open ?1"), "SELECT 'open ?1");
        assert_eq!(to_dollar("SELECT 1 /* open ?1"), "SELECT 1 /* open ?1");
    }

    #[test]
    fn text_without_placeholders_is_unchanged() {
        for sql in ["", "SELECT 1", "a - b", "a / b", "'", "\"x\"", "--", "/*"] {
            assert_eq!(to_dollar(sql), sql);
        }
    }
}
