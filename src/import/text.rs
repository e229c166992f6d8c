//! Tokens of free text (product descriptions and dose instructions) as the
//! parsers see them: numbers, lower-case words and the few punctuation marks
//! that carry meaning ("1-2", "10mg/5ml", "08:00").
//!
//! Full stops are dropped except inside decimal numbers, so "p.r.n." reads as
//! the word "prn" and "2.5" as the number 2.5; letters and digits split into
//! separate tokens, so "q4h" is `q 4 h` and "5ml" is `5 ml`. Vulgar fractions
//! are numbers ("½" = 0.5, "1½" = 1.5). Pure; no clinical knowledge here.

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A number, e.g. `2.5`.
    Num(f64),
    /// A lower-case word without apostrophes, e.g. `tablets`.
    Word(String),
    /// `-`, `–` or `—` (a range such as "1-2", or a hyphen).
    Dash,
    /// `/`.
    Slash,
    /// `:`.
    Colon,
    /// A separator: `,`, `;`, `(`, `)`, `+`, `&`, or a line break.
    Sep,
}

impl Tok {
    /// The word, if this is one.
    pub(crate) fn word(&self) -> Option<&str> {
        match self {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub(crate) fn num(&self) -> Option<f64> {
        match self {
            Tok::Num(n) => Some(*n),
            _ => None,
        }
    }

    /// Whether this is the word `w`.
    pub(crate) fn is(&self, w: &str) -> bool {
        self.word() == Some(w)
    }

    /// Whether this is one of the words `ws`.
    pub(crate) fn is_any(&self, ws: &[&str]) -> bool {
        self.word().is_some_and(|x| ws.contains(&x))
    }
}

fn fraction(c: char) -> Option<f64> {
    match c {
        '½' => Some(0.5),
        '¼' => Some(0.25),
        '¾' => Some(0.75),
        '⅓' => Some(1.0 / 3.0),
        '⅔' => Some(2.0 / 3.0),
        _ => None,
    }
}

/// Splits `text` into tokens.
pub(crate) fn tokenise(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (chars[i] == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())))
            {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            let mut n = s.parse::<f64>().unwrap_or(0.0);
            // "1½" is one and a half.
            if let Some(f) = chars.get(i).copied().and_then(fraction) {
                n += f;
                i += 1;
            }
            out.push(Tok::Num(n));
            continue;
        }
        if let Some(f) = fraction(c) {
            out.push(Tok::Num(f));
            i += 1;
            continue;
        }
        if c.is_alphabetic() {
            let mut w = String::new();
            while i < chars.len() {
                let d = chars[i];
                if d.is_alphabetic() {
                    // The micro sign and Greek mu both mean "micro" ("µg").
                    if d == 'µ' || d == 'μ' {
                        w.push('u');
                    } else {
                        w.extend(d.to_lowercase());
                    }
                    i += 1;
                } else if matches!(d, '\'' | '’' | '‘')
                    && chars.get(i + 1).is_some_and(|e| e.is_alphabetic())
                {
                    // "st john's" reads as "st johns".
                    i += 1;
                } else if d == '.' && chars.get(i + 1).is_some_and(|e| e.is_alphabetic()) {
                    // "b.d." reads as "bd".
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Tok::Word(w));
            continue;
        }
        match c {
            '-' | '–' | '—' => out.push(Tok::Dash),
            '/' => out.push(Tok::Slash),
            ':' => out.push(Tok::Colon),
            ',' | ';' | '(' | ')' | '[' | ']' | '+' | '&' | '\n' | '\r' => out.push(Tok::Sep),
            _ => {}
        }
        i += 1;
    }
    out
}

/// The words of `tokens` only (numbers and punctuation left out), for matching names.
pub(crate) fn words(tokens: &[Tok]) -> Vec<&str> {
    tokens.iter().filter_map(Tok::word).collect()
}

/// Position of the word sequence `seq` in `words`, if present.
pub(crate) fn find_seq(words: &[&str], seq: &[&str]) -> Option<usize> {
    if seq.is_empty() || seq.len() > words.len() {
        return None;
    }
    (0..=words.len() - seq.len()).find(|&i| words[i..i + seq.len()] == *seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Tok {
        Tok::Word(s.into())
    }

    #[test]
    fn numbers_words_and_marks() {
        use Tok::*;
        assert_eq!(
            tokenise("1-2 Q.D.S. p.r.n."),
            [Num(1.0), Dash, Num(2.0), w("qds"), w("prn")]
        );
        assert_eq!(
            tokenise("Morphine 10mg/5ml"),
            [w("morphine"), Num(10.0), w("mg"), Slash, Num(5.0), w("ml")]
        );
        assert_eq!(tokenise("q4h"), [w("q"), Num(4.0), w("h")]);
        assert_eq!(tokenise("2.5ml"), [Num(2.5), w("ml")]);
        assert_eq!(tokenise("½ tab"), [Num(0.5), w("tab")]);
        assert_eq!(tokenise("1½"), [Num(1.5)]);
        assert_eq!(tokenise("25µg/h"), [Num(25.0), w("ug"), Slash, w("h")]);
        assert_eq!(tokenise("08:00"), [Num(8.0), Colon, Num(0.0)]);
        assert_eq!(
            tokenise("St John's (x)"),
            [w("st"), w("johns"), Sep, w("x"), Sep]
        );
        assert_eq!(tokenise("2. tablets"), [Num(2.0), w("tablets")]);
        assert_eq!(tokenise("Butrans®"), [w("butrans")]);
    }

    #[test]
    fn sequences() {
        let t = tokenise("take as directed by GP");
        let ws = words(&t);
        assert_eq!(find_seq(&ws, &["as", "directed"]), Some(1));
        assert_eq!(find_seq(&ws, &["as", "required"]), None);
        assert_eq!(find_seq(&ws, &[]), None);
    }
}
