//! Rebuilds when the built-in rule packs change: they are embedded in the binary.

fn main() {
    println!("cargo:rerun-if-changed=rules/compliance");
}
