//! NHS numbers: parsing, the modulus-11 check digit, and display.
//!
//! An NHS number is ten digits; the tenth is a check digit over the first nine
//! (NHS Data Dictionary, "NHS Number"). Each of the first nine digits is
//! multiplied by a weight from 10 down to 2, the products are summed, and the
//! check digit is 11 minus the remainder of the sum divided by 11, where 11
//! becomes 0 and 10 means the nine digits can never form a valid number.
//!
//! Typing errors are the main thing this catches: the check detects every
//! single-digit error and every transposition of two adjacent digits.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A validated NHS number, held as its ten digits without spaces.
///
/// Serialises as the bare ten-digit string (`"9434765919"`); use
/// [`NhsNumber::formatted`] for the spaced 3-3-4 form people read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(try_from = "String", into = "String")]
#[ts(export, type = "string")]
pub struct NhsNumber(String);

/// Why a string is not a valid NHS number. Messages name no field: callers add it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    /// Nothing but separators.
    #[error("is empty")]
    Empty,
    /// A character other than a digit, space or hyphen.
    #[error("contains '{ch}' at position {position}; only digits, spaces and hyphens are allowed")]
    InvalidCharacter {
        /// The offending character.
        ch: char,
        /// One-based position in the text as typed.
        position: usize,
    },
    /// Not exactly ten digits.
    #[error("must have 10 digits (got {digits})")]
    WrongLength {
        /// How many digits were found.
        digits: usize,
    },
    /// The first nine digits give a check digit of 10, which no NHS number has.
    #[error("{0} is not a valid NHS number: no check digit can complete its first nine digits")]
    NoCheckDigit(String),
    /// The tenth digit does not match the one computed from the first nine.
    #[error(
        "{number} is not a valid NHS number: the check digit (last digit) should be {expected}, \
         not {found}; check for a typing error"
    )]
    CheckDigitMismatch {
        /// The ten digits as entered.
        number: String,
        /// The check digit the first nine digits require.
        expected: u8,
        /// The tenth digit entered.
        found: u8,
    },
    /// Ten copies of one digit: passes the arithmetic but is a placeholder, never issued.
    #[error("{0} is a placeholder, not a real NHS number (all digits the same)")]
    Placeholder(String),
}

/// The modulus-11 check digit for the first nine digits of an NHS number
/// (each 0..=9), or `None` when the computed digit is 10 and so no valid
/// number begins with these nine digits.
pub fn check_digit(first_nine: &[u8; 9]) -> Option<u8> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10u32).rev())
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        d => u8::try_from(d).ok(),
    }
}

impl NhsNumber {
    /// Parses and validates an NHS number as a person would type it: ten
    /// digits, optionally grouped with spaces or hyphens (`943 476 5919`,
    /// `943-476-5919`). Leading and trailing whitespace is ignored.
    pub fn parse(input: &str) -> Result<NhsNumber, NhsNumberError> {
        let mut digits = Vec::with_capacity(10);
        for (i, ch) in input.trim().chars().enumerate() {
            match ch {
                '0'..='9' => digits.push(ch as u8 - b'0'),
                ' ' | '-' => {}
                _ => {
                    // Position as typed (after trimming), counted in characters so a
                    // multi-byte character is reported where the user sees it.
                    return Err(NhsNumberError::InvalidCharacter {
                        ch,
                        position: i + 1,
                    });
                }
            }
        }
        if digits.is_empty() {
            return Err(NhsNumberError::Empty);
        }
        let Ok(all): Result<[u8; 10], _> = digits.as_slice().try_into() else {
            return Err(NhsNumberError::WrongLength {
                digits: digits.len(),
            });
        };
        let text: String = all.iter().map(|d| char::from(b'0' + d)).collect();
        let mut first_nine = [0u8; 9];
        first_nine.copy_from_slice(&all[..9]);
        match check_digit(&first_nine) {
            None => Err(NhsNumberError::NoCheckDigit(text)),
            Some(expected) if expected != all[9] => Err(NhsNumberError::CheckDigitMismatch {
                number: text,
                expected,
                found: all[9],
            }),
            Some(_) if all.iter().all(|&d| d == all[0]) => Err(NhsNumberError::Placeholder(text)),
            Some(_) => Ok(NhsNumber(text)),
        }
    }

