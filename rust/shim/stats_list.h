/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The counters of debugfs rasync/stats, in their order: the one list of
 * them, included where RASYNC_STAT(name) is defined.  rasync_shim.h makes
 * the enum of it, module.c the names, Kbuild Rust's `Stat`
 * (stats_list.awk, with each one-line comment as the variant's doc); tests
 * and the bench look the counters up by name.  No include guard.
 */
/* Reads served by the Rust path. */
RASYNC_STAT(reads)
/* `IOCB_NOWAIT` reads that returned `-EAGAIN` with nothing copied. */
RASYNC_STAT(nowait_eagain)
/* Entries queued by the async lock (`lock_page_async`). */
RASYNC_STAT(waits_lock)
/* Entries queued by the async wait (`wait_on_page_locked_async`). */
RASYNC_STAT(waits_wait)
/* Lock or wait won on the recheck under the queue lock. */
RASYNC_STAT(late_wins)
/* Reads that returned `-EIOCBQUEUED`. */
RASYNC_STAT(eiocbqueued)
/* Reads that returned fewer bytes than asked for before EOF. */
RASYNC_STAT(short_reads)
/* Copies from folios larger than a page. */
RASYNC_STAT(large_folios)
/* `-EAGAIN`: `IOCB_NOWAIT` and no folio, even after readahead. */
RASYNC_STAT(eagain_not_cached)
/* `-EAGAIN`: `IOCB_NOIO` and a missing or readahead-marked folio. */
RASYNC_STAT(eagain_noio)
/* `-EAGAIN`: `IOCB_NOWAIT` and `invalidate_lock` held (truncate, hole punch). */
RASYNC_STAT(eagain_invalidate_lock)
/* `-EAGAIN`: `IOCB_NOWAIT` or `IOCB_NOIO` and the folio locked. */
RASYNC_STAT(eagain_lock_busy)
/* `-EAGAIN`: not uptodate, and only a blocking `->read_folio` can read it. */
RASYNC_STAT(eagain_needs_read)
