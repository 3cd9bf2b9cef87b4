//! Check digits of the numbers that identify customers and vehicles: the national ID (GB 11643),
//! the unified social credit code (GB 32100) and the VIN (ISO 3779 / GB 16735).

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
    fn phones_are_keyed_by_their_national_digits() {
        assert_eq!(phone_key("+86 138-1234-5678"), "13812345678");
        assert_eq!(phone_key("138 1234 5678"), "13812345678");
        assert_eq!(phone_key("0755-8888 1234"), "075588881234");
    }
}
