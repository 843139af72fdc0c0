// SPDX-License-Identifier: GPL-2.0
/*
 * RWF_NOWAIT buffered reads through io_uring never wait for I/O.
 *
 *  - cold_pages_return_eagain: RWF_NOWAIT reads of evicted pages complete
 *    with -EAGAIN and do not arm a wait (rasync's waits_lock, waits_wait
 *    and eiocbqueued stay put); normal reads of the same pages then
 *    return the right bytes;
 *  - hot_pages_return_data: RWF_NOWAIT reads of cached pages return all
 *    the bytes without waiting;
 *  - partly_cached_range_is_short: an RWF_NOWAIT read that starts in
 *    cached pages and runs into an evicted one returns exactly the cached
 *    part (a short read, never -EAGAIN after copying and never a wait).
 *
 * Each cold batch holds at least three SQEs so that io_uring submits it
 * under one block plug: the readahead it starts cannot complete before
 * the read looks at the page, so -EAGAIN is certain, not a race.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SIZE	(4 * 1024 * 1024 + 1000)
#define FILE_SEED	0x6e6f77ULL		/* "now" */
#define MAX_LEN		(64 * 1024)
#define QD		8

FIXTURE(nowait)
{
	int fd;
	char path[PATH_MAX];
	struct ru_reader r;
	bool module;
	struct ru_stats before;
	struct ru_pin pin;	/* cached pages, mlocked */
};

