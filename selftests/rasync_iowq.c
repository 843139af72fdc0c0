// SPDX-License-Identifier: GPL-2.0
/*
 * Cold buffered io_uring reads wait for the page unlock instead of being
 * punted to io-wq worker threads.
 *
 * Punts are counted with the io_uring:io_uring_queue_async_work
 * tracepoint (a hist trigger, or the event in a private tracefs instance
 * when the kernel has no CONFIG_HIST_TRIGGERS).  Every case also checks
 * the bytes it read.
 *
 *  - forced_async_reads_are_counted: IOSQE_ASYNC reads are punted by
 *    definition; proves the counter sees punts, so a zero below means
 *    something;
 *  - cold_qd32_reads_not_punted: with io_uring_async_buffered_reads=1
 *    (the default), QD32 random 4K reads of an evicted file queue no work;
 *  - cold_qd32_reads_wait_in_module: the same reads, served by rasync,
 *    make it wait (waits_lock + waits_wait > 0) and return -EIOCBQUEUED;
 *  - sysctl_off_punts_to_iowq: with the sysctl at 0 the same reads are
 *    punted, as before 5.9.  The sysctl is always restored.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SIZE	(4 * 1024 * 1024)
#define FILE_SEED	0x696f7771ULL		/* "iowq" */
#define NR_BLOCKS	(FILE_SIZE / RU_PAGE)
#define QD		32
#define NR_FORCED	64

#define EV_SYSTEM	"io_uring"
#define EV_NAME		"io_uring_queue_async_work"

FIXTURE(iowq)
{
	int fd;
	char path[PATH_MAX];
	struct ru_reader r;
	struct ru_req *reqs;
	unsigned int n;
	struct ru_evcount ev;
	int sysctl_orig;	/* value to restore, or -1 */
};

