// SPDX-License-Identifier: GPL-2.0
/*
 * rasync: the rasync:* trace events (rasync_trace.h) and the calls that
 * fire them.  trace_*() are inlines; Rust calls these only after it found
 * the event enabled (events.rs), so each is the trace_*() it names.
 */
#define CREATE_TRACE_POINTS
#include "rasync_trace.h"

void rasync_trace_read(dev_t dev, u64 ino, loff_t pos, size_t count,
		       int flags, ssize_t ret, bool stock)
{
	trace_rasync_read(dev, ino, pos, count, flags, ret, stock);
}

void rasync_trace_queued(struct file *file, pgoff_t index, bool lock)
{
	trace_rasync_queued(file, index, lock);
}

void rasync_trace_eagain(struct file *file, pgoff_t index, unsigned int reason)
{
	trace_rasync_eagain(file, index, rasync_stat_name(reason));
}

void rasync_trace_start_read(struct file *file, pgoff_t index)
{
	trace_rasync_start_read(file, index);
}

void rasync_trace_woken(struct file *file, loff_t pos, u64 queued_ns)
{
	trace_rasync_woken(file, pos, queued_ns);
}
