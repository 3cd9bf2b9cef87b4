//! A simulated fleet: deterministic device ids per protocol, and the CSV that registers them.

use leasewatch_protocols::{DeviceId, ProtocolKind};

/// The id of simulated device `index` of `protocol`: 15-digit IMEIs, 12-digit JT/T 808 phone numbers.
pub fn device_id(protocol: ProtocolKind, index: usize) -> DeviceId {
    let text = match protocol {
        ProtocolKind::Jt808 => format!("0199{:08}", index),
        ProtocolKind::Gt06 => format!("86100{:010}", index),
        ProtocolKind::Teltonika => format!("35200{:010}", index),
        ProtocolKind::H02 => format!("41000{:010}", index),
        ProtocolKind::Mqtt => format!("86900{:010}", index),
    };
    DeviceId::new(text.as_bytes()).unwrap_or_else(|| unreachable!("simulated ids are digits"))
}

/// The registration file for `count` simulated devices, as `leasewatch devices import` reads it.
pub fn devices_csv(protocol: ProtocolKind, count: usize) -> String {
    let mut out = String::from("imei,protocol,model,sim,kind\n");
    for i in 0..count {
        let kind = if i % 2 == 0 { "wired" } else { "wireless" };
        out.push_str(&format!("{},{protocol},SIM-{protocol},,{kind}\n", device_id(protocol, i)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_ids_are_distinct_and_registrable() {
        for protocol in ProtocolKind::ALL {
            let a = device_id(protocol, 0);
            let b = device_id(protocol, 99_999);
            assert_ne!(a, b);
            assert!(a.as_str().len() == 15 || a.as_str().len() == 12);
        }
        assert_eq!(devices_csv(ProtocolKind::Gt06, 2).lines().count(), 3);
    }
}
