//! The C API (filled in below).
