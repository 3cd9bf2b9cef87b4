//! Check digits of the numbers that identify customers and vehicles: the national ID (GB 11643),
//! the unified social credit code (GB 32100), the VIN (ISO 3779 / GB 16735) and the bank card
//! (Luhn); the birth date a national ID carries; what a mainland mobile number looks like.

use chrono::NaiveDate;

/// Whether `id` is an 18-character national ID whose last character is its check character.
pub fn national_id_ok(id: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes[..17].iter().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    bytes[17].to_ascii_uppercase() == CHECK[(sum % 11) as usize]
}

/// Whether `code` is an 18-character unified social credit code with a valid check character.
pub fn credit_code_ok(code: &str) -> bool {
    const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    let bytes = code.as_bytes();
    if bytes.len() != 18 {
        return false;
    }
    let value = |b: u8| ALPHABET.iter().position(|a| *a == b.to_ascii_uppercase());
    let Some(sum) = bytes[..17].iter().zip(WEIGHTS).try_fold(0usize, |acc, (b, w)| Some(acc + value(*b)? * w)) else {
        return false;
    };
    let check = (31 - sum % 31) % 31;
    value(bytes[17]) == Some(check)
}

/// Whether `vin` is 17 characters (no I, O or Q) whose 9th is the check digit.
pub fn vin_ok(vin: &str) -> bool {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let bytes = vin.as_bytes();
    if bytes.len() != 17 {
        return false;
    }
    let value = |b: u8| -> Option<u32> {
        match b.to_ascii_uppercase() {
            d @ b'0'..=b'9' => Some(u32::from(d - b'0')),
            b'A' | b'J' => Some(1),
            b'B' | b'K' | b'S' => Some(2),
            b'C' | b'L' | b'T' => Some(3),
            b'D' | b'M' | b'U' => Some(4),
            b'E' | b'N' | b'V' => Some(5),
            b'F' | b'W' => Some(6),
            b'G' | b'P' | b'X' => Some(7),
            b'H' | b'Y' => Some(8),
            b'R' | b'Z' => Some(9),
            _ => None,
        }
    };
    let Some(sum) = bytes.iter().zip(WEIGHTS).try_fold(0u32, |acc, (b, w)| Some(acc + value(*b)? * w)) else {
        return false;
    };
    let check = match sum % 11 {
        10 => b'X',
        d => b'0' + d as u8,
    };
    bytes[8].to_ascii_uppercase() == check
}

/// The birth date a national ID carries (characters 7 to 14), if the ID is well formed.
pub fn birth_date(id: &str) -> Option<NaiveDate> {
    if !national_id_ok(id) {
        return None;
    }
    NaiveDate::parse_from_str(id.get(6..14)?, "%Y%m%d").ok()
}

/// Whether `card` is a bank card number: 12 to 19 digits whose last is the Luhn check digit.
pub fn bank_card_ok(card: &str) -> bool {
    let digits: Vec<u32> =
        card.chars().filter(|c| *c != ' ').map(|c| c.to_digit(10)).collect::<Option<_>>().unwrap_or_default();
    if !(12..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 1 { if *d * 2 > 9 { *d * 2 - 9 } else { *d * 2 } } else { *d })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `phone` is a mainland mobile number: 11 digits starting 13 to 19 (with or without +86,
/// spaces and dashes).
pub fn mobile_ok(phone: &str) -> bool {
    let key = phone_key(phone);
    let shaped = phone.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '+'));
    shaped && key.len() == 11 && key.starts_with('1') && key.as_bytes()[1] >= b'3'
}

