//! Fuzzes the H02 decoder: any byte stream, framed and decoded as a device connection would be,
//! with the replies it asks for; nothing may panic.
#![no_main]

use leasewatch_protocols::{H02, Session, decode_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    decode_all::<H02>(data, &mut Session::default(), chrono::DateTime::UNIX_EPOCH);
});
