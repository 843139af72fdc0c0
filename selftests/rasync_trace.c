// SPDX-License-Identifier: GPL-2.0
/*
 * The rasync:* trace events say what a read did and why, and agree with
 * the counters.  Each case enables the events in a private tracefs
 * instance, reads a test file, and parses the instance's trace for the
 * lines of that file (dev and inode number):
 *
 *  - hot_read_is_served: an io_uring read of cached pages gives one
 *    rasync_read line with all its bytes and no rasync_eagain or
 *    rasync_queued line;
 *  - nowait_cold_read_says_why: RWF_NOWAIT reads of evicted pages give
 *    rasync_eagain lines whose reasons are counter names, as many per
 *    reason as the counter rose, and rasync_read lines with ret -11;
 *  - cold_reads_queue_then_wake: cold io_uring reads at QD4 give
 *    rasync_read ret -529 (-EIOCBQUEUED) lines, each read that returned it
 *    has a rasync_woken line with the time it sat queued, there is a
 *    rasync_queued line per queued read, and queued_hist counts them;
 *  - hook_only_says_stock: with hook_only=Y, rasync_read says "stock".
 *
 * Prints the trace lines of the file, the answer to "why was this read
 * punted / slow?".  Skips without tracefs or without the module.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SIZE	(4 * 1024 * 1024)
#define FILE_SEED	0x74726163ULL		/* "trac" */
#define LEN		(16 * 1024)
#define QD		4
#define ROUNDS		8
#define TRACE_MAX	(4 << 20)
#define HIST		RASYNC_DEBUGFS "/queued_hist"
#define HOOK_ONLY	"/sys/module/rasync/parameters/hook_only"

FIXTURE(trace)
{
	int fd;
	char path[PATH_MAX];
	char inst[PATH_MAX + 64];
	char key[64];		/* "dev M:m ino N " of the test file */
	struct io_uring ring;
	bool ring_ok;
	char *buf;
	char *trace;
};

