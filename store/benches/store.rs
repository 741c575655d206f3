//! Store benchmark (filled below).
fn main() {}
