// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring's submitter never sleeps on mapping->invalidate_lock.
 *
 * An io_uring read is first tried with IOCB_NOWAIT; on -EAGAIN io_uring
 * retries it at once, still inside io_uring_enter() of the submitting
 * task, as an IOCB_WAITQ read, and punts it to io-wq if that gives -EAGAIN
 * too.  When the folio is in the cache, not uptodate and not locked, the
 * WAITQ retry's async wait for the folio lock returns at once and the read
 * goes on to take invalidate_lock shared: it must only try (and give
 * -EAGAIN, counted as eagain_invalidate_lock), never sleep on it while a
 * hole punch or truncate holds it.
 *
 * waitq_read_does_not_wait_for_punch, on ext4 with 1 KiB blocks (the
 * scratch directory if its blocks are smaller than a page, else the
 * "ext4-1k" (or any such ext4) mount of the matrix, from $RASYNC_DISKS):
 *
 *  - the first page of a file holds data; it is dropped from the cache and
 *    its first 1 KiB block written again (the same bytes), which leaves a
 *    folio with only that block uptodate: reading any other block of it
 *    needs ->read_folio.  A RWF_NOWAIT preadv2() of the second block then
 *    gives EAGAIN (counted as eagain_needs_read): the folio is as wanted;
 *  - a thread punches a hole in a range of the same file whose pages are
 *    all cached (zero pages of a sparse range), so ext4_punch_hole() holds
 *    invalidate_lock exclusively while truncate_pagecache_range() drops
 *    them; the range is calibrated so that this takes about TARGET_S;
 *  - the main thread probes with RWF_NOWAIT reads of the second block until
 *    one counts eagain_invalidate_lock (the punch holds the lock now), then
 *    submits one io_uring read of the first page (one SQE);
 *  - io_uring_submit() must return while the punch thread is still inside
 *    fallocate(), with the NOWAIT attempt counted as eagain_invalidate_lock
 *    (contention did happen in this attempt; the fixed WAITQ retry counts
 *    one more).  A submit that returns only after the punch ended, having
 *    taken at least WAITED_S since the punch was seen holding the lock,
 *    slept on it: the case fails.
 *
 * Every read returns the file's bytes.  An attempt in which the punch was
 * not seen holding the lock, or ended too soon after the submit began to
 * tell, is retried with a longer punch, up to ATTEMPTS times; if none was
 * conclusive the case SKIPs with the reason.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SEED	0x696e766cULL		/* "invl" */
#define HEAD		(64 * 1024)		/* data; the punches start here */
#define MIN_PUNCH	(8ULL << 20)
#define MAX_PUNCH	(256ULL << 20)
#define FILE_SIZE	(HEAD + MAX_PUNCH)
#define CHUNK		(1 << 20)
#define BLK		1024
/* the punch should hold invalidate_lock about this long */
#define TARGET_S	1.0
/* a submit that took this long and outlived the punch waited for it */
#define WAITED_S	0.2
#define ATTEMPTS	6
#define CQE_S		60
#define TEST_TIMEOUT	280

#define EXT4_MAGIC	0xEF53

/* Is @dir on ext4 with blocks smaller than a page? */
static bool subpage_ext4(const char *dir, long *bsize)
{
	struct statfs sf;

	if (statfs(dir, &sf))
		return false;
	*bsize = sf.f_bsize;
	return sf.f_type == EXT4_MAGIC && sf.f_bsize < (long)RU_PAGE;
}

/* The scratch dir, else the first such file system in $RASYNC_DISKS. */
static bool find_dir(char *dir, size_t len, char *why, size_t wlen)
{
	const char *disks = getenv("RASYNC_DISKS");
	char line[PATH_MAX + 64], fs[64], mnt[PATH_MAX];
	long bsize = 0;
	FILE *f;

	if (subpage_ext4(ru_scratch_dir(), &bsize)) {
		snprintf(dir, len, "%s", ru_scratch_dir());
		return true;
	}
	snprintf(why, wlen, "%s has %ld-byte blocks", ru_scratch_dir(), bsize);
	f = fopen(disks && *disks ? disks : "/rasync/disks", "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %4095s", fs, mnt) == 2 && mnt[0] == '/' &&
		    subpage_ext4(mnt, &bsize)) {
			snprintf(dir, len, "%s", mnt);
			fclose(f);
			return true;
		}
	}
	fclose(f);
	return false;
}

