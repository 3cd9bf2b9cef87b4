//! Shards: how a vehicle's telemetry is spread over monitor instances. Every part computes a key's
//! shard the same way, so a vehicle's trackers always meet in one shard.

/// The shard of `key` (a vehicle, else a device) among `shards`: a multiplicative hash, so that
/// consecutive ids spread evenly whatever the number of shards.
pub fn of(key: i64, shards: u16) -> u16 {
    let hash = (key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    (hash % u64::from(shards.max(1))) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_evenly_and_always_land_in_range() {
        let mut counts = [0_u32; 16];
        for key in 1..=16_000 {
            counts[usize::from(of(key, 16))] += 1;
        }
        assert!(counts.iter().all(|c| (900..=1100).contains(c)), "{counts:?}");
        assert_eq!(of(-5, 0), 0);
        assert!((i64::MIN..i64::MIN + 100).all(|k| of(k, 7) < 7));
    }
}
