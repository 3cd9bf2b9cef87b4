//! Fuzzes the Teltonika decoder: any byte stream, framed and decoded as a device connection would be,
//! with the replies it asks for; nothing may panic.
#![no_main]

use leasewatch_protocols::{Teltonika, Session, decode_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    decode_all::<Teltonika>(data, &mut Session::default(), chrono::DateTime::UNIX_EPOCH);
});
