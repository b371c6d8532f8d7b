//! Calling C from Valk: libffi call interfaces, dlopen/dlsym, marshalling.
//!
//! Nothing here yet: it is built by its own issue on top of `lang`.
#![forbid(unsafe_code)]
