//! Rebuilds when a migration is added, so that the migrations the tests embed are never stale.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
