//! Rebuilds when a migration is added, so that the embedded migrations (`MIGRATOR`) are never stale.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
