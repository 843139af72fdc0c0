// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: page-cache eviction racing QD32 io_uring reads.
 *
 * An evicting thread calls posix_fadvise(POSIX_FADV_DONTNEED) in a loop,
 * on whole files and on random ranges, with random pauses of at most
 * EVICT_PAUSE_US, while reader threads (one io_uring each, QD32 reads in
 * flight, random offsets and lengths, some past EOF) read:
 *
 *  - one_ring_one_file: one ring, one file;
 *  - rings_one_file: READERS rings (threads) on one file, so several reads
 *    wait on the same folios;
 *  - rings_many_files: READERS rings, each reading all NR_FILES files at
 *    once.
 *
 * Folios are dropped between a read's -EIOCBQUEUED and its retry, under
 * readahead, and while other rings wait on them.  With up to
 * READERS * QD = 128 reads in flight over several files, many waits sit on
 * the kernel's folio wait table at once: it has only 256 hashed queues
 * (PAGE_WAIT_TABLE_BITS = 8), so unrelated folios certainly share queues
 * (hash collisions), and every wake-up walks entries of other folios that
 * must not be woken (wake_page_match).
 *
 * Every read must return exactly min(len, size - off) bytes, all matching
 * the generator, with nothing written past them: eviction never changes
 * what a read returns.  A read not completed within HANG_SECONDS fails
 * the case (hang).
 *
 * Bounded by TIME_BUDGET seconds per case (RASYNC_STRESS_TIME overrides)
 * and MAX_READS reads per reader; prints
 * "# <case>: <reads> iterations in <s> s".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define NR_FILES	4
#define FILE_SIZE	(8 * 1024 * 1024 + 4321)
#define FILE_SEED	0x65766963ULL		/* "evic" */
#define QD		32
#define READERS		4
#define MAX_LEN		(128 * 1024)
#define MAX_READS	200000
#define EVICT_PAUSE_US	3000
#define TIME_BUDGET	25
#define HANG_SECONDS	60
#define TEST_TIMEOUT	150

/* --- the cases ---------------------------------------------------------- */

FIXTURE(evict)
{
	int fds[NR_FILES];
	uint64_t sizes[NR_FILES];
	uint64_t seeds[NR_FILES];
	char path[PATH_MAX];
	struct ru_stats st0;
	bool have_stats;
};

FIXTURE_SETUP(evict)
{
	char tag[32];
	int i, ret;

	for (i = 0; i < NR_FILES; i++)
		self->fds[i] = -1;
	RU_REQUIRE_ASYNC_FS();
	for (i = 0; i < NR_FILES; i++) {
		/* sizes differ a little, so EOF sits at different offsets */
		self->sizes[i] = FILE_SIZE - i * 1111;
		self->seeds[i] = FILE_SEED + i;
		snprintf(tag, sizeof(tag), "evict%d", i);
		self->fds[i] = ru_open_test_file(tag, self->sizes[i],
						 self->seeds[i], self->path,
						 sizeof(self->path));
		ASSERT_LE(0, self->fds[i])
			TH_LOG("test file in %s: %s", ru_scratch_dir(),
			       strerror(-self->fds[i]));
		ret = posix_fadvise(self->fds[i], 0, 0, POSIX_FADV_DONTNEED);
		ASSERT_EQ(0, ret);
	}
	self->have_stats = ru_stats_read(&self->st0) == 0;
}

FIXTURE_TEARDOWN(evict)
{
	int i;

	for (i = 0; i < NR_FILES; i++)
		if (self->fds[i] >= 0)
			close(self->fds[i]);
}

static void run_case(struct __test_metadata *_metadata,
		     FIXTURE_DATA(evict) *self, unsigned int readers,
		     unsigned int nfiles)
{
	double t0 = ru_now_s(), budget = ru_time_budget(TIME_BUDGET);
	struct ru_sreader sr[READERS];
	pthread_t th[READERS], eth;
	unsigned long reads = 0, nbad = 0;
	_Atomic bool stop = false;
	struct ru_evictor ev = {
		.fds = self->fds,
		.sizes = self->sizes,
		.nfiles = nfiles,
		.ranges = true,
		.pause_us = EVICT_PAUSE_US,
		.rng = ru_seed() * 31 + 7,
		.stop = &stop,
	};
	uint64_t bytes = 0;
	unsigned int i;
	bool hung = false;

	ASSERT_EQ(0, pthread_create(&eth, NULL, ru_evictor_thread, &ev));
	for (i = 0; i < readers; i++) {
		memset(&sr[i], 0, sizeof(sr[i]));
		sr[i].fds = self->fds;
		sr[i].sizes = self->sizes;
		sr[i].seeds = self->seeds;
		sr[i].nfiles = nfiles;
		sr[i].qd = QD;
		sr[i].max_len = MAX_LEN;
		sr[i].hang_seconds = HANG_SECONDS;
		sr[i].rng = (ru_seed() + 1) * 0x9E3779B97F4A7C15ULL + i;
		sr[i].deadline = t0 + budget;
		sr[i].max_reads = MAX_READS;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, ru_sreader_thread,
					    &sr[i]));
	}
	for (i = 0; i < readers; i++) {
		pthread_join(th[i], NULL);
		reads += sr[i].reads;
		bytes += sr[i].bytes;
		nbad += sr[i].nbad;
		if (sr[i].err == -ETIME)
			hung = true;
	}
	atomic_store(&stop, true);
	pthread_join(eth, NULL);

	fprintf(stderr, "# evict.%s: %lu iterations in %.1f s (iterations = reads checked, %" PRIu64 " MiB; %u rings, %u files, %lu evictions)\n",
		_metadata->name, reads, ru_now_s() - t0, bytes >> 20, readers,
		nfiles, ev.passes);
	for (i = 0; i < readers; i++) {
		EXPECT_EQ(0, sr[i].err)
			TH_LOG("reader %u: %s (seed 0x%llx)", i, sr[i].msg,
			       (unsigned long long)ru_seed());
		EXPECT_EQ(0, sr[i].nbad)
			TH_LOG("reader %u: %u of %lu reads bad (seed 0x%llx); first: %s",
			       i, sr[i].nbad, sr[i].reads,
			       (unsigned long long)ru_seed(), sr[i].msg);
	}
	EXPECT_EQ(0, ev.err) TH_LOG("posix_fadvise: %s", strerror(ev.err));
	ASSERT_FALSE(hung);
	ASSERT_EQ(0, nbad);
	ASSERT_LT(0, reads);
	ASSERT_LT(0, ev.passes);
	RU_LOG_STATS_SINCE(self->have_stats, &self->st0,
			   ru_module_enabled() == 1);
}

TEST_F_TIMEOUT(evict, one_ring_one_file, TEST_TIMEOUT)
{
	run_case(_metadata, self, 1, 1);
}

TEST_F_TIMEOUT(evict, rings_one_file, TEST_TIMEOUT)
{
	run_case(_metadata, self, READERS, 1);
}

TEST_F_TIMEOUT(evict, rings_many_files, TEST_TIMEOUT)
{
	run_case(_metadata, self, READERS, NR_FILES);
}

TEST_HARNESS_MAIN