struct puncher {
	pthread_t thread;
	int fd;
	off_t off, len;
	double t_start, t_end;
	int err;
	_Atomic int done;
};

static void *punch_main(void *arg)
{
	struct puncher *p = arg;

	p->t_start = ru_now_s();
	p->err = fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   p->off, p->len) ? errno : 0;
	p->t_end = ru_now_s();
	atomic_store(&p->done, 1);
	return NULL;
}

FIXTURE(invlock)
{
	int fd;
	int enabled0;
	char dir[PATH_MAX];
	unsigned char *buf;
	struct io_uring ring;
	bool ring_ok;
};

FIXTURE_SETUP(invlock)
{
	char path[PATH_MAX + 64], why[PATH_MAX + 64] = "";
	unsigned char *data;

	self->fd = -1;
	self->enabled0 = -1;
	self->buf = NULL;
	self->ring_ok = false;
	RU_REQUIRE_MODULE_KNOBS();
	if (!find_dir(self->dir, sizeof(self->dir), why, sizeof(why)))
		SKIP(return, "no ext4 with blocks smaller than a page is mounted (%s; the matrix's ext4-1k is listed in $RASYNC_DISKS by make check's guest)",
		     why);
	RU_MODULE_SAVE_AND_SET(self->enabled0, true);

	/* a private file, unlinked at once: nothing to clean up */
	snprintf(path, sizeof(path), "%s/rasync-invlock-%d.dat", self->dir,
		 (int)getpid());
	self->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOATIME, 0600);
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", path, strerror(errno));
	unlink(path);
	data = malloc(HEAD);
	ASSERT_NE(NULL, data);
	ru_pattern_fill(data, FILE_SEED, 0, HEAD);
	ASSERT_EQ(HEAD, pwrite(self->fd, data, HEAD, 0));
	free(data);
	/* the rest is a hole: its cached pages are zero pages, read without I/O */
	ASSERT_EQ(0, ftruncate(self->fd, FILE_SIZE));
	ASSERT_EQ(0, fsync(self->fd));

	self->buf = aligned_alloc(RU_PAGE, CHUNK);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, io_uring_queue_init(4, &self->ring, 0));
	self->ring_ok = true;
	TH_LOG("on %s", self->dir);
}

FIXTURE_TEARDOWN(invlock)
{
	if (self->ring_ok)
		io_uring_queue_exit(&self->ring);
	free(self->buf);
	if (self->fd >= 0)
		close(self->fd);
	if (self->enabled0 >= 0 && ru_module_loaded())
		ru_set_module_enabled(self->enabled0);
}

/* Read [off, off + len) once, so that all of it is cached; 0 or -errno. */
static int populate(int fd, unsigned char *buf, uint64_t off, uint64_t len)
{
	for (uint64_t o = off; o < off + len; o += CHUNK) {
		ssize_t n = pread(fd, buf, CHUNK, o);

		if (n < 0)
			return -errno;
		if (n != CHUNK)
			return -EIO;
	}
	return 0;
}

/* A RWF_NOWAIT read of the second block of page 0: its -errno or bytes. */
static ssize_t probe(int fd)
{
	char b[BLK];
	struct iovec iov = { .iov_base = b, .iov_len = BLK };
	ssize_t n = preadv2(fd, &iov, 1, BLK, RWF_NOWAIT);

	return n < 0 ? -errno : n;
}

/* rasync's counters now; all zero if they cannot be read. */
static void stats_now(struct ru_stats *s)
{
	if (ru_stats_read(s))
		memset(s, 0, sizeof(*s));
}

static uint64_t stat_or_0(const struct ru_stats *s, const char *name)
{
	return s->n ? ru_stat(s, name) : 0;
}

/*
 * Page 0 in the cache with only its first block uptodate; NULL or why
 * not.
 */
