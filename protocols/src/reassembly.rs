//! JT/T 808 sub-packages (分包): the parts of one long message, held per session until every part
//! is in, within a cap on how many messages and bytes may be half-received at once.

/// Sub-packages of one message waiting for the rest, per session.
#[derive(Debug, Default)]
pub struct Reassembly {
    pending: Vec<Pending>,
}

#[derive(Debug)]
struct Pending {
    msg_id: u16,
    first_serial: u16,
    parts: Vec<Option<Vec<u8>>>,
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
        let at = self
            .pending
            .iter()
            .position(|p| p.msg_id == msg_id && p.first_serial == first_serial && p.parts.len() == usize::from(total));
        let at = match at {
            Some(at) => at,
            None => {
                if self.pending.len() == Self::MAX_PENDING {
                    self.pending.remove(0);
                }
                self.pending.push(Pending { msg_id, first_serial, parts: vec![None; usize::from(total)], bytes: 0 });
                self.pending.len() - 1
            }
        };
        let pending = &mut self.pending[at];
        if pending.bytes + body.len() > max_bytes * 64 {
            self.pending.remove(at);
            return None;
        }
        let slot = &mut pending.parts[usize::from(index - 1)];
        if slot.is_none() {
            pending.bytes += body.len();
            *slot = Some(body.to_vec());
        }
        if pending.parts.iter().any(Option::is_none) {
            return None;
        }
        let done = self.pending.remove(at);
        Some(done.parts.into_iter().flatten().flatten().collect())
    }
}
