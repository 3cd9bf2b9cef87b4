//! Fuzzes the Teltonika decoder: any byte stream, framed and decoded as a device connection would be,
//! with the replies it asks for; nothing may panic.
#![no_main]

use leasewatch_protocols::{Chunk, Frames, Protocol, Session, Teltonika};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut session = Session::default();
    let mut out = Vec::new();
    let mut reply = Vec::new();
    for (_, chunk) in Frames::<Teltonika>::new(data, session.config.max_frame_len) {
        if let Chunk::Frame(frame) = chunk {
            if let Ok(ack) = Teltonika::decode(frame, &mut session, &mut out) {
                Teltonika::write_reply(&ack, &mut session, chrono::DateTime::UNIX_EPOCH, &mut reply);
            }
        }
        out.clear();
        reply.clear();
    }
});