FIXTURE_SETUP(iowq)
{
	int ret;

	self->fd = -1;
	self->sysctl_orig = -1;
	RU_REQUIRE_ASYNC_FS();
	ret = ru_evcount_probe(EV_SYSTEM, EV_NAME);
	if (ret)
		SKIP(return, "cannot count %s:%s in tracefs: %s", EV_SYSTEM,
		     EV_NAME, strerror(-ret));

	ret = ru_reader_init(&self->r, QD, RU_PAGE, false, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring set-up: %s", strerror(-ret));
	self->fd = ru_open_test_file("iowq", FILE_SIZE, FILE_SEED, self->path,
				     sizeof(self->path));
	ASSERT_LE(0, self->fd) TH_LOG("test file in %s: %s",
				      ru_scratch_dir(), strerror(-self->fd));
	self->reqs = calloc(NR_BLOCKS, sizeof(*self->reqs));
	ASSERT_NE(NULL, self->reqs);
	self->n = ru_gen_blocks(self->reqs, NR_BLOCKS, FILE_SIZE, ru_seed());
	ASSERT_EQ(NR_BLOCKS, self->n);
}

/* Put the sysctl back to what it was when the test first looked. */
static int restore_async_buffered_reads(FIXTURE_DATA(iowq) *self)
{
	int ret = 0;

	if (self->sysctl_orig >= 0 &&
	    ru_sysctl_get(SYSCTL_ASYNC_BUF_READS) != self->sysctl_orig)
		ret = ru_sysctl_set(SYSCTL_ASYNC_BUF_READS, self->sysctl_orig);
	self->sysctl_orig = -1;
	return ret;
}

FIXTURE_TEARDOWN(iowq)
{
	ru_evcount_stop(&self->ev);
	restore_async_buffered_reads(self);
	if (self->fd >= 0)
		close(self->fd);
	ru_reader_exit(&self->r);
	free(self->reqs);
}

/* Set the sysctl (remembering the old value for teardown), if it exists. */
static bool set_async_buffered_reads(struct __test_metadata *_metadata,
				     FIXTURE_DATA(iowq) *self, int val)
{
	int cur, ret;

	cur = ru_sysctl_get(SYSCTL_ASYNC_BUF_READS);
	if (cur == -ENOENT)
		return false;
	ASSERT_LE(0, cur) TH_LOG("%s: %s", SYSCTL_ASYNC_BUF_READS,
				 strerror(-cur));
	if (self->sysctl_orig < 0)
		self->sysctl_orig = cur;
	if (cur == val)
		return true;
	ASSERT_FALSE(ru_host_dryrun())
		TH_LOG("%s is %d and RASYNC_HOST_DRYRUN=1 forbids changing it",
		       SYSCTL_ASYNC_BUF_READS, cur);
	ret = ru_sysctl_set(SYSCTL_ASYNC_BUF_READS, val);
	ASSERT_EQ(0, ret) TH_LOG("writing %d to %s: %s", val,
				 SYSCTL_ASYNC_BUF_READS, strerror(-ret));
	return true;
}

/*
 * Read @n requests with @o (from an evicted file if @cold), counting
 * punts; the reads must all return the right bytes.  Returns the punts
 * counted.
 */
static long long counted_reads(struct __test_metadata *_metadata,
			       FIXTURE_DATA(iowq) *self,
			       const struct ru_opts *o, unsigned int n,
			       bool cold)
{
	struct ru_result res;
	long long events;
	long pages;
	int ret;

	if (cold) {
		pages = ru_evict(self->fd, FILE_SIZE);
		ASSERT_EQ(0, pages) TH_LOG("evicting %s: %ld pages still cached (or -errno)",
					   self->path, pages);
	}
	ret = ru_evcount_start(&self->ev, EV_SYSTEM, EV_NAME);
	ASSERT_EQ(0, ret) TH_LOG("starting to count %s: %s", EV_NAME,
				 strerror(-ret));
	ret = ru_run(&self->r, self->fd, o, self->reqs, n, FILE_SEED,
		     FILE_SIZE, &res);
	events = ru_evcount_read(&self->ev);
	ru_evcount_stop(&self->ev);
	ASSERT_LE(0, ret) TH_LOG("io_uring: %s", strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%u of %u reads bad (seed 0x%llx); first: %s",
				 res.nbad, n, (unsigned long long)ru_seed(),
				 res.msg);
	ASSERT_LE(0, events) TH_LOG("reading the %s count: %s", EV_NAME,
				    strerror(-events));
	return events;
}

TEST_F_TIMEOUT(iowq, forced_async_reads_are_counted, 120)
{
	struct ru_opts o = { .op = RU_READ, .sqe_flags = IOSQE_ASYNC };
	long long events;

	events = counted_reads(_metadata, self, &o, NR_FORCED, false);
	TH_LOG("%d IOSQE_ASYNC reads, %lld %s events", NR_FORCED, events,
	       EV_NAME);
	ASSERT_LE(NR_FORCED, events);
}

TEST_F_TIMEOUT(iowq, cold_qd32_reads_not_punted, 120)
{
	struct ru_opts o = { .op = RU_READ };
	long long events;

	if (!set_async_buffered_reads(_metadata, self, 1))
		TH_LOG("no %s: testing the kernel's default behaviour",
		       SYSCTL_ASYNC_BUF_READS);
	events = counted_reads(_metadata, self, &o, self->n, true);
	TH_LOG("%u cold reads, %lld %s events", self->n, events, EV_NAME);
	ASSERT_EQ(0, events);
}

TEST_F_TIMEOUT(iowq, cold_qd32_reads_wait_in_module, 120)
{
	struct ru_opts o = { .op = RU_READ };
	struct ru_stats before, after, d;
	long long events;
	char msg[256];
	int ret;

	if (!ru_module_loaded())
		SKIP(return, "rasync module not loaded");
	if (ru_module_enabled() != 1)
		SKIP(return, "rasync loaded but not enabled");
	set_async_buffered_reads(_metadata, self, 1);

	ret = ru_stats_read(&before);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", RASYNC_STATS, strerror(-ret));
	events = counted_reads(_metadata, self, &o, self->n, true);
	ASSERT_EQ(0, ru_stats_read(&after));
	ru_stats_delta(&before, &after, &d);
	ru_stats_format(&d, msg, sizeof(msg));
	TH_LOG("%u cold reads, %lld punts; stats delta: %s", self->n, events,
	       msg);
	EXPECT_EQ(0, events);
	EXPECT_LT(0, ru_stat(&d, "waits_lock") + ru_stat(&d, "waits_wait"));
	EXPECT_LT(0, ru_stat(&d, "eiocbqueued"));
}

TEST_F_TIMEOUT(iowq, sysctl_off_punts_to_iowq, 120)
{
	struct ru_opts o = { .op = RU_READ };
	long long events;
	int ret;

	if (ru_sysctl_get(SYSCTL_ASYNC_BUF_READS) == -ENOENT)
		SKIP(return, "no %s (kernel without the rasync patches)",
		     SYSCTL_ASYNC_BUF_READS);
	if (ru_host_dryrun())
		SKIP(return, "RASYNC_HOST_DRYRUN=1: sysctls are not written on the host");

	ASSERT_TRUE(set_async_buffered_reads(_metadata, self, 0));
	events = counted_reads(_metadata, self, &o, self->n, true);
	/* restore now; teardown restores if we never get here */
	ret = restore_async_buffered_reads(self);
	ASSERT_EQ(0, ret) TH_LOG("restoring %s: %s", SYSCTL_ASYNC_BUF_READS,
				 strerror(-ret));
	TH_LOG("%u cold reads with the sysctl at 0, %lld %s events", self->n,
	       events, EV_NAME);
	ASSERT_LT(0, events);
}

TEST_HARNESS_MAIN