static int inst_write(FIXTURE_DATA(trace) *self, const char *file,
		      const char *val)
{
	char path[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s/%s", self->inst, file);
	return ru_write_str(path, val);
}

FIXTURE_SETUP(trace)
{
	struct stat st;

	self->fd = -1;
	self->inst[0] = 0;
	RU_REQUIRE_ASYNC_FS();
	if (!ru_module_loaded() || ru_module_enabled() != 1)
		SKIP(return, "rasync.ko is not loaded and enabled");
	if (!ru_tracefs_root())
		SKIP(return, "no tracefs (CONFIG_EVENT_TRACING)");
	snprintf(self->inst, sizeof(self->inst), "%s/instances/rasync-trace-%d",
		 ru_tracefs_root(), (int)getpid());
	rmdir(self->inst);
	ASSERT_EQ(0, mkdir(self->inst, 0755)) TH_LOG("%s: %s", self->inst,
						     strerror(errno));
	if (inst_write(self, "events/rasync/enable", "1"))
		SKIP(return, "no rasync:* events in tracefs (module without trace events)");
	ASSERT_EQ(0, inst_write(self, "buffer_size_kb", "4096"));

	self->fd = ru_open_test_file("trace", FILE_SIZE, FILE_SEED, self->path,
				     sizeof(self->path));
	ASSERT_LE(0, self->fd) TH_LOG("test file: %s", strerror(-self->fd));
	ASSERT_EQ(0, fstat(self->fd, &st));
	snprintf(self->key, sizeof(self->key), "dev %u:%u ino %lu ",
		 major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
	ASSERT_EQ(0, io_uring_queue_init(QD, &self->ring, 0));
	self->ring_ok = true;
	self->buf = malloc(QD * LEN);
	self->trace = malloc(TRACE_MAX);
	ASSERT_TRUE(self->buf && self->trace);
}

FIXTURE_TEARDOWN(trace)
{
	if (self->inst[0]) {
		inst_write(self, "events/rasync/enable", "0");
		rmdir(self->inst);
	}
	ru_write_str(HOOK_ONLY, "N");
	if (self->ring_ok)
		io_uring_queue_exit(&self->ring);
	if (self->fd >= 0)
		close(self->fd);
	free(self->buf);
	free(self->trace);
}

/* Empties the instance's buffer. */
static int trace_clear(FIXTURE_DATA(trace) *self)
{
	return inst_write(self, "trace", "");
}

/* Keeps only the test file's lines of the trace in self->trace. */
static int trace_take(FIXTURE_DATA(trace) *self)
{
	char path[PATH_MAX + 128], *raw, *line, *save = NULL;
	size_t off = 0;
	ssize_t n;

	raw = malloc(TRACE_MAX);
	if (!raw)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/trace", self->inst);
	n = ru_read_str(path, raw, TRACE_MAX);
	self->trace[0] = 0;
	for (line = n < 0 ? NULL : strtok_r(raw, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || !strstr(line, self->key))
			continue;
		off += snprintf(self->trace + off, TRACE_MAX - off, "%s\n", line);
		if (off >= TRACE_MAX - 1)
			break;
	}
	free(raw);
	return n < 0 ? n : 0;
}

/* Lines of the file's trace with event @ev (and @what, if not NULL). */
static int trace_count(FIXTURE_DATA(trace) *self, const char *ev,
		       const char *what)
{
	char tag[64];
	const char *p;
	int n = 0;

	snprintf(tag, sizeof(tag), " %s: ", ev);
	for (p = self->trace; (p = strstr(p, tag)); p++) {
		const char *eol = strchr(p, '\n');

		if (!what)
			n++;
		else {
			const char *w = strstr(p, what);

			n += w && (!eol || w < eol);
		}
	}
	return n;
}

static void trace_print(FIXTURE_DATA(trace) *self, const char *title)
{
	fprintf(stderr, "# %s: trace lines of %s\n", title, self->path);
	for (const char *p = self->trace; *p;) {
		const char *eol = strchr(p, '\n');
		int len = eol ? (int)(eol - p) : (int)strlen(p);

		fprintf(stderr, "#   %.*s\n", len, p);
		p += len + (eol != NULL);
	}
}

/* @n reads of LEN bytes at @offs through io_uring, one submit; 0 or -errno. */
static int uring_reads(FIXTURE_DATA(trace) *self, const uint64_t *offs,
		       unsigned int n, int rwflags)
{
	struct io_uring_cqe *cqe;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&self->ring);

		io_uring_prep_read(sqe, self->fd, self->buf + i * LEN, LEN,
				   offs[i]);
		sqe->rw_flags = rwflags;
		sqe->user_data = i;
	}
	ret = io_uring_submit(&self->ring);
	if (ret != (int)n)
		return ret < 0 ? ret : -EIO;
	for (i = 0; i < n; i++) {
		ret = io_uring_wait_cqe(&self->ring, &cqe);
		if (ret)
			return ret;
		ret = cqe->res;
		io_uring_cqe_seen(&self->ring, cqe);
		if (ret < 0 && !(rwflags && ret == -EAGAIN))
			return ret;
	}
	return 0;
}

TEST_F(trace, hot_read_is_served)
{
	uint64_t off = 0;

	ASSERT_EQ(LEN, pread(self->fd, self->buf, LEN, off));
	ASSERT_EQ(0, trace_clear(self));
	ASSERT_EQ(0, uring_reads(self, &off, 1, 0));
	ASSERT_EQ(0, trace_take(self));
	trace_print(self, "hot_read_is_served");
	EXPECT_EQ(1, trace_count(self, "rasync_read", " ret 16384"));
	EXPECT_EQ(0, trace_count(self, "rasync_eagain", NULL));
	EXPECT_EQ(0, trace_count(self, "rasync_queued", NULL));
}

