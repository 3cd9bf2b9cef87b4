//! How many device connections one process can hold: each is a socket, and a process may have
//! only so many files open. The soft limit is raised to the hard one at start; what the process
//! needs besides device sockets (database connections, listeners, the HTTP side, the spool) is
//! kept back, and the connection limit is the smaller of the rest and `max_connections`.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Files kept back for everything but device sockets.
pub const RESERVED_FILES: u64 = 256;

/// The open-file limit and the device connections it leaves room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// The process's open-file limit after raising it.
    pub open_files: u64,
    /// Device connections accepted at most.
    pub connections: usize,
}

/// Raises the open-file soft limit to the hard limit and works out the connection capacity under
/// `max_connections`. Where the limit cannot be read, `max_connections` stands.
pub fn raise_and_measure(max_connections: usize) -> Capacity {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Capacity { open_files: u64::MAX, connections: max_connections };
    };
    let open_files = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() { hard } else { soft };
    Capacity { open_files, connections: connections_for(open_files, max_connections) }
}

/// Device connections that fit in `open_files`, at most `max_connections`.
pub fn connections_for(open_files: u64, max_connections: usize) -> usize {
    let room = usize::try_from(open_files.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
    room.min(max_connections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_file_limit_less_the_reserve_bounds_the_connections() {
        assert_eq!(connections_for(20_000, 100_000), 19_744);
        assert_eq!(connections_for(1_048_576, 100_000), 100_000);
        assert_eq!(connections_for(100, 100_000), 0);
    }
}
