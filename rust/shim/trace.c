// SPDX-License-Identifier: GPL-2.0
/*
 * rasync: the rasync:* trace events (rasync_trace.h) and the calls that
 * fire them, rust_do_trace_<event>().  Those are what the kernel crate's
 * declare_trace! calls: 7.x generates them (CREATE_RUST_TRACE_POINTS);
 * 6.12 cannot, so they are written out below.  Rust calls them only after
 * it found the event enabled (events.rs).
 */
#define CREATE_TRACE_POINTS
#ifndef RASYNC_LINUX_6_12
#define CREATE_RUST_TRACE_POINTS
#endif
#include "rasync_trace.h"

#ifdef RASYNC_LINUX_6_12
void rust_do_trace_rasync_read(dev_t dev, u64 ino, loff_t pos, size_t count,
			       int flags, ssize_t ret, bool stock)
{
	trace_rasync_read(dev, ino, pos, count, flags, ret, stock);
}

void rust_do_trace_rasync_queued(struct file *file, pgoff_t index, bool lock)
{
	trace_rasync_queued(file, index, lock);
}

void rust_do_trace_rasync_eagain(struct file *file, pgoff_t index,
				 unsigned int reason)
{
	trace_rasync_eagain(file, index, reason);
}

void rust_do_trace_rasync_start_read(struct file *file, pgoff_t index)
{
	trace_rasync_start_read(file, index);
}

void rust_do_trace_rasync_woken(struct file *file, loff_t pos, u64 queued_ns)
{
	trace_rasync_woken(file, pos, queued_ns);
}
#endif
