#!/usr/bin/env bash
# Where the hub's CPU went, by kind of work: the self time of every sampled
# symbol in a `perf record` of the hub (bench/external.sh PROFILE=1), summed
# into groups by the symbol's name. Self time, not inclusive: a release
# build has no frame pointers, so call chains are incomplete; what a
# function calls into (the allocator, memcpy, the kernel) is its own group.
#
# Usage: bench/profile-summary.sh perf.data [µs per notification]
#   with the second argument, each share is also shown in µs.
set -euo pipefail
DATA=$1
PER=${2:-0}
perf report -i "$DATA" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
  awk -v per="$PER" '
  /^#/ || NF < 4 { next }
  {
    pct = $1; sub("%", "", pct); dso = $2; kind = $3
    sym = $4; for (i = 5; i <= NF; i++) sym = sym " " $i
    g = "other"
    if (kind == "[k]") {
      if (sym ~ /tcp|inet|sock|skb|epoll|ip_|net_|__dev|loopback|softirq|napi|_copy_to_iter|_copy_from_iter|copy_user|csum/) g = "kernel: TCP over loopback, epoll"
      else if (sym ~ /schedule|futex|task_switch|wake|spin|rseq|hrtimer|enqueue|dequeue|pick_next|update_curr|switch_|idle/) g = "kernel: thread wake-ups (futex, scheduler)"
      else if (sym ~ /ext4|filemap|folio|vfs|jbd2|blk|fsync|pwrite|pread|write_begin|write_end|page_cache|generic_perform|iomap|xfs|btrfs/) g = "kernel: file I/O (SQLite WAL, PostgreSQL socket writes)"
      else g = "kernel: other (syscall entry, memory)"
    }
    else if (sym ~ /^(_?mi_|mi_)|operator (new|delete)|^malloc|^free|^calloc|^realloc|^cfree/) g = "allocator (mimalloc)"
    else if (dso ~ /libc/ && sym ~ /mem(cpy|move|set|cmp)|str(len|cmp)/) g = "memcpy/memcmp"
    else if (sym ~ /^(sqlite3|json|jsonb|wal|pcache|pager|btree|balance|getPage|vdbe|moveTo|insertCell|fillInCell|accessPayload|computeCellSize|cellSize|allocateSpace|rebuildPage|editPage|pageInsert|freeSpace|dropCell|unixWrite|unixRead|seekAndWrite|pagerWrite|pcache1|btreeParse|decodeFlags|zeroPage|clearCell|findCell|binCollFunc|vdbeRecord|sqlite3Vdbe|sqlite3Btree)/) g = "SQLite engine (statements, JSON rows, B-trees, WAL)"
    else if (sym ~ /sqlx|flume|sqlx_core|sqlx_postgres|sqlx_sqlite/) g = "sqlx (driver, its worker threads, Postgres protocol)"
    else if (sym ~ /serde_json|serde_core|serde::|serde_path_to_error|utoipa/) g = "JSON (request parse, answer, rows as JSON)"
    else if (sym ~ /hyper|axum|tower|http::|httparse|h1::|hub::server|hub::api::auth|bytes::/) g = "HTTP (hyper, axum, middleware, auth)"
    else if (sym ~ /tokio|mio::|futures|parking_lot/) g = "async runtime (tokio)"
    else if (sym ~ /hub::ingest|routing::|hub::directory|hub::api::notifications|hub::api::limits/) g = "ingest: validation, routing plan, batch building"
    else if (sym ~ /rand|chrono|hub::ids|sha2|hex::/) g = "IDs, time, hashing"
    else if (sym ~ /tracing|metrics/) g = "logging, metrics"
    else if (sym ~ /core::fmt|alloc::fmt|String as core::fmt|write_str|btree::map|alloc::/) g = "std: formatting, collections"
    else if (dso ~ /libc/) g = "libc: other"
    sum[g] += pct
  }
  END {
    for (g in sum) {
      if (per > 0) printf "%6.1f%%  %5.1f µs  %s\n", sum[g], sum[g] * per / 100, g
      else printf "%6.1f%%  %s\n", sum[g], g
    }
  }' | sort -rn
