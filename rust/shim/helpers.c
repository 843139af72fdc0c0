// SPDX-License-Identifier: GPL-2.0
/*
 * rasync: wrappers for the page-cache macros and inlines that Rust cannot
 * express: those with real logic in a macro (readahead control on the
 * stack, allocation hooks), locks, `current`, and debug-build variants.
 * Plain field reads and flag tests are Rust (mm/folio.rs, fs/kiocb.rs, ...).
 * Each wrapper is exactly the C it names; the logic lives in Rust.
 */
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/psi.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>
#include <trace/events/filemap.h>

#include "compat.h"
#include "rasync_shim.h"

/* __force casts of RWF_NOWAIT and RWF_DONTCACHE, which bindgen drops. */
const int rasync_IOCB_NOWAIT = IOCB_NOWAIT;
const int rasync_IOCB_DONTCACHE = RASYNC_IOCB_DONTCACHE;

/* Layouts that Rust mirrors by hand (pagemap.h is not in kernel::bindings). */
const size_t rasync_sizeof_wait_page_queue = sizeof(struct wait_page_queue);
const size_t rasync_offsetof_wpq_wait = offsetof(struct wait_page_queue, wait);
const size_t rasync_sizeof_wait_page_key = sizeof(struct wait_page_key);
const size_t rasync_offsetof_wpk_page_match = offsetof(struct wait_page_key, page_match);
const unsigned int rasync_AS_FOLIO_ORDER_MIN = AS_FOLIO_ORDER_MIN;
const unsigned int rasync_AS_FOLIO_ORDER_BITS = AS_FOLIO_ORDER_BITS;

/* With CONFIG_DEBUG_VM the reference helpers carry VM_BUG_ON checks. */
void rasync_folio_get(struct folio *folio)
{
	folio_get(folio);
}

void rasync_folio_put(struct folio *folio)
{
	folio_put(folio);
}

/* Architecture-specific (empty on x86). */
void rasync_flush_dcache_folio(struct folio *folio)
{
	flush_dcache_folio(folio);
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

/*
 * list_del_init(), as io_uring's wake function unlinks the entry: the
 * entry can be queued again by a later wait of the same request.
 */
void rasync_wq_remove_locked(struct wait_queue_head *q,
			     struct wait_queue_entry *wait)
{
	lockdep_assert_held(&q->lock);
	list_del_init(&wait->entry);
}

/*
 * DEFINE_READAHEAD is a macro over an on-stack readahead_control; on 7.3 a
 * drop-behind read's readahead marks its folios drop-behind too.
 */
void rasync_sync_readahead(struct address_space *mapping, struct file *file,
			   pgoff_t index, unsigned long nr, bool noio,
			   bool dropbehind)
{
	DEFINE_READAHEAD(ractl, file, &file->f_ra, mapping, index);
	unsigned int flags = noio ? memalloc_noio_save() : 0;

	if (dropbehind)
		rasync_compat_ra_dropbehind(&ractl);
	page_cache_sync_ra(&ractl, nr);
	if (noio)
		memalloc_noio_restore(flags);
}

void rasync_async_readahead(struct address_space *mapping, struct file *file,
			    struct folio *folio, pgoff_t last_index,
			    bool dropbehind)
{
	DEFINE_READAHEAD(ractl, file, &file->f_ra, mapping, folio->index);

	if (dropbehind)
		rasync_compat_ra_dropbehind(&ractl);
	page_cache_async_ra(&ractl, folio, last_index - folio->index);
}

/* `current` is a per-CPU read. */
bool rasync_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

/* The macro, for builds where it is more than __cond_resched(). */
void rasync_cond_resched(void)
{
	cond_resched();
}

/* Empty inlines without CONFIG_PSI. */
void rasync_psi_memstall_enter(unsigned long *flags)
{
	psi_memstall_enter(flags);
}

void rasync_psi_memstall_leave(unsigned long *flags)
{
	psi_memstall_leave(flags);
}

/* filemap_alloc_folio() is a macro (alloc_hooks), exported only on NUMA. */
struct folio *rasync_alloc_folio(void)
{
	return rasync_compat_alloc_folio(GFP_KERNEL, 0);
}

/*
 * mm/folio.rs reads a folio's order from _flags_1 by hand; module init
 * compares that with folio_order() and folio_size() on real folios.
 */
struct folio *rasync_alloc_order_folio(unsigned int order)
{
	return folio_alloc(GFP_KERNEL, order);
}

unsigned int rasync_folio_order(struct folio *folio)
{
	return folio_order(folio);
}

size_t rasync_folio_size(struct folio *folio)
{
	return folio_size(folio);
}

/*
 * The gfp and folio-order helpers of a mapping are static inlines.  The
 * folio is nobody else's yet: the non-atomic flag setter is enough.
 */
struct folio *rasync_filemap_alloc_folio(struct address_space *mapping,
					 bool dropbehind)
{
	struct folio *folio;

	folio = rasync_compat_alloc_folio(mapping_gfp_mask(mapping),
					  mapping_min_folio_order(mapping));
	if (folio && dropbehind)
		rasync_compat_folio_dropbehind(folio);
	return folio;
}

/* filemap_create_folio() changed its arguments in 6.14. */
int rasync_filemap_create_folio(struct kiocb *iocb, struct folio_batch *fbatch)
{
	return rasync_compat_create_folio(iocb, fbatch);
}

int rasync_filemap_add_folio(struct address_space *mapping,
			     struct folio *folio, loff_t pos)
{
	unsigned int min_order = mapping_min_folio_order(mapping);
	pgoff_t index = (pos >> (PAGE_SHIFT + min_order)) << min_order;

	return filemap_add_folio(mapping, folio, index,
				 mapping_gfp_constraint(mapping, GFP_KERNEL));
}

/* Trace events are macros; Rust tests the static key before calling. */
void rasync_trace_get_pages(struct address_space *mapping, pgoff_t index,
			    pgoff_t last_index)
{
	trace_mm_filemap_get_pages(mapping, index, last_index);
}
