//! The runtime-wide memory ceiling (`Options.max_memory`, `valk run
//! --max-memory`): past it, the actor holding the most memory is killed with
//! `{:heap-limit bytes}` and the kill is logged, instead of the process
//! dying in the allocator. BEAM has no such thing (it dies with
//! `eheap_alloc: Cannot allocate`).
//!
//! How memory is counted: every chunk, message buffer and shared object the
//! heap takes from the system goes through `valk_heap::memory`, which keeps
//! one process-wide figure (batched per thread, exact to 256 KiB a thread);
//! the scheduler keeps another for queued messages' slots
//! (`valk_scheduler::queued_message_bytes`): [`memory_in_use`] is their sum.
//! Each actor reports its own share (heap plus unreceived messages) through
//! `Actor::heap_bytes` after each slice.
//!
//! How the victim is found: one process-wide governor thread, started with
//! the first runtime that has a ceiling and ended with the last, wakes every
//! `POLL` and compares the figure with the lowest ceiling of the runtimes
//! alive. Over it, it first empties the chunk pool (free memory the heap
//! keeps for reuse); still over, it sends the heaviest actor of those
//! runtimes an untrappable exit signal `{:heap-limit bytes}` and logs one
//! line to stderr, then waits for it to die before looking again. A thread,
//! not a check on the allocation path: the hot path stays a thread-local
//! add, and the kill needs the scheduler's view of every actor.
//!
//! Between two looks an actor may allocate a lot (one builtin can build a
//! huge list in one slice). So the heap also gets a hard limit a quarter
//! above the ceiling (`valk_heap::memory::set_hard_limit`): past it every
//! heap allocation fails, and the allocating actor dies with
//! `{:heap-limit bytes}` on its own.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use valk_heap::memory::set_hard_limit;
use valk_scheduler::Pid;
use valk_sync::statics::Mutex;

/// How often the governor looks (10 ms: an interpreter allocating flat out
/// takes tens of megabytes in that time, well inside the hard limit's
/// margin).
const POLL: Duration = Duration::from_millis(10);

/// An actor holding less than this share of the ceiling (1/64) is not
/// worth killing: the excess is elsewhere (globals in the shared heap).
const MIN_VICTIM_SHARE: usize = 64;

/// The process figure the ceiling applies to: what the heap holds from the
/// system and what mailboxes hold (queued messages' slots).
pub fn memory_in_use() -> usize {
    valk_heap::memory::allocated_bytes() + valk_scheduler::queued_message_bytes()
}

/// What the governor needs of a runtime.
pub(crate) trait Governed: Send + Sync {
    /// The live actor holding the most memory, with its bytes.
    fn heaviest_actor(&self) -> Option<(Pid, usize)>;
    /// End `pid` with `{:heap-limit bytes}`.
    fn kill_for_memory(&self, pid: Pid, bytes: usize);
    /// Is `pid` alive?
    fn alive(&self, pid: Pid) -> bool;
}

struct Watched {
    id: u64,
    ceiling: usize,
    runtime: Weak<dyn Governed>,
}

struct Registry {
    next_id: u64,
    watched: Vec<Watched>,
    thread_running: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next_id: 0,
    watched: Vec::new(),
    thread_running: false,
});

/// A runtime's place under the governor; dropping it ends the watch.
pub(crate) struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut r = REGISTRY.lock();
        r.watched.retain(|w| w.id != self.0);
        update_hard_limit(&r);
    }
}

/// Watch `runtime` with `ceiling` bytes for the whole process.
pub(crate) fn register(ceiling: usize, runtime: Weak<dyn Governed>) -> Registration {
    let mut r = REGISTRY.lock();
    let id = r.next_id;
    r.next_id += 1;
    r.watched.push(Watched {
        id,
        ceiling,
        runtime,
    });
    update_hard_limit(&r);
    if !r.thread_running {
        // A process-wide thread, like the statics it serves: std's.
        let started = std::thread::Builder::new()
            .name("valk-memory".into())
            .spawn(govern);
        // Without the thread only the hard limit holds: still no abort.
        r.thread_running = started.is_ok();
    }
    Registration(id)
}

/// The hard limit for the lowest ceiling: a quarter above it (at least
/// 64 MiB above), none when nothing is watched.
fn update_hard_limit(r: &Registry) {
    let lowest = r.watched.iter().map(|w| w.ceiling).min();
    set_hard_limit(lowest.map(|c| c.saturating_add((c / 4).max(64 << 20))));
}

