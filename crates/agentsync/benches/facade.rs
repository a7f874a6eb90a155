//! Placeholder until the facade benches land.
fn main() {}
