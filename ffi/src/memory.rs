//! Pointers as Valk values, and the blocks `c-malloc` hands out.
//!
//! A pointer is the heap's foreign object: an address and a tag. A block
//! from `c-malloc` is tagged with its id in the process's block table, so
//! every use checks that it is still allocated and stays inside it (`c-read`
//! and `c-write` out of bounds, a second `c-free`, or passing a freed block
//! to C are errors, whatever malloc later does with the address). A pointer
//! that came from C is tagged `:ptr`: it can be passed back to C and tested
//! with `c-null?`, but not read or written (its size is unknown).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use valk_heap::{intern, Heap, ObjKind, Value};

/// Blocks larger than this are refused (a size is user input).
pub const MAX_BLOCK: usize = 1 << 32;

struct Block {
    addr: usize,
    size: usize,
    /// C calls in progress that were given this block: it cannot be freed
    /// under them (by a callback, or by another actor).
    busy: u32,
}

/// Live blocks by id, and their ids by start address (to recognise a
/// pointer C hands back into one, like `qsort`'s comparator arguments).
#[derive(Default)]
struct Blocks {
    by_id: HashMap<i64, Block>,
    by_addr: BTreeMap<usize, i64>,
}

impl Blocks {
    /// The live block holding `addr`, if any.
    fn containing(&self, addr: usize) -> Option<i64> {
        let (_, id) = self.by_addr.range(..=addr).next_back()?;
        let b = self.by_id.get(id)?;
        (addr < b.addr + b.size.max(1)).then_some(*id)
    }
}

static BLOCKS: Mutex<Option<Blocks>> = Mutex::new(None);
static NEXT_ID: AtomicI64 = AtomicI64::new(1);

fn with_blocks<R>(f: impl FnOnce(&mut Blocks) -> R) -> R {
    let mut guard = BLOCKS.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Blocks::default))
}

fn ptr_tag() -> Value {
    Value::keyword(intern("ptr"))
}

/// A pointer value for an address C gave: one into a live `c-malloc`
/// block is that block's (checked like it), any other is `:ptr`-tagged.
pub fn foreign_pointer(heap: &mut Heap, addr: usize) -> Result<Value, String> {
    let tag = match with_blocks(|b| b.containing(addr)).and_then(Value::small_int) {
        Some(id) => id,
        None => ptr_tag(),
    };
    heap.foreign(addr, tag).map_err(|e| e.to_string())
}

/// What a pointer value is.
pub enum Pointer {
    /// From C: its address.
    Foreign(usize),
    /// Into a `c-malloc` block still allocated: the pointer's address,
    /// and the block's id, start and size.
    Block {
        id: i64,
        addr: usize,
        base: usize,
        size: usize,
    },
}

/// `v` as a pointer: an error for a freed block or anything else.
pub fn pointer(heap: &Heap, v: Value) -> Result<Pointer, String> {
    let Some((addr, tag)) = (heap.kind(v) == Some(ObjKind::Foreign))
        .then(|| heap.foreign_parts(v))
        .flatten()
    else {
        return Err(format!(
            "expected pointer, got {}",
            valk_lang::printer::type_name(heap, v)
        ));
    };
    if let Some(id) = tag.as_small_int() {
        return with_blocks(|b| match b.by_id.get(&id) {
            Some(block) => Ok(Pointer::Block {
                id,
                addr,
                base: block.addr,
                size: block.size,
            }),
            None => Err("the block was freed (use after c-free)".to_owned()),
        });
    }
    Ok(Pointer::Foreign(addr))
}

/// The address to pass to C for `v`: a pointer, `()` (NULL) or a callback.
pub fn address_of(heap: &Heap, v: Value) -> Result<usize, String> {
    if v.is_nil() || v.is_empty_s() {
        return Ok(0);
    }
    if let Some(cb) = crate::callback::callback_of(heap, v) {
        return Ok(cb.code() as usize);
    }
    match pointer(heap, v)? {
        Pointer::Foreign(a) | Pointer::Block { addr: a, .. } => Ok(a),
    }
}