FIXTURE_SETUP(nowait)
{
	int ret;

	self->fd = -1;
	RU_REQUIRE_ASYNC_FS();
	ret = ru_reader_init(&self->r, QD, MAX_LEN, false, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring set-up: %s", strerror(-ret));
	self->fd = ru_open_test_file("nowait", FILE_SIZE, FILE_SEED,
				     self->path, sizeof(self->path));
	ASSERT_LE(0, self->fd) TH_LOG("test file in %s: %s",
				      ru_scratch_dir(), strerror(-self->fd));
	self->module = ru_module_loaded() && ru_module_enabled() == 1;
	if (!self->module)
		TH_LOG("rasync not loaded and enabled: its counters are not checked");
}

FIXTURE_TEARDOWN(nowait)
{
	ru_unpin(&self->pin);
	if (self->fd >= 0)
		close(self->fd);
	ru_reader_exit(&self->r);
}

static void evict(struct __test_metadata *_metadata, FIXTURE_DATA(nowait) *self)
{
	long pages = ru_evict(self->fd, FILE_SIZE);

	ASSERT_EQ(0, pages) TH_LOG("evicting %s: %ld pages still cached (or -errno)",
				   self->path, pages);
}

static void stats_begin(struct __test_metadata *_metadata,
			FIXTURE_DATA(nowait) *self)
{
	int ret;

	if (!self->module)
		return;
	ret = ru_stats_read(&self->before);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", RASYNC_STATS, strerror(-ret));
}

/*
 * The reads since stats_begin() went through rasync (its read counter
 * moved) and did not wait in it.
 */
static void stats_no_wait(struct __test_metadata *_metadata,
			  FIXTURE_DATA(nowait) *self, const char *what)
{
	struct ru_stats after, d;
	char msg[256];

	if (!self->module)
		return;
	ASSERT_EQ(0, ru_stats_read(&after));
	ru_stats_delta(&self->before, &after, &d);
	ru_stats_format(&d, msg, sizeof(msg));
	TH_LOG("%s: stats delta: %s", what, msg);
	EXPECT_LT(0, ru_stat(&d, "reads"));
	EXPECT_EQ(0, ru_stat(&d, "waits_lock"));
	EXPECT_EQ(0, ru_stat(&d, "waits_wait"));
	EXPECT_EQ(0, ru_stat(&d, "eiocbqueued"));
}

static void run(struct __test_metadata *_metadata, FIXTURE_DATA(nowait) *self,
		const struct ru_opts *o, struct ru_req *q, unsigned int n)
{
	struct ru_result res;
	int ret;

	ret = ru_run(&self->r, self->fd, o, q, n, FILE_SEED, FILE_SIZE, &res);
	ASSERT_LE(0, ret) TH_LOG("io_uring: %s", strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%u of %u reads bad; first: %s", res.nbad, n,
				 res.msg);
}

TEST_F_TIMEOUT(nowait, cold_pages_return_eagain, 60)
{
	struct ru_req q[] = {
		{ .off = 1 << 20, .len = RU_PAGE },
		{ .off = (2 << 20) + 5 * RU_PAGE + 17, .len = 100 },
		{ .off = 3 << 20, .len = 3 * RU_PAGE },
		{ .off = FILE_SIZE - 2 * RU_PAGE, .len = 2 * RU_PAGE },
	};
	struct ru_opts nowait = {
		.op = RU_READ,
		.rw_flags = RWF_NOWAIT,
		.allow_eagain = true,
		.allow_short = true,
	};
	struct ru_opts normal = { .op = RU_READ };
	unsigned int i, n = sizeof(q) / sizeof(q[0]);

	evict(_metadata, self);
	stats_begin(_metadata, self);
	run(_metadata, self, &nowait, q, n);
	stats_no_wait(_metadata, self, "RWF_NOWAIT on cold pages");
	for (i = 0; i < n; i++) {
		/* EXPECT_* is more than one statement: keep the braces */
		EXPECT_EQ(-EAGAIN, q[i].res)
			TH_LOG("RWF_NOWAIT read %u (off %llu len %u) of a cold page: res %d",
			       i, (unsigned long long)q[i].off, q[i].len,
			       q[i].res);
	}

	/* without RWF_NOWAIT the same reads wait and return the data */
	run(_metadata, self, &normal, q, n);
}

TEST_F_TIMEOUT(nowait, hot_pages_return_data, 60)
{
	struct ru_req q[] = {
		{ .off = 0, .len = RU_PAGE },
		{ .off = (1 << 20) + 123, .len = 5 * RU_PAGE + 1 },
		{ .off = 2 << 20, .len = MAX_LEN },
		{ .off = FILE_SIZE - 10, .len = RU_PAGE },
	};
	struct ru_opts nowait = { .op = RU_READ, .rw_flags = RWF_NOWAIT };
	long pages;

	pages = ru_pin(self->fd, 0, FILE_SIZE, FILE_SIZE, &self->pin);
	ASSERT_EQ((FILE_SIZE + RU_PAGE - 1) / RU_PAGE, pages)
		TH_LOG("mlocking %s: %ld pages cached (or -errno)", self->path,
		       pages);
	stats_begin(_metadata, self);
	/* any -EAGAIN or short read fails the check in run() */
	run(_metadata, self, &nowait, q, sizeof(q) / sizeof(q[0]));
	stats_no_wait(_metadata, self, "RWF_NOWAIT on hot pages");
}

TEST_F_TIMEOUT(nowait, partly_cached_range_is_short, 60)
{
	/* pages 8..11 cached, 12 not; read from inside page 8 to page 13 */
	const uint64_t hot = 8 * RU_PAGE, cold = 12 * RU_PAGE, start = hot + 100;
	struct ru_req q[] = {
		{ .off = start, .len = 14 * RU_PAGE - start },
		/* two more cached reads so the batch is plugged */
		{ .off = hot, .len = RU_PAGE },
		{ .off = hot + RU_PAGE, .len = 2 * RU_PAGE },
	};
	struct ru_opts nowait = {
		.op = RU_READ,
		.rw_flags = RWF_NOWAIT,
		.allow_short = true,
	};
	unsigned char buf[RU_PAGE];
	long pages;
	uint64_t off;
	int ret;

	evict(_metadata, self);
	/* no readahead: only what is read gets cached */
	ret = posix_fadvise(self->fd, 0, 0, POSIX_FADV_RANDOM);
	ASSERT_EQ(0, ret);
	for (off = hot; off < cold; off += RU_PAGE)
		ASSERT_EQ(RU_PAGE, pread(self->fd, buf, RU_PAGE, off));
	/* and keep them cached: the test means nothing if they go */
	pages = ru_pin(self->fd, hot, cold - hot, FILE_SIZE, &self->pin);
	ASSERT_EQ((cold - hot) / RU_PAGE, pages)
		TH_LOG("after reading and mlocking pages 8-11 with POSIX_FADV_RANDOM, %ld pages are cached",
		       pages);

	stats_begin(_metadata, self);
	run(_metadata, self, &nowait, q, sizeof(q) / sizeof(q[0]));
	stats_no_wait(_metadata, self, "RWF_NOWAIT on a partly cached range");
	EXPECT_EQ(cold - start, q[0].res)
		TH_LOG("RWF_NOWAIT read of %llu..%llu with %llu..%llu cached returned %d",
		       (unsigned long long)start,
		       (unsigned long long)(start + q[0].len),
		       (unsigned long long)hot, (unsigned long long)cold,
		       q[0].res);
	EXPECT_EQ(RU_PAGE, q[1].res);
	EXPECT_EQ(2 * RU_PAGE, q[2].res);
}

TEST_HARNESS_MAIN
