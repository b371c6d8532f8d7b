//! Native code built ahead of time (`valk build`), and its loading.
//!
//! At build time every function the program defines with `fun` is planned
//! as a *whole unit* (itself and every function it reaches, in a fixed
//! order) and lowered with [`Linking::Table`]: the code reads the
//! runtime's addresses and guard values from a table of its own, since
//! they exist only in the process that will run it. The units are
//! compiled to object files, linked by the system's C compiler into one
//! shared object, and carried in the executable with a [`manifest`]:
//! each unit's key and the meaning of each word of its table.
//!
//! At run time the shared object is mapped ([`load`]; `memfd` + `dlopen`,
//! no compiler involved). When the tier is asked for a function, the
//! compile thread plans its whole unit against the live globals and
//! renders its [`unit_key`]: the unit's IR with every symbol by name. If
//! the executable carries a unit with that very key, its code is what the
//! JIT would have built from the same plans; the thread fills in the
//! table (slot and flag addresses, the closures the guards expect) and
//! publishes the entries ([`Library::bind`]). Anything else (a redefined
//! function, a different program) simply misses and goes to the JIT.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, OnceLock};

use valk_heap::{intern, symbol_name};
use valk_lang::ir::Op;
use valk_lang::Globals;

use crate::lower::{self, Link};
use crate::plan::{self, live_ops, CallKind, Plan};

/// The first line of a manifest.
const MANIFEST_MAGIC: &str = "valk-native 1";

/// `root` and every function it reaches, in a fixed order: breadth
/// first, the callees of each function by name (not by symbol number or
/// code index, which differ from process to process).
pub fn whole_unit(root: u32, globals: &Globals) -> Result<Vec<Plan>, plan::Reject> {
    let mut plans: Vec<Plan> = Vec::new();
    let mut work = VecDeque::from([root]);
    while let Some(i) = work.pop_front() {
        if plans.iter().any(|p| p.index == i) {
            continue;
        }
        let p = plan::plan(i, globals)?;
        let mut callees: Vec<(&str, u32)> = p
            .callees
            .iter()
            .map(|(&sym, c)| (symbol_name(sym), c.proto))
            .collect();
        callees.sort_unstable();
        work.extend(callees.into_iter().map(|(_, proto)| proto));
        plans.push(p);
    }
    Ok(plans)
}

/// What a unit's code is made from, with every symbol by name: two units
/// with the same key lower to the same code.
pub fn unit_key(plans: &[Plan]) -> String {
    use std::fmt::Write;
    let place = |proto: u32| plans.iter().position(|p| p.index == proto);
    let mut key = String::new();
    for p in plans {
        let m = &p.proto.meta;
        let _ = writeln!(
            key,
            "fn {} params {} regs {} blocks {}",
            m.name.map_or("", symbol_name),
            m.nparams,
            m.nregs,
            p.proto.blocks.len()
        );
        let mut callees: Vec<(&str, Option<usize>)> = p
            .callees
            .iter()
            .map(|(&sym, c)| (symbol_name(sym), place(c.proto)))
            .collect();
        callees.sort_unstable();
        for (name, at) in callees {
            let _ = writeln!(key, "callee {name} {at:?}");
        }
        let _ = writeln!(key, "intact {:?}", p.intact);
        for (b, _) in p.reachable.iter().enumerate().filter(|(_, r)| **r) {
            let _ = writeln!(key, "block {b}");
            for (k, op) in live_ops(p.proto, b).iter().enumerate() {
                let call = match p.calls.get(&(b, k)) {
                    Some(CallKind::Direct(sym)) => format!(" calls {}", symbol_name(*sym)),
                    Some(CallKind::Sequence) => " sequence".to_string(),
                    None => String::new(),
                };
                let _ = writeln!(key, "  {}{call}", op_text(op));
            }
        }
    }
    key
}

/// An op's text with its symbol by name.
fn op_text(op: &Op) -> String {
    let mut op = op.clone();
    let sym = match &mut op {
        Op::Global { sym, .. } | Op::GlobalHead { sym, .. } => Some(std::mem::take(sym)),
        _ => None,
    };
    match sym {
        Some(s) => format!("{op:?} @{}", symbol_name(s)),
        None => format!("{op:?}"),
    }
}

/// A [`Link`] by name (what a manifest says).
fn link_text(link: Link) -> String {
    match link {
        Link::Yield => "yield".into(),
        Link::Intact(i) => format!("intact {i}"),
        Link::Slot(sym) => format!("slot {}", symbol_name(sym)),
        Link::Expected(sym) => format!("expected {}", symbol_name(sym)),
    }
}

/// One unit in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitEntry {
    /// Its number (in its symbols).
    pub id: u64,
    /// The unit's root function's name.
    pub root: String,
    /// Its [`unit_key`].
    pub key: String,
    /// Its table's words, by [`link_text`].
    pub links: Vec<String>,
}