    /// The ten digits, no separators.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 3-3-4 grouping used on NHS letters and leaflets: `943 476 5919`.
    pub fn formatted(&self) -> String {
        format!("{} {} {}", &self.0[..3], &self.0[3..6], &self.0[6..])
    }

    /// True for the 999 range, which the NHS reserves for testing and training:
    /// numbers there are never issued to patients.
    pub fn is_test_range(&self) -> bool {
        self.0.starts_with("999")
    }
}

impl std::fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.formatted())
    }
}

impl std::str::FromStr for NhsNumber {
    type Err = NhsNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NhsNumber::parse(s)
    }
}

impl TryFrom<String> for NhsNumber {
    type Error = NhsNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        NhsNumber::parse(&s)
    }
}

impl From<NhsNumber> for String {
    fn from(n: NhsNumber) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_published_examples() {
        // 943 476 5919 is the example the NHS uses in its own documentation.
        for n in ["9434765919", "4010232137", "9449305552"] {
            let parsed = NhsNumber::parse(n).unwrap();
            assert_eq!(parsed.as_str(), n);
        }
    }

    #[test]
    fn accepts_spaces_hyphens_and_surrounding_whitespace() {
        for n in [
            "943 476 5919",
            "943-476-5919",
            "  9434765919\n",
            "943 476-5919",
        ] {
            assert_eq!(NhsNumber::parse(n).unwrap().as_str(), "9434765919", "{n:?}");
        }
    }

    #[test]
    fn check_digit_matches_worked_example() {
        // 9 4 3 4 7 6 5 9 1 weighted 10..2: 90+36+24+28+42+30+20+27+2 = 299;
        // 299 mod 11 = 2; 11 - 2 = 9.
        assert_eq!(check_digit(&[9, 4, 3, 4, 7, 6, 5, 9, 1]), Some(9));
    }

    #[test]
    fn check_digit_eleven_becomes_zero() {
        // Sum 0 gives 11 - 0 = 11, which is written as 0.
        assert_eq!(check_digit(&[0; 9]), Some(0));
        // 999 000 001: 90+81+72+2 = 245 = 22*11 + 3 -> 8.
        assert_eq!(check_digit(&[9, 9, 9, 0, 0, 0, 0, 0, 1]), Some(8));
    }

    #[test]
    fn check_digit_ten_is_never_valid() {
        // 999 000 000: 90+81+72 = 243 = 22*11 + 1 -> 10.
        assert_eq!(check_digit(&[9, 9, 9, 0, 0, 0, 0, 0, 0]), None);
        let e = NhsNumber::parse("9990000000").unwrap_err();
        assert_eq!(e, NhsNumberError::NoCheckDigit("9990000000".into()));
        assert!(e.to_string().contains("no check digit"), "{e}");
    }

    #[test]
    fn rejects_wrong_check_digit_with_the_expected_one() {
        let e = NhsNumber::parse("943 476 5918").unwrap_err();
        assert_eq!(
            e,
            NhsNumberError::CheckDigitMismatch {
                number: "9434765918".into(),
                expected: 9,
                found: 8
            }
        );
        assert_eq!(
            e.to_string(),
            "9434765918 is not a valid NHS number: the check digit (last digit) should be 9, \
             not 8; check for a typing error"
        );
    }

    #[test]
    fn rejects_wrong_lengths() {
        assert_eq!(
            NhsNumber::parse("943476591").unwrap_err(),
            NhsNumberError::WrongLength { digits: 9 }
        );
        assert_eq!(
            NhsNumber::parse("94347659190").unwrap_err(),
            NhsNumberError::WrongLength { digits: 11 }
        );
        assert_eq!(
            NhsNumber::parse("943476591").unwrap_err().to_string(),
            "must have 10 digits (got 9)"
        );
    }

    #[test]
    fn rejects_empty_and_separator_only() {
        assert_eq!(NhsNumber::parse("").unwrap_err(), NhsNumberError::Empty);
        assert_eq!(
            NhsNumber::parse("  - - ").unwrap_err(),
            NhsNumberError::Empty
        );
    }

