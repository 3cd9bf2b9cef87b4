//! The console embeds browser libraries from pinned npm packages (`assets/package-lock.json`);
//! `scripts/setup.sh` installs them. Say so plainly when they are missing. Rebuilds when a
//! migration is added, so that the migrations the tests embed are never stale.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    let installed = std::path::Path::new("assets/node_modules/.package-lock.json");
    println!("cargo:rerun-if-changed=assets/node_modules/.package-lock.json");
    println!("cargo:rerun-if-changed=assets/package-lock.json");
    if !installed.exists() {
        println!(
            "cargo::error=the console's browser libraries are not installed: run scripts/setup.sh \
             (or `npm ci --ignore-scripts` in admin/assets)"
        );
    }
}