/// The unit of `plans` (numbered `id`) as a manifest entry; its links in
/// table order.
pub fn unit_entry(id: u64, plans: &[Plan]) -> (UnitEntry, Vec<Link>) {
    let links = lower::links_of(plans);
    let entry = UnitEntry {
        id,
        root: plans[0].proto.meta.name.map_or("", symbol_name).to_string(),
        key: unit_key(plans),
        links: links.iter().map(|&l| link_text(l)).collect(),
    };
    (entry, links)
}

/// The manifest text of `units`.
pub fn manifest(units: &[UnitEntry]) -> String {
    let mut s = format!("{MANIFEST_MAGIC}\n");
    for u in units {
        s.push_str(&format!(
            "unit {} {} {} {}\n",
            u.id,
            u.links.len(),
            u.key.len(),
            u.root
        ));
        for l in &u.links {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str(&u.key);
    }
    s
}

/// The units of a manifest; `None` if it is not one.
pub fn parse_manifest(text: &str) -> Option<Vec<UnitEntry>> {
    let rest = text.strip_prefix(MANIFEST_MAGIC)?.strip_prefix('\n')?;
    let mut rest = rest;
    let mut units = Vec::new();
    while !rest.is_empty() {
        let (head, tail) = rest.split_once('\n')?;
        let mut f = head.strip_prefix("unit ")?.splitn(4, ' ');
        let id = f.next()?.parse().ok()?;
        let nlinks: usize = f.next()?.parse().ok()?;
        let keylen: usize = f.next()?.parse().ok()?;
        let root = f.next().unwrap_or("").to_string();
        rest = tail;
        let mut links = Vec::with_capacity(nlinks.min(1024));
        for _ in 0..nlinks {
            let (l, tail) = rest.split_once('\n')?;
            links.push(l.to_string());
            rest = tail;
        }
        let key = rest.get(..keylen)?.to_string();
        rest = rest.get(keylen..)?;
        units.push(UnitEntry {
            id,
            root,
            key,
            links,
        });
    }
    Some(units)
}

/// The loaded native code of this executable.
pub struct Library {
    lib: libloading::Library,
    /// Units by key: (entry, already bound).
    units: Mutex<HashMap<String, (UnitEntry, bool)>>,
    /// The names of the units' roots.
    roots: HashSet<u32>,
}

static LIBRARY: OnceLock<Library> = OnceLock::new();

/// The native code [`load`] mapped, if any.
pub fn library() -> Option<&'static Library> {
    LIBRARY.get()
}

/// Maps the shared object `image` described by `manifest_text`, for the
/// process's lifetime (its code may run on any actor's stack, so it is
/// never unmapped). `Err`: why not (the program then runs on the JIT).
pub fn load(image: &[u8], manifest_text: &str) -> Result<(), String> {
    let units = parse_manifest(manifest_text).ok_or("a malformed manifest")?;
    let lib = open_image(image)?;
    let roots = units.iter().map(|u| intern(&u.root)).collect();
    let units = units
        .into_iter()
        .map(|u| (u.key.clone(), (u, false)))
        .collect();
    LIBRARY
        .set(Library {
            lib,
            units: Mutex::new(units),
            roots,
        })
        .map_err(|_| "native code is loaded already".to_string())
}

/// Maps `image` from a memfd, or where that fails (some systems forbid
/// running code from memfds: `vm.memfd_noexec`) from a temporary file.
#[cfg(target_os = "linux")]
fn open_image(image: &[u8]) -> Result<libloading::Library, String> {
    open_from_memfd(image)
        .or_else(|first| open_from_temp_file(image).map_err(|e| format!("{first}; {e}")))
}

#[cfg(target_os = "linux")]
fn open_from_memfd(image: &[u8]) -> Result<libloading::Library, String> {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: `memfd_create` takes a NUL-terminated name and flags; it
    // returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(c"valk-native".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a descriptor we just opened and own alone.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(image).map_err(|e| format!("memfd: {e}"))?;
    open_shared(std::path::Path::new(&format!("/proc/self/fd/{fd}")))
}

/// A file of a fresh random name, created exclusively and readable by
/// this user only (a predictable name in a shared directory would let
/// another user plant a link or swap the code before `dlopen`), removed
/// once mapped.
#[cfg(target_os = "linux")]
fn open_from_temp_file(image: &[u8]) -> Result<libloading::Library, String> {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix("valk-native-")
        .suffix(".so")
        .tempfile()
        .map_err(|e| format!("a temporary file: {e}"))?;
    file.write_all(image)
        .and_then(|()| file.flush())
        .map_err(|e| format!("{}: {e}", file.path().display()))?;
    open_shared(file.path())
}

