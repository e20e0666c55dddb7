//! Process-wide memory settings, applied first thing in `main`.

/// Turn transparent huge pages off for this process. mimalloc advises the
/// kernel to back its arenas with huge pages, so with THP in `madvise` mode
/// (Debian's default) every 2 MiB stretch of heap touched at all became
/// resident in full: the idle hub held 41 MB of mostly unused heap (66 MB
/// RSS; 27 MB with this), and throughput did not suffer
/// (bench/external.sh). Returns whether the kernel took it (Linux only).
pub fn no_transparent_huge_pages() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a
        // flag on this process (inherited by children).
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}