/// A phone number as the blind index keys it: its digits, without China's country code, so that
/// `+86 138-1234-5678` and `13812345678` find each other.
pub fn phone_key(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix("86") {
        Some(national) if national.len() == 11 => national.to_owned(),
        _ => digits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids() {
        // The standard's example numbers.
        assert!(national_id_ok("11010519491231002X"));
        assert!(national_id_ok("440524188001010014"));
        assert!(!national_id_ok("110105194912310021"));
        assert!(!national_id_ok("11010519491231002"));
    }

    #[test]
    fn credit_codes() {
        assert!(credit_code_ok("91350100M000100Y43"));
        assert!(!credit_code_ok("91350100M000100Y44"));
        assert!(!credit_code_ok("91350100M000100YI3"));
    }

    #[test]
    fn vins() {
        assert!(vin_ok("1M8GDM9AXKP042788"));
        assert!(vin_ok("11111111111111111"));
        assert!(!vin_ok("1M8GDM9A1KP042788"));
        assert!(!vin_ok("1M8GDM9AXKP04278O"));
    }

    #[test]
    fn birth_dates_and_bank_cards_and_mobiles() {
        assert_eq!(birth_date("11010519491231002X"), NaiveDate::from_ymd_opt(1949, 12, 31));
        assert_eq!(birth_date("110105194912310021"), None, "a wrong check character carries nothing");
        // Published test numbers: Visa, UnionPay.
        assert!(bank_card_ok("4111 1111 1111 1111"));
        assert!(!bank_card_ok("4111111111111112"));
        assert!(!bank_card_ok("41111111111"), "too short");
        assert!(!bank_card_ok("4111-1111-1111-1111"));
        assert!(mobile_ok("13812345678") && mobile_ok("+86 138-1234-5678") && mobile_ok("19912345678"));
        assert!(!mobile_ok("12812345678") && !mobile_ok("0755-88881234") && !mobile_ok("1381234567a"));
    }

    /// The check digit `luhn` would append to `body`.
    fn luhn_digit(body: &[u32]) -> u32 {
        let sum: u32 = body
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| if i % 2 == 0 { if *d * 2 > 9 { *d * 2 - 9 } else { *d * 2 } } else { *d })
            .sum();
        (10 - sum % 10) % 10
    }

    proptest::proptest! {
        #[test]
        fn a_card_with_its_luhn_digit_passes_and_any_one_digit_changed_fails(
            body in proptest::collection::vec(0u32..10, 11..19),
            at in 0usize..19,
            by in 1u32..10,
        ) {
            let mut digits = body.clone();
            digits.push(luhn_digit(&body));
            let text = |d: &[u32]| d.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect::<String>();
            proptest::prop_assert!(bank_card_ok(&text(&digits)));
            let at = at % digits.len();
            digits[at] = (digits[at] + by) % 10;
            proptest::prop_assert!(!bank_card_ok(&text(&digits)));
        }

        #[test]
        fn a_national_id_with_its_check_character_passes_and_one_digit_changed_fails(
            body in proptest::collection::vec(0u8..10, 17),
            at in 0usize..17,
            by in 1u8..10,
        ) {
            let digits: String = body.iter().map(|d| char::from(b'0' + d)).collect();
            let valid = (0..11).map(|i| format!("{digits}{}", char::from(b"10X98765432"[i]))).find(|id| national_id_ok(id));
            let valid = valid.unwrap_or_default();
            proptest::prop_assert!(national_id_ok(&valid), "one check character fits each body");
            let mut changed = valid.into_bytes();
            changed[at] = b'0' + (changed[at] - b'0' + by) % 10;
            proptest::prop_assert!(!national_id_ok(&String::from_utf8(changed).unwrap_or_default()));
        }

        #[test]
        fn a_vin_whose_ninth_character_is_wrong_fails(vin in "[A-HJ-NPR-Z0-9]{17}") {
            let check = (0..11u8).map(|d| if d == 10 { 'X' } else { char::from(b'0' + d) });
            let fitting: Vec<String> = check
                .map(|c| format!("{}{c}{}", &vin[..8], &vin[9..]))
                .filter(|v| vin_ok(v))
                .collect();
            proptest::prop_assert_eq!(fitting.len(), 1, "exactly one check character fits");
        }
    }

    #[test]
    fn phones_are_keyed_by_their_national_digits() {
        assert_eq!(phone_key("+86 138-1234-5678"), "13812345678");
        assert_eq!(phone_key("138 1234 5678"), "13812345678");
        assert_eq!(phone_key("0755-8888 1234"), "075588881234");
    }
}