#[cfg(target_os = "linux")]
fn open_shared(path: &std::path::Path) -> Result<libloading::Library, String> {
    // SAFETY: the image is a shared object `valk build` linked from code
    // the native tier generated: it has no initialisers and runs nothing
    // when loaded.
    unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())
}

#[cfg(not(target_os = "linux"))]
fn open_image(_: &[u8]) -> Result<libloading::Library, String> {
    Err("native code in executables is loaded on Linux only".into())
}

/// A bound function: (code index, C entry, checked entry).
pub type Bound = (u32, usize, usize);

impl Library {
    /// Is there a unit whose root is named `name` (a symbol)?
    pub fn has_root(&self, name: u32) -> bool {
        self.roots.contains(&name)
    }

    /// Binds the unit whose key `plans` (a [`whole_unit`] planned against
    /// `globals`) have, if this library has one not bound yet: fills its
    /// table and answers its functions' entries, in `plans`' order.
    /// Publishing them is the caller's.
    pub fn bind(&self, plans: &[Plan], globals: &Globals) -> Option<Vec<Bound>> {
        let key = unit_key(plans);
        let mut units = self.units.lock().unwrap_or_else(|e| e.into_inner());
        let (unit, bound) = units.get_mut(&key)?;
        if *bound {
            return None;
        }
        let links = lower::links_of(plans);
        let texts: Vec<String> = links.iter().map(|&l| link_text(l)).collect();
        if texts != unit.links {
            return None;
        }
        let guards = lower::UnitGuards::of(plans);
        let words: Vec<u64> = links
            .iter()
            .map(|&l| lower::link_word(l, globals, &guards))
            .collect::<Option<_>>()?;
        let id = unit.id;
        // SAFETY: the table is an array of `links.len()` words the unit's
        // code reads (`Linking::Table`); no entry of this unit is published
        // yet, so no code reads it while it is written.
        unsafe {
            let table: libloading::Symbol<*mut u64> =
                self.lib.get(lower::table_symbol(id).as_bytes()).ok()?;
            for (k, w) in words.iter().enumerate() {
                table.add(k).write(*w);
            }
        }
        let mut out = Vec::with_capacity(plans.len());
        for (k, p) in plans.iter().enumerate() {
            let k = k as u32;
            // SAFETY: symbols `lower::declare` defined for this unit: plain
            // function addresses, read and never called here.
            let (entry, checked) = unsafe {
                let e: libloading::Symbol<*const ()> =
                    self.lib.get(lower::symbol(k, id).as_bytes()).ok()?;
                let c: libloading::Symbol<*const ()> =
                    self.lib.get(lower::checked_symbol(k, id).as_bytes()).ok()?;
                (*e as usize, *c as usize)
            };
            out.push((p.index, entry, checked));
        }
        *bound = true;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared object exporting `answer`, from the C compiler.
    fn shared_object() -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("answer.c");
        let so = dir.path().join("answer.so");
        std::fs::write(&c, "long answer(void) { return 42; }\n").unwrap();
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let status = std::process::Command::new(cc)
            .args(["-shared", "-fPIC", "-o"])
            .arg(&so)
            .arg(&c)
            .status()
            .expect("a C compiler (scripts/deps.sh installs one)");
        assert!(status.success());
        std::fs::read(so).unwrap()
    }

    fn leftovers() -> usize {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("valk-native-"))
            .count()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_image_maps_from_a_memfd_or_a_temporary_file_that_is_then_removed() {
        let image = shared_object();
        let before = leftovers();
        for lib in [
            open_from_memfd(&image).unwrap(),
            open_from_temp_file(&image).unwrap(),
            open_image(&image).unwrap(),
        ] {
            // SAFETY: `answer` is the C function above, `long (void)`.
            let answer = unsafe { lib.get::<unsafe extern "C" fn() -> i64>(b"answer\0") }.unwrap();
            // SAFETY: it takes nothing and only returns.
            assert_eq!(unsafe { answer() }, 42);
        }
        assert_eq!(leftovers(), before, "a temporary file was left behind");
        assert!(open_from_temp_file(b"not an ELF file").is_err());
        assert_eq!(leftovers(), before);
    }

    #[test]
    fn a_manifest_reads_back_what_was_written() {
        let units = vec![
            UnitEntry {
                id: 1,
                root: "fib".into(),
                key: "fn fib params 1\n  Imm { dst: 0 }\n".into(),
                links: vec!["yield".into(), "slot fib".into(), "expected fib".into()],
            },
            UnitEntry {
                id: 2,
                root: "tak".into(),
                key: "no newline at the end".into(),
                links: vec![],
            },
        ];
        assert_eq!(parse_manifest(&manifest(&units)), Some(units));
        assert_eq!(
            parse_manifest("valk-native 1\nunit 1 5 99 x\nyield\n"),
            None
        );
        assert_eq!(parse_manifest("something else"), None);
    }
}
