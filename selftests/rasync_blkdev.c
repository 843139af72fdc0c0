// SPDX-License-Identifier: GPL-2.0
/*
 * Buffered io_uring reads of a block device (def_blk_fops carries
 * FOP_BUFFER_RASYNC, so they go through rasync like file reads).
 *
 * The device ($RASYNC_BLKDEV, a scratch disk: its content is overwritten)
 * is filled with the offset-derived pattern; then, cold and hot:
 *
 *  - matches_generator: each result has the expected length and bytes
 *    (requests at and past the end of the device included), nothing is
 *    written past the result, and rasync's read counter moved;
 *  - module_matches_stock_path: the same reads with enabled=N are
 *    identical.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define DEV_SEED	0x626c6b64ULL		/* "blkd" */
#define MAX_LEN		(192 * 1024)	/* ru_gen_mixed() has a fixed 128K+7 request */
#define NR_RANDOM	200
#define MAX_REQS	512
#define QD		32

FIXTURE(blk)
{
	int fd;
	const char *dev;
	uint64_t size;
	struct ru_reader r;
	struct ru_req *reqs;
	struct ru_req *ref;
	unsigned int n;
	struct ru_pin pin;
};

FIXTURE_VARIANT(blk)
{
	bool cold;
};

FIXTURE_VARIANT_ADD(blk, cold) { .cold = true };
FIXTURE_VARIANT_ADD(blk, hot) { .cold = false };

/* Write the pattern over the whole device, 1 MiB at a time. */
static int fill_device(int fd, uint64_t size)
{
	size_t chunk = 1 << 20;
	char *buf = malloc(chunk);
	uint64_t off;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (off = 0; off < size && !ret; off += chunk) {
		size_t len = size - off < chunk ? size - off : chunk;

		ru_pattern_fill(buf, DEV_SEED, off, len);
		if (pwrite(fd, buf, len, off) != (ssize_t)len)
			ret = errno ? -errno : -EIO;
	}
	free(buf);
	if (!ret && fsync(fd))
		ret = -errno;
	return ret;
}

FIXTURE_SETUP(blk)
{
	int ret;

	self->fd = -1;
	self->reqs = NULL;
	self->ref = NULL;
	self->dev = getenv("RASYNC_BLKDEV");
	if (!self->dev || !*self->dev)
		SKIP(return, "RASYNC_BLKDEV is not set (a scratch block device to overwrite)");
	self->fd = open(self->dev, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", self->dev, strerror(errno));
	ASSERT_EQ(0, ioctl(self->fd, BLKGETSIZE64, &self->size))
		TH_LOG("BLKGETSIZE64 on %s: %s", self->dev, strerror(errno));
	ASSERT_LT(0, self->size);
	TH_LOG("%s: %llu bytes", self->dev, (unsigned long long)self->size);
	ret = fill_device(self->fd, self->size);
	ASSERT_EQ(0, ret) TH_LOG("writing %s: %s", self->dev, strerror(-ret));

	self->reqs = calloc(MAX_REQS, sizeof(*self->reqs));
	self->ref = calloc(MAX_REQS, sizeof(*self->ref));
	ASSERT_NE(NULL, self->reqs);
	ASSERT_NE(NULL, self->ref);
	self->n = ru_gen_mixed(self->reqs, MAX_REQS, self->size, MAX_LEN,
			       ru_seed(), NR_RANDOM);
	ret = ru_reader_init(&self->r, QD, MAX_LEN, false, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring set-up: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(blk)
{
	ru_reader_fixture_exit(&self->pin, self->fd, &self->r, self->reqs, self->ref);
	if (ru_module_loaded() && !ru_host_dryrun())
		ru_set_module_enabled(true);
}

static void run_checked(struct __test_metadata *_metadata,
			FIXTURE_DATA(blk) *self,
			const FIXTURE_VARIANT(blk) *variant,
			struct ru_req *reqs, const char *what)
{
	struct ru_opts o = { .op = RU_READ };
	struct ru_result res;
	long pages;
	int ret;

	ru_unpin(&self->pin);
	if (variant->cold) {
		pages = ru_evict(self->fd, self->size);
		ASSERT_EQ(0, pages) TH_LOG("evicting %s: %ld pages still cached (or -errno)",
					   self->dev, pages);
	} else {
		pages = ru_pin(self->fd, 0, self->size, self->size, &self->pin);
		ASSERT_EQ((long)(self->size / RU_PAGE), pages)
			TH_LOG("mlocking %s: %ld pages cached (or -errno)", self->dev, pages);
	}
	ret = ru_run(&self->r, self->fd, &o, reqs, self->n, DEV_SEED, self->size,
		     &res);
	ASSERT_LE(0, ret) TH_LOG("%s: io_uring: %s", what, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %u of %u requests bad (seed 0x%llx); first: %s",
				 what, res.nbad, self->n,
				 (unsigned long long)ru_seed(), res.msg);
}

TEST_F_TIMEOUT(blk, matches_generator, 120)
{
	struct ru_stats before, after, d;
	bool module = ru_module_loaded() && ru_module_enabled() == 1;
	char msg[256];

	if (module)
		ASSERT_EQ(0, ru_stats_read(&before));
	run_checked(_metadata, self, variant, self->reqs, "enabled=Y");
	if (!module) {
		TH_LOG("rasync not loaded and enabled: its counters are not checked");
		return;
	}
	ASSERT_EQ(0, ru_stats_read(&after));
	ru_stats_delta(&before, &after, &d);
	ru_stats_format(&d, msg, sizeof(msg));
	TH_LOG("stats delta: %s", msg);
	EXPECT_LT(0, ru_stat(&d, "reads")) TH_LOG("rasync served no block-device reads");
}

TEST_F_TIMEOUT(blk, module_matches_stock_path, 120)
{
	char msg[256];

	RU_REQUIRE_MODULE_KNOBS();
	ASSERT_EQ(0, ru_set_module_enabled(true));
	run_checked(_metadata, self, variant, self->reqs, "enabled=Y");
	ASSERT_EQ(0, ru_set_module_enabled(false));
	memcpy(self->ref, self->reqs, self->n * sizeof(*self->reqs));
	run_checked(_metadata, self, variant, self->ref, "enabled=N");
	ASSERT_EQ(0, ru_set_module_enabled(true));
	ASSERT_EQ(-1, ru_compare(self->reqs, self->ref, self->n, msg, sizeof(msg)))
		TH_LOG("enabled=Y vs enabled=N: %s", msg);
}

TEST_HARNESS_MAIN
