//! Watch mode (filled in below).