    #[test]
    fn rejects_letters_naming_the_position() {
        let e = NhsNumber::parse("943 47O 5919").unwrap_err();
        assert_eq!(
            e,
            NhsNumberError::InvalidCharacter {
                ch: 'O',
                position: 7
            }
        );
        assert_eq!(
            e.to_string(),
            "contains 'O' at position 7; only digits, spaces and hyphens are allowed"
        );
        // Full-width and other non-ASCII digits are not NHS numbers either.
        assert!(matches!(
            NhsNumber::parse("９434765919"),
            Err(NhsNumberError::InvalidCharacter { position: 1, .. })
        ));
        assert!(matches!(
            NhsNumber::parse("+449434765919"),
            Err(NhsNumberError::InvalidCharacter { ch: '+', .. })
        ));
    }

    #[test]
    fn rejects_repeated_digit_placeholders() {
        // Every repeated-digit number passes modulus 11 (the check digit of
        // d x 9 is d), so they are refused explicitly.
        for d in 0..=9u8 {
            let s: String = std::iter::repeat_n(char::from(b'0' + d), 10).collect();
            assert_eq!(
                NhsNumber::parse(&s).unwrap_err(),
                NhsNumberError::Placeholder(s.clone()),
                "{s}"
            );
        }
    }

    #[test]
    fn detects_every_single_digit_error() {
        let good = *b"9434765919";
        for pos in 0..10 {
            for d in b'0'..=b'9' {
                if d == good[pos] {
                    continue;
                }
                let mut bad = good;
                bad[pos] = d;
                let s = std::str::from_utf8(&bad).unwrap();
                assert!(NhsNumber::parse(s).is_err(), "{s} should fail");
            }
        }
    }

    #[test]
    fn detects_adjacent_transpositions() {
        for good in ["9434765919", "4010232137", "9449305552"] {
            let b = good.as_bytes();
            for i in 0..9 {
                if b[i] == b[i + 1] {
                    continue;
                }
                let mut bad = b.to_vec();
                bad.swap(i, i + 1);
                let s = String::from_utf8(bad).unwrap();
                assert!(NhsNumber::parse(&s).is_err(), "{s} should fail");
            }
        }
    }

    #[test]
    fn every_valid_number_round_trips_through_its_check_digit() {
        // Exhaustive over a slice of the 999 test range.
        let mut valid = 0;
        for n in 0..20_000u32 {
            let nine = format!("999{n:06}");
            let mut digits = [0u8; 9];
            for (i, c) in nine.bytes().enumerate() {
                digits[i] = c - b'0';
            }
            match check_digit(&digits) {
                Some(c) => {
                    let full = format!("{nine}{c}");
                    let p = NhsNumber::parse(&full).unwrap();
                    assert!(p.is_test_range());
                    valid += 1;
                    // Any other final digit is refused.
                    let wrong = format!("{nine}{}", (c + 1) % 10);
                    assert!(NhsNumber::parse(&wrong).is_err());
                }
                None => {
                    for last in 0..10 {
                        assert!(NhsNumber::parse(&format!("{nine}{last}")).is_err());
                    }
                }
            }
        }
        // About one nine-digit stem in eleven has no valid check digit.
        assert!((17_500..18_500).contains(&valid), "{valid}");
    }

    #[test]
    fn formats_three_three_four() {
        let n = NhsNumber::parse("9434765919").unwrap();
        assert_eq!(n.formatted(), "943 476 5919");
        assert_eq!(n.to_string(), "943 476 5919");
        assert!(!n.is_test_range());
    }

    #[test]
    fn serde_uses_bare_digits_and_validates() {
        let n = NhsNumber::parse("943 476 5919").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"9434765919\"");
        let back: NhsNumber = serde_json::from_str("\"943 476 5919\"").unwrap();
        assert_eq!(back, n);
        let e = serde_json::from_str::<NhsNumber>("\"9434765918\"").unwrap_err();
        assert!(e.to_string().contains("check digit"), "{e}");
    }
}
