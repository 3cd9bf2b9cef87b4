//! Versioned updates: a change names the version it was read at; a record changed since is a
//! conflict that names its current version, so no one overwrites what they did not see.

use crate::error::Error;

/// A record that moves through states and is changed at a version.
pub trait Stateful {
    /// The version it is at.
    fn version(&self) -> i32;
    /// The state it is in.
    fn status(&self) -> &str;
}

/// Makes a record with `id`, `region_id`, `version` and `status` fields audited as `$entity`
/// ([`Audited`](crate::kit::audit::Audited)) and [`Stateful`].
#[macro_export]
macro_rules! stateful_record {
    ($record:ty, $entity:literal) => {
        impl $crate::kit::audit::Audited for $record {
            const ENTITY: &'static str = $entity;
            fn id(&self) -> i64 {
                self.id
            }
            fn region_id(&self) -> i64 {
                self.region_id
            }
        }

        impl $crate::kit::version::Stateful for $record {
            fn version(&self) -> i32 {
                self.version
            }
            fn status(&self) -> &str {
                &self.status
            }
        }
    };
}

/// `Ok` when the record is still at the version the change was read at.
pub fn check(read: i32, current: i32) -> Result<(), Error> {
    if read == current { Ok(()) } else { Err(Error::stale(current)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_version_is_a_conflict_naming_the_current_one() {
        assert!(check(3, 3).is_ok());
        let Err(Error::Conflict { code, detail }) = check(2, 3) else { panic!("accepted") };
        assert_eq!(code, "version_conflict");
        assert!(detail.contains('3'));
    }
}
