//! One Rust object behind two kinds of opaque value (a future and its
//! resolver): each handle is read back only by its own accessor.

use std::sync::Arc;

use valk_heap::{Heap, SharedValue};

#[test]
fn an_alternate_handle_is_read_only_as_alternate() {
    let obj: Arc<u32> = Arc::new(7);
    let plain = SharedValue::opaque(obj.clone());
    let alt = SharedValue::opaque_alt(obj.clone());
    let heap = Heap::new();
    let read = |v: &SharedValue, alt: bool| {
        let o = if alt {
            heap.opaque_alt(v.value())
        } else {
            heap.opaque(v.value())
        };
        o.and_then(|o| o.clone().downcast::<u32>().ok()).map(|n| *n)
    };
    assert_eq!(read(&plain, false), Some(7));
    assert_eq!(read(&plain, true), None);
    assert_eq!(read(&alt, true), Some(7));
    assert_eq!(read(&alt, false), None);
    // Both handles and this test hold the one object.
    assert_eq!(Arc::strong_count(&obj), 3);
    drop((plain, alt));
    assert_eq!(Arc::strong_count(&obj), 1);
}