/// `(c-malloc n)`: a zeroed block of `n` bytes (at least 1), aligned for
/// any C type.
pub fn malloc(heap: &mut Heap, n: i64) -> Result<Value, String> {
    let size = usize::try_from(n)
        .ok()
        .filter(|s| *s <= MAX_BLOCK)
        .ok_or_else(|| format!("size {n} is out of range (0 to {MAX_BLOCK} bytes)"))?;
    // SAFETY: calloc of a checked size; a null result is handled.
    let p = unsafe { libc::calloc(1, size.max(1)) };
    if p.is_null() {
        return Err(format!("out of memory allocating {size} bytes"));
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let tag = match Value::small_int(id) {
        Some(t) => t,
        None => {
            // SAFETY: allocated above, not handed out.
            unsafe { libc::free(p) };
            return Err("too many blocks allocated".into());
        }
    };
    let value = match heap.foreign(p as usize, tag) {
        Ok(v) => v,
        Err(e) => {
            // SAFETY: allocated above, not handed out.
            unsafe { libc::free(p) };
            return Err(e.to_string());
        }
    };
    with_blocks(|b| {
        b.by_id.insert(
            id,
            Block {
                addr: p as usize,
                size,
                busy: 0,
            },
        );
        b.by_addr.insert(p as usize, id);
    });
    Ok(value)
}

/// `(c-free p)`: frees a block `c-malloc` made; an error for anything else
/// (a pointer from C, a block already freed).
pub fn free(heap: &Heap, v: Value) -> Result<(), String> {
    match pointer(heap, v)? {
        Pointer::Foreign(a) => Err(format!(
            "the pointer {a:#x} was not allocated by c-malloc (only its blocks can be freed here)"
        )),
        Pointer::Block { addr, base, .. } if addr != base => Err(format!(
            "{addr:#x} points inside a block (at {base:#x}); c-free takes the block's own pointer"
        )),
        Pointer::Block { id, addr, .. } => {
            with_blocks(|b| match b.by_id.get(&id) {
                None => Err("the block was freed (use after c-free)".to_owned()),
                Some(block) if block.busy > 0 => Err(
                    "the block is in use by a C call in progress; free it after the call"
                        .to_owned(),
                ),
                Some(_) => {
                    b.by_id.remove(&id);
                    b.by_addr.remove(&addr);
                    Ok(())
                }
            })?;
            // SAFETY: the block came from calloc in `malloc` and was still
            // in the table (removed just now, so freed once).
            unsafe { libc::free(addr as *mut libc::c_void) };
            Ok(())
        }
    }
}

/// The address of `len` bytes at `offset` inside the block `v`, checked.
pub fn inside(heap: &Heap, v: Value, offset: i64, len: usize, what: &str) -> Result<usize, String> {
    match pointer(heap, v)? {
        Pointer::Foreign(a) => Err(format!(
            "cannot {what} through {a:#x}: it did not come from c-malloc, so its size is unknown"
        )),
        Pointer::Block {
            addr, base, size, ..
        } => {
            let start = i64::try_from(addr - base)
                .unwrap_or(i64::MAX)
                .checked_add(offset);
            let off = start
                .and_then(|s| usize::try_from(s).ok())
                .filter(|o| o.checked_add(len).is_some_and(|end| end <= size))
                .ok_or_else(|| {
                    format!(
                        "offset {offset} with {len} bytes is outside the block of {size} bytes (the pointer is {} bytes into it)",
                        addr - base
                    )
                })?;
            Ok(base + off)
        }
    }
}

/// `(c-null? p)`.
pub fn is_null(heap: &Heap, v: Value) -> Result<bool, String> {
    if v.is_nil() || v.is_empty_s() {
        return Ok(true);
    }
    Ok(address_of(heap, v)? == 0)
}

/// The blocks a C call was given, kept from being freed until it returns
/// (dropped on whichever thread the call ends on). Inline for up to eight
/// (no allocation in the common call).
#[derive(Default)]
pub struct Pins {
    inline: [i64; 8],
    n: usize,
    more: Vec<i64>,
}

impl Pins {
    /// Pins `v` if it points into a live block.
    pub fn pin(&mut self, heap: &Heap, v: Value) {
        // One look at the table: a block's id is its foreign tag.
        let Some(id) = (heap.kind(v) == Some(ObjKind::Foreign))
            .then(|| heap.foreign_parts(v))
            .flatten()
            .and_then(|(_, tag)| tag.as_small_int())
        else {
            return;
        };
        let pinned = with_blocks(|b| match b.by_id.get_mut(&id) {
            Some(block) => {
                block.busy += 1;
                true
            }
            None => false,
        });
        if !pinned {
            return;
        }
        if self.n < self.inline.len() {
            self.inline[self.n] = id;
            self.n += 1;
        } else {
            self.more.push(id);
        }
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        if self.n == 0 {
            return;
        }
        with_blocks(|b| {
            for id in self.inline[..self.n].iter().chain(&self.more) {
                if let Some(block) = b.by_id.get_mut(id) {
                    block.busy = block.busy.saturating_sub(1);
                }
            }
        });
    }
}