static const char *make_partial(int fd)
{
	static char why[128];
	unsigned char blk[BLK];
	long res = 1;
	ssize_t n;

	if (fdatasync(fd))
		return "fdatasync failed";
	for (int i = 0; i < 100 && res; i++) {
		unsigned char vec;
		void *m;

		/*
		 * The whole head: since 6.16 ext4 caches large folios, and
		 * page 0 may sit in one that a one-page DONTNEED leaves.
		 */
		posix_fadvise(fd, 0, HEAD, POSIX_FADV_DONTNEED);
		m = mmap(NULL, RU_PAGE, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			return "mmap failed";
		res = mincore(m, RU_PAGE, &vec) ? 1 : (vec & 1);
		munmap(m, RU_PAGE);
		if (res)
			usleep(20000);
	}
	if (res)
		return "page 0 stays in the page cache";
	ru_pattern_fill(blk, FILE_SEED, 0, BLK);
	if (pwrite(fd, blk, BLK, 0) != BLK)
		return "pwrite of block 0 failed";
	if (fdatasync(fd))
		return "fdatasync failed";
	n = probe(fd);
	if (n != -EAGAIN) {
		snprintf(why, sizeof(why), "a RWF_NOWAIT read of block 1 gave %zd, not -EAGAIN: the folio is uptodate",
			 n);
		return why;
	}
	return NULL;
}

/* One punch of [HEAD, HEAD + len) with the range cached; its seconds. */
static double timed_punch(struct __test_metadata *_metadata,
			  FIXTURE_DATA(invlock) *self, uint64_t len)
{
	struct puncher p = { .fd = self->fd, .off = HEAD, .len = len };

	if (populate(self->fd, self->buf, HEAD, len))
		return -1;
	punch_main(&p);
	return p.err ? -1 : p.t_end - p.t_start;
}

TEST_F_TIMEOUT(invlock, waitq_read_does_not_wait_for_punch, TEST_TIMEOUT)
{
	uint64_t len = MIN_PUNCH;
	unsigned int att, passed = 0;
	char last[512] = "no attempt made";
	double d;

	/* calibrate: how long a punch of MIN_PUNCH cached bytes takes */
	d = timed_punch(_metadata, self, MIN_PUNCH);
	ASSERT_LT(0, d) TH_LOG("calibration punch failed");
	if (d < TARGET_S) {
		double want = (double)MIN_PUNCH * TARGET_S / d;

		len = want > MAX_PUNCH ? MAX_PUNCH : ((uint64_t)want + CHUNK - 1) & ~(uint64_t)(CHUNK - 1);
	}
	TH_LOG("a punch of %llu MiB of cached pages took %.0f ms; punching %llu MiB",
	       (unsigned long long)(MIN_PUNCH >> 20), d * 1000,
	       (unsigned long long)(len >> 20));

	for (att = 0; att < ATTEMPTS && !passed; att++) {
		struct puncher p = { .fd = self->fd, .off = HEAD, .len = len };
		struct ru_stats s0, s1;
		uint64_t inv_pre, inv0, inv1, nr0, nr1;
		struct io_uring_sqe *sqe;
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_sec = CQE_S };
		unsigned int probes = 0;
		double t0, t1, t_seen = 0;
		bool held = false, done1, waited;
		const char *why;
		ssize_t bad;
		int ret, res;

		ASSERT_EQ(0, populate(self->fd, self->buf, HEAD, len));
		why = make_partial(self->fd);
		ASSERT_TRUE(why == NULL) TH_LOG("setting up page 0: %s", why);
		stats_now(&s0);
		inv_pre = stat_or_0(&s0, "eagain_invalidate_lock");

		ASSERT_EQ(0, pthread_create(&p.thread, NULL, punch_main, &p));
		/* until a NOWAIT read finds invalidate_lock held by the punch */
		while (!atomic_load(&p.done)) {
			ssize_t n = probe(self->fd);

			probes++;
			if (n != -EAGAIN) {
				pthread_join(p.thread, NULL);
				ASSERT_EQ(-EAGAIN, n) TH_LOG("probe %u: the folio became uptodate", probes);
			}
			stats_now(&s0);
			if (stat_or_0(&s0, "eagain_invalidate_lock") > inv_pre) {
				held = true;
				t_seen = ru_now_s();
				break;
			}
		}
		if (!held) {
			pthread_join(p.thread, NULL);
			ASSERT_EQ(0, p.err) TH_LOG("fallocate: %s", strerror(p.err));
			snprintf(last, sizeof(last), "attempt %u: the punch of %llu MiB (%.0f ms) ended before %u probes saw invalidate_lock held",
				 att, (unsigned long long)(len >> 20),
				 (p.t_end - p.t_start) * 1000, probes);
			TH_LOG("%s", last);
			len = len * 2 > MAX_PUNCH ? MAX_PUNCH : len * 2;
			continue;
		}

		inv0 = stat_or_0(&s0, "eagain_invalidate_lock");
		nr0 = stat_or_0(&s0, "eagain_needs_read");
		sqe = io_uring_get_sqe(&self->ring);
		ASSERT_NE(NULL, sqe);
		memset(self->buf, 0, RU_PAGE);
		io_uring_prep_read(sqe, self->fd, self->buf, RU_PAGE, 0);
		t0 = ru_now_s();
		ret = io_uring_submit(&self->ring);
		t1 = ru_now_s();
		done1 = atomic_load(&p.done);
		stats_now(&s1);
		inv1 = stat_or_0(&s1, "eagain_invalidate_lock");
		nr1 = stat_or_0(&s1, "eagain_needs_read");
		ASSERT_EQ(1, ret) TH_LOG("io_uring_submit: %s", strerror(-ret));

		ret = io_uring_wait_cqe_timeout(&self->ring, &cqe, &ts);
		ASSERT_EQ(0, ret) TH_LOG("no completion within %d s: %s", CQE_S,
					 strerror(-ret));
		res = cqe->res;
		io_uring_cqe_seen(&self->ring, cqe);
		pthread_join(p.thread, NULL);
		ASSERT_EQ(0, p.err) TH_LOG("fallocate: %s", strerror(p.err));
		ASSERT_EQ(RU_PAGE, res) TH_LOG("read of page 0: %d (%s)", res,
					       res < 0 ? strerror(-res) : "short");
		bad = ru_pattern_check(self->buf, FILE_SEED, 0, RU_PAGE);
		ASSERT_EQ(-1, bad) TH_LOG("read of page 0: wrong byte at %zd", bad);

		snprintf(last, sizeof(last), "attempt %u: punch of %llu MiB took %.0f ms; held seen %.0f ms into it after %u probes; io_uring_submit() took %.1f ms and returned %s (%.0f ms %s the punch ended); during the submit eagain_invalidate_lock +%llu, eagain_needs_read +%llu",
			 att, (unsigned long long)(len >> 20),
			 (p.t_end - p.t_start) * 1000, (t_seen - p.t_start) * 1000,
			 probes, (t1 - t0) * 1000,
			 done1 ? "after the punch" : "while the punch was still inside fallocate()",
			 (t1 > p.t_end ? t1 - p.t_end : p.t_end - t1) * 1000,
			 t1 > p.t_end ? "after" : "before",
			 (unsigned long long)(inv1 - inv0),
			 (unsigned long long)(nr1 - nr0));
		TH_LOG("%s", last);
		if (inv1 == inv0) {
			/* the punch let go between the probe and the submit */
			len = len * 2 > MAX_PUNCH ? MAX_PUNCH : len * 2;
			continue;
		}
		if (!done1) {
			passed++;
			continue;
		}
		waited = p.t_end - t0 >= WAITED_S;
		ASSERT_FALSE(waited)
			TH_LOG("io_uring_submit() slept on invalidate_lock until the hole punch ended (%.0f ms after the submit began)",
			       (p.t_end - t0) * 1000);
		/* the punch ended right as the submit began: cannot tell */
		len = len * 2 > MAX_PUNCH ? MAX_PUNCH : len * 2;
	}
	if (!passed)
		SKIP(return, "could not arrange the contention in %u attempts; last: %s",
		     ATTEMPTS, last);
}

TEST_HARNESS_MAIN
