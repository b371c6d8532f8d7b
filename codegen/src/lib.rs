//! Valk IR -> LLVM IR (inkwell): the JIT tier and AOT object output.
//!
//! Nothing here yet: the language core (`lang`) and its IR land first.
#![forbid(unsafe_code)]
