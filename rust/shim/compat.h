/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels rasync builds for, Linux 6.12 (the LTS)
 * and 7.3, on the C side; the Rust side is rust/compat.rs.  rust/Kbuild
 * defines RASYNC_LINUX_6_12 or RASYNC_LINUX_7_3 from the tree's version.
 */
#ifndef RASYNC_COMPAT_H
#define RASYNC_COMPAT_H

#include <linux/fs.h>
#include <linux/pagemap.h>

#ifdef RASYNC_LINUX_6_12

#define RASYNC_IOCB_DONTCACHE 0

/* The unbound system workqueue, renamed system_dfl_wq by 7.x. */
#define RASYNC_UNBOUND_WQ system_unbound_wq

static inline void rasync_compat_ra_dropbehind(struct readahead_control *ractl)
{
}

static inline void rasync_compat_folio_dropbehind(struct folio *folio)
{
}

static inline struct folio *rasync_compat_alloc_folio(gfp_t gfp,
						      unsigned int order)
{
	return filemap_alloc_folio(gfp, order);
}

static inline int rasync_compat_create_folio(struct kiocb *iocb,
					     struct folio_batch *fbatch)
{
	return filemap_create_folio(iocb->ki_filp, iocb->ki_filp->f_mapping,
				    iocb->ki_pos, fbatch);
}

#else /* 7.3 */

/* Drop-behind (RWF_DONTCACHE) reads arrived in 6.14. */
#define RASYNC_IOCB_DONTCACHE IOCB_DONTCACHE

/* 7.3 warns once when work goes on system_unbound_wq, now deprecated. */
#define RASYNC_UNBOUND_WQ system_dfl_wq

static inline void rasync_compat_ra_dropbehind(struct readahead_control *ractl)
{
	ractl->dropbehind = 1;
}

static inline void rasync_compat_folio_dropbehind(struct folio *folio)
{
	__folio_set_dropbehind(folio);
}

/* 7.3's allocation takes a mempolicy (none: the task's). */
static inline struct folio *rasync_compat_alloc_folio(gfp_t gfp,
						      unsigned int order)
{
	return filemap_alloc_folio(gfp, order, NULL);
}

/* 7.3's filemap_create_folio() takes the kiocb and reads what it needs. */
static inline int rasync_compat_create_folio(struct kiocb *iocb,
					     struct folio_batch *fbatch)
{
	return filemap_create_folio(iocb, fbatch);
}

#endif

#endif /* RASYNC_COMPAT_H */
