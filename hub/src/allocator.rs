//! The binary's global allocator: mimalloc, asked the cheap way whenever
//! the alignment allows.
//!
//! Why not `mimalloc::MiMalloc`: it hands every allocation to
//! `mi_malloc_aligned`, whatever its alignment, and mimalloc's aligned
//! entry first checks the alignment, then looks for a free block that
//! happens to be aligned, and takes a slower path for anything over its
//! small sizes. Nearly every Rust allocation asks for 16 bytes of
//! alignment or less, which every mimalloc block already has (its
//! `MI_MAX_ALIGN_SIZE`; a block smaller than 16 bytes is aligned to its
//! size class, 8). So, as std's `System` allocator does with malloc,
//! those go to plain `mi_malloc`, `mi_zalloc` and `mi_realloc`, and only a
//! stricter alignment takes the aligned calls. Under
//! `bench/instructions.sh` the hub made some 80 allocations per
//! notification, at 58 instructions each through `mi_malloc_aligned`.
//!
//! With the `override` feature mimalloc is also C's `malloc`, so SQLite's
//! allocations are mimalloc's too.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment every mimalloc block of at least this size has.
const BLOCK_ALIGN: usize = 16;

/// mimalloc for every allocation of the process.
pub struct Mimalloc;

/// Whether plain `mi_malloc` (or `mi_realloc`) of `size` bytes is aligned
/// enough: blocks of 16 bytes or more are 16-aligned, smaller ones are
/// aligned to at least their size rounded down to a power of two.
#[inline]
fn plain(align: usize, size: usize) -> bool {
    align <= BLOCK_ALIGN && align <= size
}

// SAFETY: every pointer handed out comes from mimalloc with at least the
// layout's size and alignment (see `plain`), and mimalloc frees, and
// reallocates, any block it made, however it was aligned.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain FFI calls; a null return is the caller's to handle.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi::mi_malloc(layout.size()) as *mut u8
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi::mi_zalloc(layout.size()) as *mut u8
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, so from mimalloc.
        unsafe { mi::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; the block
        // that comes back keeps the alignment the new size needs.
        unsafe {
            if plain(layout.align(), new_size) {
                mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Mimalloc;
    use std::alloc::{GlobalAlloc, Layout};

    /// Every size from 1 byte to 5,000 at every alignment from 1 to 4,096
    /// comes back aligned, zeroed when asked, and keeps its bytes through
    /// a realloc that grows it and one that shrinks it — on both sides of
    /// the plain/aligned split.
    #[test]
    fn every_size_and_alignment_comes_back_aligned_and_keeps_its_bytes() {
        let a = Mimalloc;
        let mut aligned_calls = 0;
        for align in (0..=12).map(|s| 1usize << s) {
            for size in (1..=64).chain((65..=5_000).step_by(37)) {
                let layout = Layout::from_size_align(size, align).unwrap();
                if !super::plain(align, size) {
                    aligned_calls += 1;
                }
                // SAFETY: a non-zero size; each block freed once, with its layout.
                unsafe {
                    let p = a.alloc_zeroed(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "zeroed {size} at {align}");
                    assert!(
                        (0..size).all(|i| *p.add(i) == 0),
                        "{size} at {align} not zeroed"
                    );
                    for i in 0..size {
                        *p.add(i) = (i % 251) as u8;
                    }
                    let grown = a.realloc(p, layout, size * 3);
                    assert_eq!(grown as usize % align, 0, "grown {size} at {align}");
                    assert!((0..size).all(|i| *grown.add(i) == (i % 251) as u8));
                    let big = Layout::from_size_align(size * 3, align).unwrap();
                    let shrunk = a.realloc(grown, big, size.div_ceil(2));
                    assert_eq!(shrunk as usize % align, 0, "shrunk {size} at {align}");
                    assert!((0..size.div_ceil(2)).all(|i| *shrunk.add(i) == (i % 251) as u8));
                    a.dealloc(
                        shrunk,
                        Layout::from_size_align(size.div_ceil(2), align).unwrap(),
                    );

                    let q = a.alloc(layout);
                    assert_eq!(q as usize % align, 0, "{size} at {align}");
                    a.dealloc(q, layout);
                }
            }
        }
        // Both paths were taken.
        assert!(aligned_calls > 0);
    }
}
