//! The C types of LANGUAGE.md §10 as Valk spells them (`:i32`, `:double`,
//! `{:struct :i32 :f64}`), their sizes and C layout, and their libffi
//! descriptions.

use valk_heap::{Heap, Value};

/// A C type a value can be passed or returned as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CType {
    Void,
    Bool,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    Isize,
    Usize,
    F32,
    F64,
    /// An address: a pointer value, `()` for NULL, or a callback.
    Ptr,
    /// A NUL-terminated `char*`: a Valk string in (copied), a string or
    /// `()` (NULL) out.
    Str,
    /// A struct passed by value: its fields in order (a list in Valk).
    Struct(Vec<CType>),
}

/// Structs nest at most this deep (a type spec is user input).
const MAX_STRUCT_DEPTH: usize = 8;
/// And have at most this many fields at each level.
const MAX_STRUCT_FIELDS: usize = 64;
/// And at most this many types in all (a spec can reuse one sub-list at
/// every level: without a total, 64 fields 8 deep is 64^8 nodes).
const MAX_TYPE_NODES: usize = 1024;

impl CType {
    /// The type a keyword names (aliases included).
    pub fn scalar(name: &str) -> Option<CType> {
        Some(match name {
            "void" => CType::Void,
            "bool" => CType::Bool,
            "i8" | "char" => CType::I8,
            "u8" | "uchar" => CType::U8,
            "i16" | "short" => CType::I16,
            "u16" | "ushort" => CType::U16,
            "i32" | "int" => CType::I32,
            "u32" | "uint" => CType::U32,
            "i64" | "long" => CType::I64,
            "u64" | "ulong" => CType::U64,
            "isize" => CType::Isize,
            "usize" | "size" => CType::Usize,
            "f32" | "float" => CType::F32,
            "f64" | "double" => CType::F64,
            "ptr" | "pointer" => CType::Ptr,
            "string" => CType::Str,
            _ => return None,
        })
    }

    /// The type `v` spells: a keyword, or `{:struct field-type...}`.
    pub fn parse(heap: &Heap, v: Value) -> Result<CType, String> {
        let mut budget = MAX_TYPE_NODES;
        Self::parse_at(heap, v, 0, &mut budget)
    }

    fn parse_at(heap: &Heap, v: Value, depth: usize, budget: &mut usize) -> Result<CType, String> {
        if *budget == 0 {
            return Err(format!(
                "a C type has at most {MAX_TYPE_NODES} parts in all"
            ));
        }
        *budget -= 1;
        if let Some(k) = v.as_keyword() {
            let name = valk_heap::symbol_name(k);
            return CType::scalar(name).ok_or_else(|| format!("unknown C type :{name}"));
        }
        let Some(items) = heap.list_to_vec(v) else {
            return Err(format!(
                "a C type is a keyword (:i32, :double, :ptr, :string, ...) or {{:struct type...}}, got {}",
                valk_lang::printer::type_name(heap, v)
            ));
        };
        let is_struct = items
            .first()
            .and_then(|k| k.as_keyword())
            .is_some_and(|k| valk_heap::symbol_name(k) == "struct");
        if !is_struct {
            return Err(format!(
                "a C type is a keyword (:i32, :double, :ptr, :string, ...) or {{:struct type...}}, got {}",
                valk_lang::printer::repr(heap, v)
            ));
        }
        if items.len() < 2 {
            return Err("a struct type is {:struct field-type...} with at least one field".into());
        }
        if depth >= MAX_STRUCT_DEPTH {
            return Err(format!("structs nest at most {MAX_STRUCT_DEPTH} deep"));
        }
        if items.len() - 1 > MAX_STRUCT_FIELDS {
            return Err(format!("a struct has at most {MAX_STRUCT_FIELDS} fields"));
        }
        let mut fields = Vec::with_capacity(items.len() - 1);
        for f in &items[1..] {
            let t = Self::parse_at(heap, *f, depth + 1, budget)?;
            if t == CType::Void {
                return Err("a struct field cannot be :void".into());
            }
            fields.push(t);
        }
        Ok(CType::Struct(fields))
    }

    /// Is `:string` this type or a part of it? (Memory the runtime reads
    /// or writes by type cannot hold one safely: a `char*` read from it
    /// could point anywhere, one written to it would outlive its copy.)
    pub fn has_string(&self) -> bool {
        match self {
            CType::Str => true,
            CType::Struct(fields) => fields.iter().any(CType::has_string),
            _ => false,
        }
    }

