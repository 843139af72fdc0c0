// SPDX-License-Identifier: GPL-2.0
/*
 * RWF_DONTCACHE buffered reads through io_uring leave no pages behind.
 *
 * On Linux 7.3 an RWF_DONTCACHE read (IOCB_DONTCACHE, on file systems with
 * FOP_DONTCACHE: ext4 and xfs) marks the folios it creates or reads ahead
 * drop-behind, and filemap_read() takes each of them out of the page cache
 * once it has copied from it; rasync must do the same.  Each case reads a
 * cold file whole, in pieces of 4 KiB to 64 KiB, checks every byte, and
 * counts the file's pages cached afterwards:
 *
 *  - dontcache_read_drops_pages: with rasync enabled, RWF_DONTCACHE reads
 *    leave (almost) none of the file cached, and rasync served them (its
 *    reads and eiocbqueued counters moved);
 *  - normal_read_keeps_pages: the same reads without RWF_DONTCACHE leave
 *    the file cached: the control that shows the count can fail;
 *  - stock_dontcache_drops_pages: with enabled=N (the stock filemap_read())
 *    RWF_DONTCACHE reads also drop the pages, and rasync served none.
 *
 * Variants:
 *
 *  - seq_qd1: the pieces in file order, one at a time, with the default
 *    readahead: most folios are created by readahead, drop-behind too, and
 *    dropped by the later read that copies from them;
 *  - random_qd32: the pieces in random order, 32 in flight, under
 *    POSIX_FADV_RANDOM: each read creates just the folios it reads.
 *
 * Not sequential reads with several in flight plus readahead: there, a
 * readahead window can run over pieces that later reads already copied
 * and dropped and bring them back, drop-behind but never read again.  The
 * stock path leaves up to a few hundred of the 1025 pages that way (Linux
 * 7.3, QD4 and QD16: 0 to 208 pages; rasync 0 to 385), a count with no
 * bound to test.
 *
 * Where the kernel has no RWF_DONTCACHE (6.12) or the file system lacks
 * FOP_DONTCACHE (btrfs, f2fs), the io_uring read fails with -EOPNOTSUPP
 * (or -EINVAL) and every case SKIPs, saying which.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE	0x00000080
#endif

#define FILE_SIZE	(4 * 1024 * 1024 + 1000)	/* EOF mid-page */
#define FILE_SEED	0x64636163ULL			/* "dcac" */
#define NR_PAGES	((FILE_SIZE + RU_PAGE - 1) / RU_PAGE)
#define MAX_PAGES	16				/* 64 KiB reads */
/*
 * Pages a drop-behind read may leave cached.  0 is expected: in both
 * variants every folio the reads bring in is copied from afterwards, and
 * nothing else uses the file.  But filemap_read() (and rasync) drop a
 * folio only if folio_trylock() succeeds after the copy, so a folio that
 * someone else (a concurrent reader dropping it itself, migration) has
 * locked at that moment stays: allow two folios of 16 KiB (xfs-16k's
 * smallest).
 */
#define MAX_RESIDUE	8
/* the control: a normal read of a 4 MiB file keeps nearly all of it */
#define MIN_KEPT	(NR_PAGES * 9 / 10)

FIXTURE(dc)
{
	int fd;
	char path[PATH_MAX];
	struct ru_reader r;
	struct ru_req *reqs;
	unsigned int n;
	int enabled_orig;	/* module param to restore, or -1 */
	struct ru_pin pin;	/* unused: ru_reader_fixture_exit() wants one */
};

FIXTURE_VARIANT(dc)
{
	bool random;		/* random order, POSIX_FADV_RANDOM */
	unsigned int qd;
};

FIXTURE_VARIANT_ADD(dc, seq_qd1)
{
	.random = false, .qd = 1,
};

FIXTURE_VARIANT_ADD(dc, random_qd32)
{
	.random = true, .qd = 32,
};

/*
 * The result of an io_uring RWF_DONTCACHE read of page 0: 0, or the errno
 * of a kernel without the flag (6.12) or a file system without
 * FOP_DONTCACHE.
 */
static int dontcache_probe(struct __test_metadata *_metadata,
			   FIXTURE_DATA(dc) *self)
{
	struct ru_opts o = { .op = RU_READ, .rw_flags = RWF_DONTCACHE };
	struct ru_req q = { .off = 0, .len = RU_PAGE };
	struct ru_result res;
	int ret;

	ret = ru_run(&self->r, self->fd, &o, &q, 1, FILE_SEED, FILE_SIZE, &res);
	ASSERT_LE(0, ret) TH_LOG("io_uring: %s", strerror(-ret));
	if (q.res == -EOPNOTSUPP || q.res == -EINVAL)
		return q.res;
	ASSERT_EQ(0, ret) TH_LOG("RWF_DONTCACHE read of page 0: %s", res.msg);
	return 0;
}

