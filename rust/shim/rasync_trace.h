/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rasync's trace events: each decision a read takes, with its reason.
 * trace.c defines them and the rust_do_trace_<event>() calls that fire
 * them (7.x generates those, CREATE_RUST_TRACE_POINTS); Rust (events.rs)
 * reads an event's static key before it calls, so a disabled event costs
 * a load and a branch on the read path, never a call.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM rasync

#if !defined(_RASYNC_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _RASYNC_TRACE_H

#include <linux/fs.h>
#include <linux/tracepoint.h>
#include "rasync_shim.h"

/* Every event names the file: device and inode number. */
DECLARE_EVENT_CLASS(rasync_file_index,
	TP_PROTO(struct file *file, pgoff_t index),
	TP_ARGS(file, index),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(unsigned long, ino)
		__field(pgoff_t, index)
	),
	TP_fast_assign(
		__entry->dev = file_inode(file)->i_sb->s_dev;
		__entry->ino = file_inode(file)->i_ino;
		__entry->index = index;
	),
	TP_printk("dev %d:%d ino %lu index %lu", MAJOR(__entry->dev),
		  MINOR(__entry->dev), __entry->ino, __entry->index)
);

/* The read started ->read_folio of a folio readahead left missing. */
DEFINE_EVENT(rasync_file_index, rasync_start_read,
	TP_PROTO(struct file *file, pgoff_t index),
	TP_ARGS(file, index)
);

/* The read queued an io_uring wait entry on a folio: to lock it or to wait for its unlock. */
TRACE_EVENT(rasync_queued,
	TP_PROTO(struct file *file, pgoff_t index, bool lock),
	TP_ARGS(file, index, lock),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(unsigned long, ino)
		__field(pgoff_t, index)
		__field(bool, lock)
	),
	TP_fast_assign(
		__entry->dev = file_inode(file)->i_sb->s_dev;
		__entry->ino = file_inode(file)->i_ino;
		__entry->index = index;
		__entry->lock = lock;
	),
	TP_printk("dev %d:%d ino %lu index %lu on %s", MAJOR(__entry->dev),
		  MINOR(__entry->dev), __entry->ino, __entry->index,
		  __entry->lock ? "lock" : "unlock")
);

/*
 * The read gave up with -EAGAIN (io_uring then punts it), and why: the
 * name of the counter of that reason (stats_list.h).
 */
TRACE_EVENT(rasync_eagain,
	TP_PROTO(struct file *file, pgoff_t index, unsigned int reason),
	TP_ARGS(file, index, reason),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(unsigned long, ino)
		__field(pgoff_t, index)
		__string(why, rasync_stat_name(reason))
	),
	TP_fast_assign(
		__entry->dev = file_inode(file)->i_sb->s_dev;
		__entry->ino = file_inode(file)->i_ino;
		__entry->index = index;
		__assign_str(why);
	),
	TP_printk("dev %d:%d ino %lu index %lu reason %s", MAJOR(__entry->dev),
		  MINOR(__entry->dev), __entry->ino, __entry->index,
		  __get_str(why))
);

/* The retry of a read that returned -EIOCBQUEUED, with the time it sat queued. */
TRACE_EVENT(rasync_woken,
	TP_PROTO(struct file *file, loff_t pos, u64 queued_ns),
	TP_ARGS(file, pos, queued_ns),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(unsigned long, ino)
		__field(loff_t, pos)
		__field(u64, queued_ns)
	),
	TP_fast_assign(
		__entry->dev = file_inode(file)->i_sb->s_dev;
		__entry->ino = file_inode(file)->i_ino;
		__entry->pos = pos;
		__entry->queued_ns = queued_ns;
	),
	TP_printk("dev %d:%d ino %lu pos %lld queued_ns %llu", MAJOR(__entry->dev),
		  MINOR(__entry->dev), __entry->ino, __entry->pos,
		  __entry->queued_ns)
);

/*
 * How a read ended: ret is the bytes copied (served from the cache, in
 * whole or in part), -EIOCBQUEUED, -EAGAIN or another error; stock is set
 * when it was passed to filemap_read_stock() (hook_only=Y).  It fires after
 * the read returned, when the file is io_uring's again: it takes the
 * file's device and inode number, read before.
 */
TRACE_EVENT(rasync_read,
	TP_PROTO(dev_t dev, u64 ino, loff_t pos, size_t count,
		 int flags, ssize_t ret, bool stock),
	TP_ARGS(dev, ino, pos, count, flags, ret, stock),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(u64, ino)
		__field(loff_t, pos)
		__field(size_t, count)
		__field(int, flags)
		__field(ssize_t, ret)
		__field(bool, stock)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->ino = ino;
		__entry->pos = pos;
		__entry->count = count;
		__entry->flags = flags;
		__entry->ret = ret;
		__entry->stock = stock;
	),
	TP_printk("dev %d:%d ino %llu pos %lld count %zu flags %s ret %zd%s",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->ino,
		  __entry->pos, __entry->count,
		  __print_flags(__entry->flags, "|", TRACE_IOCB_STRINGS),
		  __entry->ret, __entry->stock ? " stock" : "")
);

#endif /* _RASYNC_TRACE_H */

/* An out-of-tree module's trace header is found through its own directory. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE rasync_trace
#include <trace/define_trace.h>
