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

/// Hand back the binary's code and read-only data pages that are resident
/// now. Starting the hub touches much code that never runs again (config,
/// migrations and their SQL, the seed, TLS set-up), and so do rare jobs
/// later (a brief, the watchers' pass, a console page): it stayed resident
/// (about 12 of the idle hub's 23 MB on SQLite, bench/HISTORY.md, "Memory"). Pages the
/// running hub uses are mapped again from the page cache at their next use,
/// as after the kernel's own reclaim (a minor fault; the file's pages stay
/// in the page cache). Returns the bytes that were resident in the released
/// mappings (Linux only; 0 elsewhere).
///
/// Only read-only mappings of this binary's file with no anonymous page
/// are released: for those, dropping a page loses nothing (`MADV_DONTNEED`
/// on a private mapping would discard written pages, such as the
/// relocated data the loader wrote before making it read-only, so a
/// mapping with any is left alone).
pub fn release_code_pages() -> std::io::Result<usize> {
    #[cfg(target_os = "linux")]
    {
        let smaps = std::fs::read_to_string("/proc/self/smaps")?;
        let here = release_code_pages as *const () as usize;
        let mut released = 0;
        for m in own_read_only_mappings(&smaps, here) {
            // SAFETY: `m` is a whole read-only private mapping of this
            // process's executable with no anonymous (written) page, so
            // its pages are clean copies of the file: dropping them only
            // means the next access reads them from the page cache again.
            let r = unsafe {
                libc::madvise(
                    m.start as *mut libc::c_void,
                    m.end - m.start,
                    libc::MADV_DONTNEED,
                )
            };
            if r != 0 {
                return Err(std::io::Error::last_os_error());
            }
            released += m.rss_kb * 1024;
        }
        Ok(released)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(0)
    }
}

/// One mapping of `/proc/self/smaps`: its range and resident kilobytes.
#[derive(Debug, PartialEq)]
struct Mapping {
    start: usize,
    end: usize,
    rss_kb: usize,
}

/// The read-only mappings (`r-xp`, `r--p`) of the file whose executable
/// mapping holds the address `code`, with no anonymous page.
fn own_read_only_mappings(smaps: &str, code: usize) -> Vec<Mapping> {
    struct Entry<'a> {
        start: usize,
        end: usize,
        perms: &'a str,
        file: (&'a str, &'a str),
        rss_kb: usize,
        anonymous_kb: usize,
    }
    let mut entries: Vec<Entry> = Vec::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((a, b)) = first.split_once('-')
            && let (Ok(start), Ok(end)) =
                (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        {
            // address perms offset dev inode [path]
            let perms = fields.next().unwrap_or("");
            let (dev, inode) = (fields.nth(1).unwrap_or(""), fields.next().unwrap_or("0"));
            entries.push(Entry {
                start,
                end,
                perms,
                file: (dev, inode),
                rss_kb: 0,
                anonymous_kb: 0,
            });
            continue;
        }
        let kb = || {
            fields
                .clone()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        if let Some(e) = entries.last_mut() {
            match first {
                "Rss:" => e.rss_kb = kb(),
                "Anonymous:" => e.anonymous_kb = kb(),
                _ => {}
            }
        }
    }
    // Inode 0: an anonymous mapping (JIT code would be one), not a file.
    let Some(file) = entries
        .iter()
        .find(|e| e.start <= code && code < e.end && e.perms == "r-xp" && e.file.1 != "0")
        .map(|e| e.file)
    else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|e| e.file == file && matches!(e.perms, "r-xp" | "r--p") && e.anonymous_kb == 0)
        .map(|e| Mapping {
            start: e.start,
            end: e.end,
            rss_kb: e.rss_kb,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The layout of a position-independent binary: read-only data, code,
    // relocated data made read-only (written by the loader: anonymous
    // pages), data; then a library with the same inode on another device.
    const SMAPS: &str = "\
55f54deea000-55f54e3f8000 r--p 00000000 fe:01 4242 /srv/orkhub
Rss:                2880 kB
Anonymous:             0 kB
VmFlags: rd mr mw me sd
55f54e3f8000-55f54f61f000 r-xp 0050d000 fe:01 4242 /srv/orkhub
Rss:                8840 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me sd
55f54f61f000-55f54f78e000 r--p 01733000 fe:01 4242 /srv/orkhub
Rss:                1452 kB
Anonymous:          1452 kB
55f54f78e000-55f54f790000 rw-p 018a2000 fe:01 4242 /srv/orkhub
Rss:                   8 kB
Anonymous:             8 kB
7f3bc0027000-7f3bc017d000 r-xp 00026000 fe:02 4242 /usr/lib/libc.so.6
Rss:                1112 kB
Anonymous:             0 kB
20000000000-20040000000 rw-p 00000000 00:00 0
Rss:                4988 kB
Anonymous:          4988 kB
";

    #[test]
    fn only_the_binarys_clean_read_only_mappings_are_released() {
        let found = own_read_only_mappings(SMAPS, 0x55f5_4e40_0000);
        assert_eq!(
            found,
            vec![
                Mapping {
                    start: 0x55f5_4deea000,
                    end: 0x55f5_4e3f8000,
                    rss_kb: 2880
                },
                Mapping {
                    start: 0x55f5_4e3f8000,
                    end: 0x55f5_4f61f000,
                    rss_kb: 8840
                },
            ]
        );
    }

    #[test]
    fn code_outside_any_file_mapping_releases_nothing() {
        assert!(own_read_only_mappings(SMAPS, 0x200_0000_1000).is_empty());
        assert!(own_read_only_mappings(SMAPS, 0x1000).is_empty());
    }

    /// This test binary's own code: resident before, released after, and
    /// the process goes on running it.
    #[cfg(target_os = "linux")]
    #[test]
    fn released_code_leaves_the_process_and_comes_back_when_run() {
        let resident = || -> usize {
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
            let here = release_code_pages as *const () as usize;
            own_read_only_mappings(&smaps, here)
                .iter()
                .map(|m| m.rss_kb)
                .sum()
        };
        let before = resident();
        assert!(before > 0, "no resident code found for this test binary");
        let released = release_code_pages().expect("madvise");
        assert!(
            released >= before * 1024 / 2,
            "released {released} of {before} kB"
        );
        let after = resident();
        assert!(
            after < before,
            "resident code {after} kB after release, {before} kB before"
        );
        // Code and read-only data are read again on use.
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        assert!(
            !own_read_only_mappings(&smaps, release_code_pages as *const () as usize).is_empty()
        );
    }
}