FIXTURE_SETUP(dc)
{
	unsigned long magic;
	struct utsname u;
	int ret;

	self->fd = -1;
	self->enabled_orig = -1;
	RU_REQUIRE_ASYNC_FS_MAGIC(&magic);
	/* a page more than the largest read: the guard bytes are checked */
	ret = ru_reader_init(&self->r, variant->qd,
			     (MAX_PAGES + 1) * RU_PAGE, false, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring set-up: %s", strerror(-ret));
	self->fd = ru_open_test_file("dontcache", FILE_SIZE, FILE_SEED,
				     self->path, sizeof(self->path));
	ASSERT_LE(0, self->fd) TH_LOG("test file in %s: %s",
				      ru_scratch_dir(), strerror(-self->fd));
	ret = posix_fadvise(self->fd, 0, 0, variant->random ?
			    POSIX_FADV_RANDOM : POSIX_FADV_NORMAL);
	ASSERT_EQ(0, ret) TH_LOG("posix_fadvise: %s", strerror(ret));
	ret = dontcache_probe(_metadata, self);
	if (ret)
		SKIP(return, "no RWF_DONTCACHE on %s (Linux %s): an io_uring read with it gives %s",
		     ru_fs_name(magic), uname(&u) ? "?" : u.release,
		     strerror(-ret));

	self->reqs = calloc(NR_PAGES, sizeof(*self->reqs));
	ASSERT_NE(NULL, self->reqs);
	self->n = ru_gen_cover(self->reqs, NR_PAGES, FILE_SIZE, MAX_PAGES,
			       ru_seed(), variant->random);
}

FIXTURE_TEARDOWN(dc)
{
	if (self->enabled_orig >= 0)
		ru_set_module_enabled(self->enabled_orig);
	ru_reader_fixture_exit(&self->pin, self->fd, &self->r, self->reqs,
			       NULL);
}

/*
 * Have the reads served by rasync (@on) or by the stock filemap_read():
 * true if the module is there to count them.  Without it (or on a host
 * dry run) the stock path serves them and nothing is counted; a case that
 * needs enabled=N SKIPs before.
 */
static bool set_path(struct __test_metadata *_metadata, FIXTURE_DATA(dc) *self,
		     bool on)
{
	if (!ru_module_loaded() || ru_host_dryrun()) {
		TH_LOG("rasync not loaded (or dry run): the stock path is tested, no counters");
		return false;
	}
	RU_MODULE_SAVE_AND_SET(self->enabled_orig, on);
	return true;
}

/*
 * Evict the file, read it whole with @rw_flags, check every byte; returns
 * the file's pages cached afterwards, their indexes in @where.  mincore()
 * of a fresh mapping that is never touched sees the page cache without
 * faulting anything in (the guest kernels have no CONFIG_CACHESTAT_SYSCALL
 * for cachestat(2)).
 */
static long read_whole(struct __test_metadata *_metadata,
		       FIXTURE_DATA(dc) *self, unsigned int rw_flags,
		       const char *what, char *where, size_t len)
{
	struct ru_opts o = { .op = RU_READ, .rw_flags = rw_flags };
	struct ru_result res;
	long pages;

	RU_COLD_READ(&self->r, self->fd, self->path, &o, self->reqs, self->n,
		     FILE_SEED, FILE_SIZE, what, &res);
	ASSERT_EQ(FILE_SIZE, res.bytes);
	pages = ru_resident_ranges(self->fd, FILE_SIZE, where, len);
	ASSERT_LE(0, pages) TH_LOG("mincore of %s: %s", self->path,
				   strerror(-pages));
	TH_LOG("%s: %u reads, %ld of %d pages cached afterwards", what,
	       self->n, pages, NR_PAGES);
	return pages;
}

/* The counters since @before: rasync served the reads, or none of them. */
static void check_served(struct __test_metadata *_metadata,
			 const struct ru_stats *before, bool served)
{
	struct ru_stats after, d;
	char msg[1024];

	ASSERT_EQ(0, ru_stats_read(&after));
	ru_stats_delta(before, &after, &d);
	ru_stats_format(&d, msg, sizeof(msg));
	TH_LOG("stats delta: %s", msg);
	if (!served) {
		EXPECT_EQ(0, ru_stat(&d, "reads"))
			TH_LOG("rasync served reads while enabled=N");
		return;
	}
	EXPECT_LT(0, ru_stat(&d, "reads")) TH_LOG("rasync served no reads");
	/* cold pages: the reads waited for their I/O in rasync */
	EXPECT_LT(0, ru_stat(&d, "eiocbqueued"))
		TH_LOG("no read waited in rasync (-EIOCBQUEUED)");
}

static void dontcache_case(struct __test_metadata *_metadata,
			   FIXTURE_DATA(dc) *self, bool rasync)
{
	struct ru_stats before;
	char where[256];
	bool counted;
	long pages;
	int ret;

	counted = set_path(_metadata, self, rasync);
	if (counted) {
		ret = ru_stats_read(&before);
		ASSERT_EQ(0, ret) TH_LOG("%s: %s", RASYNC_STATS, strerror(-ret));
	}
	pages = read_whole(_metadata, self, RWF_DONTCACHE,
			   !counted ? "RWF_DONTCACHE, no module" :
			   rasync ? "RWF_DONTCACHE, enabled=Y" :
				    "RWF_DONTCACHE, enabled=N",
			   where, sizeof(where));
	if (counted)
		check_served(_metadata, &before, rasync);
	EXPECT_GE(MAX_RESIDUE, pages)
		TH_LOG("%ld pages stay cached after RWF_DONTCACHE reads (at most %d may): pages %s",
		       pages, MAX_RESIDUE, where);
}

TEST_F_TIMEOUT(dc, dontcache_read_drops_pages, 120)
{
	dontcache_case(_metadata, self, true);
}

TEST_F_TIMEOUT(dc, normal_read_keeps_pages, 120)
{
	long pages;

	set_path(_metadata, self, true);
	pages = read_whole(_metadata, self, 0, "no RWF_DONTCACHE", NULL, 0);
	EXPECT_LE(MIN_KEPT, pages)
		TH_LOG("only %ld of %d pages stay cached after normal reads",
		       pages, NR_PAGES);
}

TEST_F_TIMEOUT(dc, stock_dontcache_drops_pages, 120)
{
	RU_REQUIRE_MODULE_KNOBS();
	dontcache_case(_metadata, self, false);
}

TEST_HARNESS_MAIN