/// The governor thread: look every `POLL` until no runtime is watched.
fn govern() {
    loop {
        std::thread::sleep(POLL);
        let runtimes = {
            let mut r = REGISTRY.lock();
            let Some(ceiling) = r.watched.iter().map(|w| w.ceiling).min() else {
                r.thread_running = false;
                return;
            };
            if memory_in_use() <= ceiling {
                continue;
            }
            // Strong references only while enforcing: a runtime whose last
            // handle goes meanwhile stops when this is done with it.
            let live: Vec<Arc<dyn Governed>> = r
                .watched
                .iter()
                .filter_map(|w| w.runtime.upgrade())
                .collect();
            (ceiling, live)
        };
        enforce(runtimes.0, &runtimes.1);
    }
}

/// Over the ceiling: free the pool, then kill the heaviest actor.
fn enforce(ceiling: usize, runtimes: &[Arc<dyn Governed>]) {
    valk_heap::trim_chunk_pool();
    let total = memory_in_use();
    if total <= ceiling {
        return;
    }
    let victim = runtimes
        .iter()
        .filter_map(|rt| rt.heaviest_actor().map(|(pid, bytes)| (rt, pid, bytes)))
        .max_by_key(|&(_, _, bytes)| bytes);
    let Some((rt, pid, bytes)) = victim else {
        return;
    };
    if bytes < ceiling / MIN_VICTIM_SHARE {
        return;
    }
    rt.kill_for_memory(pid, bytes);
    eprintln!(
        "valk: memory ceiling of {ceiling} bytes passed ({total} bytes in use): \
         killed actor {pid} holding {bytes} bytes"
    );
    // Let it die (and its memory go) before looking again, so one excess
    // costs one actor.
    let deadline = Instant::now() + Duration::from_secs(1);
    while rt.alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The default ceiling: 80% of physical memory, or of the cgroup's memory
/// limit if lower; under an address-space limit (`ulimit -v`), also at most
/// half of the address space left at start (the rest is stacks, code, the
/// allocator's reservations and collection to-space).
pub fn default_max_memory() -> usize {
    let mut physical = mem_total().unwrap_or(usize::MAX);
    if let Some(cgroup) = cgroup_limit() {
        physical = physical.min(cgroup);
    }
    let mut ceiling = physical / 10 * 8;
    if let (Some(limit), Some(used)) = (address_space_limit(), vm_size()) {
        ceiling = ceiling.min(limit.saturating_sub(used) / 2);
    }
    ceiling.max(16 << 20)
}

/// A size in bytes: digits with an optional suffix K, M, G or T (powers of
/// 1024, with or without a trailing `B` or `iB`, any case): `512M`, `2G`,
/// `1048576`.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(digits_end);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size (like 512M or 2G)"))?;
    let shift = match suffix.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => {
            return Err(format!(
                "`{text}` has an unknown size suffix (use K, M, G or T)"
            ))
        }
    };
    n.checked_mul(1 << shift)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("`{text}` is not a usable size"))
}

/// `MemTotal` from /proc/meminfo.
fn mem_total() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    kib_field(&info, "MemTotal:")
}

/// This process's virtual size (`VmSize` from /proc/self/status).
fn vm_size() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, "VmSize:")
}

/// The value in bytes of a `NAME: N kB` line.
fn kib_field(text: &str, name: &str) -> Option<usize> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: usize = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The cgroup's memory limit (v2, then v1), if one is set.
fn cgroup_limit() -> Option<usize> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .find_map(|s| s.trim().parse::<usize>().ok())
    // v1 says "no limit" with a huge number.
    .filter(|&b| b < (1 << 60))
}

/// The soft address-space limit (`ulimit -v`), if one is set.
fn address_space_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    line["Max address space".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_suffixes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("3mb"), Ok(3 << 20));
        assert!(parse_size("").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("12Q")
            .unwrap_err()
            .contains("unknown size suffix"));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn the_default_ceiling_is_a_share_of_physical_memory() {
        let d = default_max_memory();
        assert!(d >= 16 << 20);
        if let Some(total) = mem_total() {
            assert!(d <= total / 10 * 8);
        }
    }
}