    /// Size in bytes, as C lays it out.
    pub fn size(&self) -> usize {
        match self {
            CType::Void => 0,
            CType::Bool | CType::I8 | CType::U8 => 1,
            CType::I16 | CType::U16 => 2,
            CType::I32 | CType::U32 | CType::F32 => 4,
            CType::I64 | CType::U64 | CType::F64 => 8,
            CType::Isize | CType::Usize | CType::Ptr | CType::Str => std::mem::size_of::<usize>(),
            CType::Struct(fields) => {
                let (offsets, align) = layout(fields);
                let end = offsets
                    .last()
                    .zip(fields.last())
                    .map_or(0, |(o, f)| o + f.size());
                end.next_multiple_of(align)
            }
        }
    }

    /// Alignment in bytes.
    pub fn align(&self) -> usize {
        match self {
            CType::Struct(fields) => layout(fields).1,
            CType::Void => 1,
            other => other.size(),
        }
    }

    /// How the type is written (for messages).
    pub fn describe(&self) -> String {
        match self {
            CType::Struct(fields) => {
                let inner: Vec<String> = fields.iter().map(CType::describe).collect();
                format!("{{:struct {}}}", inner.join(" "))
            }
            other => format!(":{}", other.keyword()),
        }
    }

    fn keyword(&self) -> &'static str {
        match self {
            CType::Void => "void",
            CType::Bool => "bool",
            CType::I8 => "i8",
            CType::U8 => "u8",
            CType::I16 => "i16",
            CType::U16 => "u16",
            CType::I32 => "i32",
            CType::U32 => "u32",
            CType::I64 => "i64",
            CType::U64 => "u64",
            CType::Isize => "isize",
            CType::Usize => "usize",
            CType::F32 => "f32",
            CType::F64 => "f64",
            CType::Ptr => "ptr",
            CType::Str => "string",
            CType::Struct(_) => "struct",
        }
    }

    /// The range of an integer type, as i128 (None for non-integers).
    pub fn int_range(&self) -> Option<(i128, i128)> {
        let bits = |n: u32| (-(1i128 << (n - 1)), (1i128 << (n - 1)) - 1);
        let ubits = |n: u32| (0, (1i128 << n) - 1);
        let word = usize::BITS;
        Some(match self {
            CType::I8 => bits(8),
            CType::U8 => ubits(8),
            CType::I16 => bits(16),
            CType::U16 => ubits(16),
            CType::I32 => bits(32),
            CType::U32 => ubits(32),
            CType::I64 => bits(64),
            CType::U64 => ubits(64),
            CType::Isize => bits(word),
            CType::Usize => ubits(word),
            _ => return None,
        })
    }
}

/// Field offsets and the alignment of a struct with `fields`.
pub fn layout(fields: &[CType]) -> (Vec<usize>, usize) {
    let mut offsets = Vec::with_capacity(fields.len());
    let mut at = 0usize;
    let mut align = 1usize;
    for f in fields {
        let a = f.align();
        align = align.max(a);
        at = at.next_multiple_of(a);
        offsets.push(at);
        at += f.size();
    }
    (offsets, align)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_layout_follows_c() {
        // struct { char c; double d; int i; } is 24 bytes, aligned to 8.
        let s = CType::Struct(vec![CType::I8, CType::F64, CType::I32]);
        assert_eq!(
            layout(&[CType::I8, CType::F64, CType::I32]).0,
            vec![0, 8, 16]
        );
        assert_eq!((s.size(), s.align()), (24, 8));
        // struct { int a; struct { char b; short c; } in; } is 8 bytes.
        let inner = CType::Struct(vec![CType::I8, CType::I16]);
        let outer = CType::Struct(vec![CType::I32, inner.clone()]);
        assert_eq!((inner.size(), inner.align()), (4, 2));
        assert_eq!((outer.size(), outer.align()), (8, 4));
    }

    #[test]
    fn type_specs_have_a_total_size() {
        let mut heap = Heap::new();
        let kw = |n: &str| Value::keyword(valk_heap::intern(n));
        let mut t = kw("i8");
        for _ in 0..3 {
            let mut items = vec![kw("struct")];
            items.extend(std::iter::repeat_n(t, 64));
            t = heap.list(&items, valk_heap::ListKind::Q).unwrap();
        }
        let e = CType::parse(&heap, t).unwrap_err();
        assert!(e.contains("at most 1024 parts"), "{e}");
    }

    #[test]
    fn integer_ranges() {
        assert_eq!(CType::U8.int_range(), Some((0, 255)));
        assert_eq!(CType::I32.int_range(), Some((-(1 << 31), (1 << 31) - 1)));
        assert_eq!(CType::F64.int_range(), None);
    }
}
