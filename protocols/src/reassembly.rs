//! JT/T 808 sub-packages (分包): the parts of one long message, held per session until every part
//! is in, within a cap on how many messages and bytes may be half-received at once.

use std::collections::BTreeMap;

/// Sub-packages of one message waiting for the rest, per session.
#[derive(Debug, Default)]
pub struct Reassembly {
    pending: Vec<Pending>,
}

#[derive(Debug)]
struct Pending {
    msg_id: u16,
    first_serial: u16,
    total: u16,
    /// The parts in so far, by index: only what arrived is held, whatever total a frame claims.
    parts: BTreeMap<u16, Vec<u8>>,
    bytes: usize,
}

impl Reassembly {
    /// How many messages may be half-received at once.
    const MAX_PENDING: usize = 4;

    /// Adds package `index` (1-based) of `total`; returns the whole body once every package is in.
    pub(crate) fn add(
        &mut self,
        msg_id: u16,
        serial: u16,
        total: u16,
        index: u16,
        body: &[u8],
        max_bytes: usize,
    ) -> Option<Vec<u8>> {
        if total == 0 || index == 0 || index > total {
            return None;
        }
        let first_serial = serial.wrapping_sub(index - 1);
        let at =
            self.pending.iter().position(|p| p.msg_id == msg_id && p.first_serial == first_serial && p.total == total);
        let at = match at {
            Some(at) => at,
            None => {
                if self.pending.len() == Self::MAX_PENDING {
                    self.pending.remove(0);
                }
                self.pending.push(Pending { msg_id, first_serial, total, parts: BTreeMap::new(), bytes: 0 });
                self.pending.len() - 1
            }
        };
        let pending = &mut self.pending[at];
        if pending.bytes + body.len() > max_bytes * 64 {
            self.pending.remove(at);
            return None;
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = pending.parts.entry(index) {
            pending.bytes += body.len();
            slot.insert(body.to_vec());
        }
        if pending.parts.len() < usize::from(total) {
            return None;
        }
        let done = self.pending.remove(at);
        Some(done.parts.into_values().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_total_costs_nothing_until_parts_arrive() {
        let mut r = Reassembly::default();
        assert_eq!(r.add(0x0801, 10, u16::MAX, 1, b"a", 16 * 1024), None);
        assert_eq!(r.pending[0].parts.len(), 1);
    }

    #[test]
    fn parts_in_any_order_make_the_whole_body_once() {
        let mut r = Reassembly::default();
        assert_eq!(r.add(0x0801, 12, 3, 3, b"c", 1024), None);
        assert_eq!(r.add(0x0801, 10, 3, 1, b"a", 1024), None);
        assert_eq!(r.add(0x0801, 10, 3, 1, b"a", 1024), None, "a resent part counts once");
        assert_eq!(r.add(0x0801, 11, 3, 2, b"b", 1024), Some(b"abc".to_vec()));
        assert!(r.pending.is_empty());
    }
}
