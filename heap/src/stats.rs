//! Collector statistics and the heap-limit error.

use core::fmt;

/// A snapshot of one heap's collector figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Bytes of private memory held from the system (all chunks).
    pub bytes_in_use: usize,
    /// Bytes of objects that survived the last collection.
    pub live_after_last_gc: usize,
    pub minor_count: u64,
    pub major_count: u64,
    pub total_pause_ns: u64,
    pub last_pause_ns: u64,
    /// The byte limit, if any.
    pub limit: Option<usize>,
}

/// Allocation failures. The runtime turns both into the exit reason
/// `{:heap-limit bytes}` (bytes: what the heap held).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeapError {
    /// Allocating would take the heap past its byte limit.
    Limit { limit: usize, in_use: usize },
    /// The system allocator refused `requested` bytes (or the process-wide
    /// hard limit, `memory::set_hard_limit`, would have been passed).
    OutOfMemory { requested: usize, in_use: usize },
}

impl HeapError {
    /// Bytes the heap held when the allocation failed.
    pub fn in_use(&self) -> usize {
        match self {
            HeapError::Limit { in_use, .. } | HeapError::OutOfMemory { in_use, .. } => *in_use,
        }
    }
}

impl fmt::Display for HeapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeapError::Limit { limit, .. } => write!(f, "heap limit of {limit} bytes exceeded"),
            HeapError::OutOfMemory { requested, .. } => {
                write!(f, "out of memory allocating {requested} bytes")
            }
        }
    }
}

impl std::error::Error for HeapError {}
