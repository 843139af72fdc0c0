// SPDX-License-Identifier: GPL-2.0
/*
 * rasync: one-line wrappers for the static inline functions and macros of
 * the page cache that Rust cannot call (6.12 has no Rust helpers for them).
 * Each wrapper is exactly the inline it names; the logic lives in Rust.
 */
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>
#include <linux/wait.h>

#include "rasync_shim.h"

/* IOCB_NOWAIT is a __force cast of RWF_NOWAIT, which bindgen drops. */
const int rasync_IOCB_NOWAIT = IOCB_NOWAIT;

/* Layouts that Rust mirrors by hand (pagemap.h is not in kernel::bindings). */
const size_t rasync_sizeof_wait_page_queue = sizeof(struct wait_page_queue);
const size_t rasync_offsetof_wpq_wait = offsetof(struct wait_page_queue, wait);
const size_t rasync_sizeof_wait_page_key = sizeof(struct wait_page_key);
const size_t rasync_offsetof_wpk_page_match = offsetof(struct wait_page_key, page_match);
const int rasync_PG_locked = PG_locked;

/* FOP_BUFFER_RASYNC is a __force cast macro as well. */
bool rasync_file_buffer_rasync(const struct file *file)
{
	return file->f_op->fop_flags & FOP_BUFFER_RASYNC;
}

/* folio flag tests and reference counting are static inlines. */
bool rasync_folio_trylock(struct folio *folio)
{
	return folio_trylock(folio);
}

bool rasync_folio_test_locked(struct folio *folio)
{
	return folio_test_locked(folio);
}

bool rasync_folio_test_uptodate(struct folio *folio)
{
	return folio_test_uptodate(folio);
}

bool rasync_folio_test_readahead(struct folio *folio)
{
	return folio_test_readahead(folio);
}

void rasync_folio_set_waiters(struct folio *folio)
{
	folio_set_waiters(folio);
}

void rasync_folio_get(struct folio *folio)
{
	folio_get(folio);
}

void rasync_folio_put(struct folio *folio)
{
	folio_put(folio);
}

struct address_space *rasync_folio_mapping(struct folio *folio)
{
	return READ_ONCE(folio->mapping);
}


size_t rasync_folio_size(struct folio *folio)
{
	return folio_size(folio);
}

loff_t rasync_folio_pos(struct folio *folio)
{
	return folio_pos(folio);
}

/* The hashed wait queue's lock is a C spinlock_t taken with IRQs off. */
void rasync_wq_lock_irq(struct wait_queue_head *q)
{
	spin_lock_irq(&q->lock);
}

void rasync_wq_unlock_irq(struct wait_queue_head *q)
{
	spin_unlock_irq(&q->lock);
}

/* Queue manipulation under q->lock: static inlines in wait.h. */
void rasync_wq_add_tail_locked(struct wait_queue_head *q,
			       struct wait_queue_entry *wait)
{
	lockdep_assert_held(&q->lock);
	__add_wait_queue_entry_tail(q, wait);
}

void rasync_wq_remove_locked(struct wait_queue_head *q,
			     struct wait_queue_entry *wait)
{
	lockdep_assert_held(&q->lock);
	__remove_wait_queue(q, wait);
}

/* mapping->invalidate_lock helpers are static inlines. */
void rasync_invalidate_lock_shared(struct address_space *mapping)
{
	filemap_invalidate_lock_shared(mapping);
}

bool rasync_invalidate_trylock_shared(struct address_space *mapping)
{
	return filemap_invalidate_trylock_shared(mapping);
}

void rasync_invalidate_unlock_shared(struct address_space *mapping)
{
	filemap_invalidate_unlock_shared(mapping);
}

bool rasync_mapping_writably_mapped(struct address_space *mapping)
{
	return mapping_writably_mapped(mapping);
}

/* DEFINE_READAHEAD is a macro over an on-stack readahead_control. */
void rasync_sync_readahead(struct address_space *mapping, struct file *file,
			   pgoff_t index, unsigned long nr, bool noio)
{
	unsigned int flags = noio ? memalloc_noio_save() : 0;

	page_cache_sync_readahead(mapping, &file->f_ra, file, index, nr);
	if (noio)
		memalloc_noio_restore(flags);
}

void rasync_async_readahead(struct address_space *mapping, struct file *file,
			    struct folio *folio, pgoff_t last_index)
{
	DEFINE_READAHEAD(ractl, file, &file->f_ra, mapping, folio->index);

	page_cache_async_ra(&ractl, folio, last_index - folio->index);
}

/* iov_iter accessors and the folio copy are static inlines. */
size_t rasync_iter_count(const struct iov_iter *iter)
{
	return iov_iter_count(iter);
}

void rasync_iter_truncate(struct iov_iter *iter, u64 count)
{
	iov_iter_truncate(iter, count);
}

size_t rasync_copy_folio_to_iter(struct folio *folio, size_t offset,
				 size_t bytes, struct iov_iter *iter,
				 bool writably_mapped)
{
	if (writably_mapped)
		flush_dcache_folio(folio);
	return copy_folio_to_iter(folio, offset, bytes, iter);
}

loff_t rasync_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

void rasync_file_accessed(struct file *file)
{
	file_accessed(file);
}

bool rasync_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

void rasync_cond_resched(void)
{
	cond_resched();
}

/* filemap_alloc_folio() is a macro (alloc_hooks), exported only on NUMA. */
struct folio *rasync_alloc_folio(void)
{
	return filemap_alloc_folio(GFP_KERNEL, 0);
}

/* The gfp and folio-order helpers of a mapping are static inlines. */
struct folio *rasync_filemap_alloc_folio(struct address_space *mapping)
{
	return filemap_alloc_folio(mapping_gfp_mask(mapping),
				   mapping_min_folio_order(mapping));
}

int rasync_filemap_add_folio(struct address_space *mapping,
			     struct folio *folio, loff_t pos)
{
	unsigned int min_order = mapping_min_folio_order(mapping);
	pgoff_t index = (pos >> (PAGE_SHIFT + min_order)) << min_order;

	return filemap_add_folio(mapping, folio, index,
				 mapping_gfp_constraint(mapping, GFP_KERNEL));
}
