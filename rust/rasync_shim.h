/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared by rasync's C shims.  The Rust side mirrors these by
 * hand in ffi.rs; rasync_layout_ok() lets it check the mirrors at load time.
 */
#ifndef RASYNC_SHIM_H
#define RASYNC_SHIM_H

#include <linux/types.h>

/* Keep in the order of `Stat` in stats.rs. */
enum rasync_stat {
	RASYNC_STAT_READS,
	RASYNC_STAT_BYTES,
	RASYNC_STAT_NOWAIT_EAGAIN,
	RASYNC_STAT_WAITS_LOCK,
	RASYNC_STAT_WAITS_WAIT,
	RASYNC_STAT_LATE_WINS,
	RASYNC_STAT_EIOCBQUEUED,
	RASYNC_STAT_SHORT_READS,
	RASYNC_STAT_FALLBACKS,
	RASYNC_NR_STATS,
};

struct address_space;
struct file;
struct folio;
struct inode;
struct iov_iter;
struct wait_queue_entry;
struct wait_queue_head;

/* The C side of the Rust/C boundary, called from ffi.rs. */

/* shim_module.c */
int rasync_shim_start(void);
void rasync_shim_stop(void);
void rasync_stat_add(unsigned int idx, u64 val);
void rasync_stat_read(u64 bytes);
unsigned int rasync_nr_stats(void);
void rasync_debugfs_init(void);
void rasync_debugfs_exit(void);

/* shim_mm.c */
extern const int rasync_IOCB_NOWAIT;
extern const int rasync_PG_locked;
extern const size_t rasync_sizeof_wait_page_queue;
extern const size_t rasync_offsetof_wpq_wait;
extern const size_t rasync_sizeof_wait_page_key;
extern const size_t rasync_offsetof_wpk_page_match;
bool rasync_file_buffer_rasync(const struct file *file);
bool rasync_folio_trylock(struct folio *folio);
bool rasync_folio_test_locked(struct folio *folio);
bool rasync_folio_test_uptodate(struct folio *folio);
bool rasync_folio_test_readahead(struct folio *folio);
void rasync_folio_set_waiters(struct folio *folio);
void rasync_folio_get(struct folio *folio);
void rasync_folio_put(struct folio *folio);
struct address_space *rasync_folio_mapping(struct folio *folio);
size_t rasync_folio_size(struct folio *folio);
loff_t rasync_folio_pos(struct folio *folio);
void rasync_wq_lock_irq(struct wait_queue_head *q);
void rasync_wq_unlock_irq(struct wait_queue_head *q);
void rasync_wq_add_tail_locked(struct wait_queue_head *q,
			       struct wait_queue_entry *wait);
void rasync_wq_remove_locked(struct wait_queue_head *q,
			     struct wait_queue_entry *wait);
void rasync_invalidate_lock_shared(struct address_space *mapping);
bool rasync_invalidate_trylock_shared(struct address_space *mapping);
void rasync_invalidate_unlock_shared(struct address_space *mapping);
bool rasync_mapping_writably_mapped(struct address_space *mapping);
void rasync_sync_readahead(struct address_space *mapping, struct file *file,
			   pgoff_t index, unsigned long nr, bool noio);
void rasync_async_readahead(struct address_space *mapping, struct file *file,
			    struct folio *folio, pgoff_t last_index);
size_t rasync_iter_count(const struct iov_iter *iter);
void rasync_iter_truncate(struct iov_iter *iter, u64 count);
size_t rasync_copy_folio_to_iter(struct folio *folio, size_t offset,
				 size_t bytes, struct iov_iter *iter,
				 bool writably_mapped);
loff_t rasync_i_size_read(const struct inode *inode);
void rasync_file_accessed(struct file *file);
bool rasync_fatal_signal_pending(void);
void rasync_cond_resched(void);
struct folio *rasync_alloc_folio(void);
struct folio *rasync_filemap_alloc_folio(struct address_space *mapping);
int rasync_filemap_add_folio(struct address_space *mapping,
			     struct folio *folio, loff_t pos);

/* Implemented in Rust (rasync_main.rs), called by shim_module.c. */
int rasync_set_enabled(bool on);
bool rasync_hooked(void);
int rasync_run_selftest(void);

#endif
