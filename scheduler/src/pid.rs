//! Process identifiers and unique references.
//!
//! A [`Pid`] is a generational key: the slot index in the actor table plus the
//! generation the slot had when the actor was spawned. When an actor dies its
//! slot's generation is bumped, so an old pid can never reach the slot's next
//! occupant: a message to a dead actor is dropped, not delivered to a stranger.

use std::fmt;

/// An actor's identity. `Copy`, hashable, and round-trips through a `u64` so a
/// language runtime can box it in one word.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid {
    index: u32,
    generation: u32,
}

impl Pid {
    pub(crate) const fn new(index: u32, generation: u32) -> Pid {
        Pid { index, generation }
    }

    /// Slot index in the actor table (reused after the actor dies).
    pub const fn index(self) -> u32 {
        self.index
    }

    /// Generation of the slot when this actor was spawned.
    pub const fn generation(self) -> u32 {
        self.generation
    }

    /// Packs the pid into one word: generation in the high half.
    pub const fn to_u64(self) -> u64 {
        ((self.generation as u64) << 32) | self.index as u64
    }

    /// Inverse of [`Pid::to_u64`]. Any `u64` is a valid (possibly dead) pid.
    pub const fn from_u64(bits: u64) -> Pid {
        Pid {
            index: bits as u32,
            generation: (bits >> 32) as u32,
        }
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<0.{}.{}>", self.index, self.generation)
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

macro_rules! unique_ref {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub struct $name(pub(crate) u64);

        impl $name {
            /// The reference as one word (unique within a runtime).
            pub const fn to_u64(self) -> u64 {
                self.0
            }

            /// Inverse of `to_u64`.
            pub const fn from_u64(bits: u64) -> Self {
                $name(bits)
            }
        }
    };
}

unique_ref!(
    /// Identifies one monitor (`monitor` / `spawn-monitor`), carried in its DOWN message.
    MonitorRef
);
unique_ref!(
    /// Identifies one `send-after` timer, for `cancel-timer`.
    TimerRef
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_round_trips_through_u64() {
        let pid = Pid::new(42, 7);
        assert_eq!(Pid::from_u64(pid.to_u64()), pid);
        assert_eq!(format!("{pid}"), "<0.42.7>");
        assert_ne!(Pid::new(42, 8), pid);
    }

    #[test]
    fn pid_is_one_word() {
        assert_eq!(std::mem::size_of::<Pid>(), 8);
    }
}
