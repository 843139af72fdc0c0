/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared by rasync's C shims.  The Rust side mirrors these by
 * hand in ffi.rs; rasync_layout_ok() lets it check the mirrors at load time.
 */
#ifndef RASYNC_SHIM_H
#define RASYNC_SHIM_H

#include <linux/types.h>

/* The counters of debugfs rasync/stats (stats_list.h). */
enum rasync_stat {
#define RASYNC_STAT(name) RASYNC_STAT_##name,
#include "stats_list.h"
#undef RASYNC_STAT
	RASYNC_NR_STATS,
};

struct address_space;
struct file;
struct folio;
struct folio_batch;
struct kiocb;
struct wait_queue_entry;
struct wait_queue_head;

/* The C side of the Rust/C boundary, called from ffi.rs. */

/* module.c */
extern bool rasync_hook_only;
int rasync_shim_start(void);
void rasync_shim_stop(void);
void rasync_stat_inc(unsigned int idx);
void rasync_stat_read(void);
unsigned int rasync_nr_stats(void);
const char *rasync_stat_name(unsigned int idx);
void rasync_queued_hist_add(u64 ns);
void rasync_debugfs_init(void);
void rasync_debugfs_exit(void);

/* helpers.c */
extern const int rasync_IOCB_NOWAIT;
extern const int rasync_IOCB_DONTCACHE;
extern const size_t rasync_sizeof_wait_page_queue;
extern const size_t rasync_offsetof_wpq_wait;
extern const size_t rasync_sizeof_wait_page_key;
extern const size_t rasync_offsetof_wpk_page_match;
extern const unsigned int rasync_AS_FOLIO_ORDER_MIN;
extern const unsigned int rasync_AS_FOLIO_ORDER_BITS;
void rasync_folio_get(struct folio *folio);
void rasync_folio_put(struct folio *folio);
void rasync_flush_dcache_folio(struct folio *folio);
void rasync_wq_lock_irq(struct wait_queue_head *q);
void rasync_wq_unlock_irq(struct wait_queue_head *q);
void rasync_wq_add_tail_locked(struct wait_queue_head *q,
			       struct wait_queue_entry *wait);
void rasync_wq_remove_locked(struct wait_queue_head *q,
			     struct wait_queue_entry *wait);
void rasync_sync_readahead(struct address_space *mapping, struct file *file,
			   pgoff_t index, unsigned long nr, bool noio,
			   bool dropbehind);
void rasync_async_readahead(struct address_space *mapping, struct file *file,
			    struct folio *folio, pgoff_t last_index,
			    bool dropbehind);
bool rasync_fatal_signal_pending(void);
void rasync_cond_resched(void);
void rasync_psi_memstall_enter(unsigned long *flags);
void rasync_psi_memstall_leave(unsigned long *flags);
struct folio *rasync_alloc_folio(void);
struct folio *rasync_alloc_order_folio(unsigned int order);
unsigned int rasync_folio_order(struct folio *folio);
size_t rasync_folio_size(struct folio *folio);
struct folio *rasync_filemap_alloc_folio(struct address_space *mapping,
					 bool dropbehind);
int rasync_filemap_create_folio(struct kiocb *iocb, struct folio_batch *fbatch);
int rasync_filemap_add_folio(struct address_space *mapping,
			     struct folio *folio, loff_t pos);
void rasync_trace_get_pages(struct address_space *mapping, pgoff_t index,
			    pgoff_t last_index);

/* trace.c */
void rust_do_trace_rasync_read(dev_t dev, u64 ino, loff_t pos, size_t count,
			       int flags, ssize_t ret, bool stock);
void rust_do_trace_rasync_queued(struct file *file, pgoff_t index, bool lock);
void rust_do_trace_rasync_eagain(struct file *file, pgoff_t index,
				 unsigned int reason);
void rust_do_trace_rasync_start_read(struct file *file, pgoff_t index);
void rust_do_trace_rasync_woken(struct file *file, loff_t pos, u64 queued_ns);

/* Implemented in Rust (rasync_main.rs), called by module.c. */
int rasync_set_enabled(bool on);
bool rasync_hooked(void);
int rasync_run_selftest(void);

#endif