TEST_F(trace, nowait_cold_read_says_why)
{
	static const char *const reasons[] = {
		"eagain_not_cached", "eagain_noio", "eagain_invalidate_lock",
		"eagain_lock_busy", "eagain_needs_read",
	};
	struct ru_stats before, after, d;
	uint64_t offs[QD];
	unsigned int i, r;
	int lines = 0, eagains;
	char what[64];

	ASSERT_EQ(0, ru_evict(self->fd, FILE_SIZE));
	ASSERT_EQ(0, ru_stats_read(&before));
	ASSERT_EQ(0, trace_clear(self));
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < QD; i++)
			offs[i] = (uint64_t)(r * QD + i) * 64 * 1024;
		ASSERT_EQ(0, uring_reads(self, offs, QD, RWF_NOWAIT));
	}
	ASSERT_EQ(0, ru_stats_read(&after));
	ru_stats_delta(&before, &after, &d);
	ASSERT_EQ(0, trace_take(self));
	trace_print(self, "nowait_cold_read_says_why");
	eagains = trace_count(self, "rasync_eagain", NULL);
	EXPECT_LT(0, eagains) TH_LOG("no rasync_eagain line for %d cold RWF_NOWAIT reads",
				     ROUNDS * QD);
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		int n;

		snprintf(what, sizeof(what), " reason %s", reasons[i]);
		n = trace_count(self, "rasync_eagain", what);
		lines += n;
		/* the counters are global: other readers may add, never less */
		EXPECT_LE((uint64_t)n, ru_stat(&d, reasons[i]))
			TH_LOG("%d rasync_eagain lines say %s, the counter rose by %" PRIu64,
			       n, reasons[i], ru_stat(&d, reasons[i]));
	}
	EXPECT_EQ(eagains, lines) TH_LOG("a rasync_eagain line has a reason that is no counter's name");
	EXPECT_LT(0, trace_count(self, "rasync_read", " ret -11"));
	EXPECT_EQ(0, trace_count(self, "rasync_queued", NULL))
		TH_LOG("an RWF_NOWAIT read queued a wait");
}

TEST_F(trace, cold_reads_queue_then_wake)
{
	char hist[4096];
	uint64_t offs[QD];
	unsigned int i, r;
	int queued, woken, entries;

	ASSERT_EQ(0, ru_evict(self->fd, FILE_SIZE));
	ASSERT_EQ(0, ru_stats_reset());
	ASSERT_EQ(0, trace_clear(self));
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < QD; i++)
			offs[i] = (uint64_t)(r * QD + i) * 128 * 1024 + 4096;
		ASSERT_EQ(0, uring_reads(self, offs, QD, 0));
	}
	ASSERT_EQ(0, trace_take(self));
	trace_print(self, "cold_reads_queue_then_wake");
	queued = trace_count(self, "rasync_read", " ret -529");
	woken = trace_count(self, "rasync_woken", " queued_ns ");
	entries = trace_count(self, "rasync_queued", NULL);
	ASSERT_LT(0, queued) TH_LOG("no read of %d cold ones returned -EIOCBQUEUED",
				    ROUNDS * QD);
	EXPECT_EQ(queued, woken)
		TH_LOG("%d reads returned -EIOCBQUEUED, %d rasync_woken lines", queued,
		       woken);
	EXPECT_EQ(queued, entries)
		TH_LOG("%d reads returned -EIOCBQUEUED, %d rasync_queued lines",
		       queued, entries);
	EXPECT_LT(0, trace_count(self, "rasync_read", " ret 16384"));
	ASSERT_LT(0, ru_read_str(HIST, hist, sizeof(hist)));
	TH_LOG("queued_hist (from_ns to_ns count):\n%s", hist);
	{
		unsigned long long from, to, n, sum = 0;
		char *p = hist;
		int used;

		while (sscanf(p, "%llu %llu %llu\n%n", &from, &to, &n, &used) == 3) {
			sum += n;
			p += used;
		}
		/* other readers may add samples; ours are all there */
		EXPECT_LE((unsigned long long)woken, sum);
	}
}

TEST_F(trace, hook_only_says_stock)
{
	uint64_t off = 0;

	ASSERT_EQ(LEN, pread(self->fd, self->buf, LEN, off));
	ASSERT_EQ(0, ru_write_str(HOOK_ONLY, "Y"));
	ASSERT_EQ(0, trace_clear(self));
	ASSERT_EQ(0, uring_reads(self, &off, 1, 0));
	ASSERT_EQ(0, ru_write_str(HOOK_ONLY, "N"));
	ASSERT_EQ(0, trace_take(self));
	trace_print(self, "hook_only_says_stock");
	EXPECT_EQ(1, trace_count(self, "rasync_read", " ret 16384 stock"));
}

TEST_HARNESS_MAIN
