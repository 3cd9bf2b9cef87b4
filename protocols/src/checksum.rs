//! The checksums the protocols use.

use crc::{CRC_16_ARC, CRC_16_IBM_SDLC, Crc, Table};

/// CRC-16/X-25 (CRC-ITU as GT06 documents call it), with 16 lookup tables: it runs on every frame.
static X25: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_IBM_SDLC);
/// CRC-16/ARC (Teltonika's "CRC-16/IBM").
static ARC: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_ARC);

/// CRC-ITU / CRC-16/X-25 (GT06): reflected polynomial 0x1021, init 0xFFFF, final XOR 0xFFFF.
pub fn crc_itu(data: &[u8]) -> u16 {
    X25.checksum(data)
}

/// CRC-16/IBM (ARC, Teltonika): reflected polynomial 0x8005, init 0.
pub fn crc16_ibm(data: &[u8]) -> u16 {
    ARC.checksum(data)
}

/// XOR of every byte (JT/T 808).
pub fn xor(data: &[u8]) -> u8 {
    // Eight bytes at a time: XOR is byte-wise, so folding words then their bytes is the same.
    let words = data.chunks_exact(8);
    let tail = words.remainder().iter().fold(0, |acc, b| acc ^ b);
    let word = words.fold(0_u64, |acc, w| acc ^ u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]));
    word.to_ne_bytes().iter().fold(tail, |acc, b| acc ^ b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_values_match_the_catalogue() {
        // The standard check input "123456789" and the catalogued results.
        assert_eq!(crc_itu(b"123456789"), 0x906E);
        assert_eq!(crc16_ibm(b"123456789"), 0xBB3D);
    }

    #[test]
    fn xor_of_any_length_matches_the_bytewise_fold() {
        for len in 0..40_u8 {
            let data: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0x5A).collect();
            assert_eq!(xor(&data), data.iter().fold(0, |a, b| a ^ b), "length {len}");
        }
    }

    #[test]
    fn gt06_login_reply_crc() {
        assert_eq!(crc_itu(&[0x05, 0x01, 0x00, 0x09]), 0x5594);
    }
}
