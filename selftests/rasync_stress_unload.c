// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: switching rasync off and on, and unloading and reloading it,
 * while QD32 io_uring readers run.
 *
 * READERS threads (one ring each, QD32 random reads of one file, checked
 * byte by byte) and an evicting thread (posix_fadvise(DONTNEED) every few
 * milliseconds, so reads keep missing the cache and waiting for their
 * folios) run while the main thread:
 *
 *  - toggle_enabled: writes N and Y to /sys/module/rasync/parameters/enabled
 *    in a loop, with random pauses; every write must succeed and the
 *    debugfs state must show the hook registered exactly when enabled is Y;
 *  - unload_reload: rmmod (delete_module, O_NONBLOCK) and insmod in a loop,
 *    with random pauses: an unload either succeeds (the hook is
 *    unregistered after the readers inside it left) or fails with
 *    -EAGAIN/-EBUSY (in use); any other error fails the case, and so does
 *    a failing insmod.  After a load the hook must be registered.
 *
 * Reads in flight when the path switches complete, on whichever path their
 * retry lands, with exactly the bytes of the generator: a wrong length,
 * a wrong byte or a read not completed within HANG_SECONDS fails the case.
 * The rasync stats must show -EIOCBQUEUED returns meanwhile (reads really
 * waited in the module being switched off or unloaded).
 * The module is loaded (and enabled as before) again at the end of every
 * case, whatever happened.
 *
 * Bounded by TIME_BUDGET seconds per case (RASYNC_STRESS_TIME overrides)
 * and MAX_SWITCHES switches; prints "# <case>: <switches> iterations in <s> s".
 * Never runs on a development host (RASYNC_HOST_DRYRUN=1).
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

#define FILE_SIZE	(8 * 1024 * 1024 + 555)
#define FILE_SEED	0x756e6c6fULL		/* "unlo" */
#define QD		32
#define READERS		2
#define MAX_LEN		(128 * 1024)
#define MAX_READS	1000000
#define MAX_SWITCHES	2000
#define PAUSE_US	20000
#define EVICT_PAUSE_US	5000
#define TIME_BUDGET	25
#define HANG_SECONDS	60
#define TEST_TIMEOUT	180

/* --- the cases ---------------------------------------------------------- */

FIXTURE(unload)
{
	int fd;
	uint64_t size, seed;
	char path[PATH_MAX];
	int enabled0;		/* enabled when the case started */
	struct ru_sreader sr[READERS];
	pthread_t th[READERS], eth;
	unsigned int nthreads;
	bool evictor_started;
	_Atomic bool stop;
	struct ru_evictor ev;
};

FIXTURE_SETUP(unload)
{
	int ret;

	self->fd = -1;
	self->enabled0 = -1;
	if (ru_host_dryrun())
		SKIP(return, "RASYNC_HOST_DRYRUN=1: modules and parameters are never touched on the host");
	RU_REQUIRE_ASYNC_FS();
	if (!ru_module_loaded() && access(ru_module_path(), R_OK))
		SKIP(return, "rasync is not loaded and %s is not readable (set RASYNC_KO)",
		     ru_module_path());
	ret = ru_module_ensure_loaded();
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", ru_module_path(),
				 strerror(-ret));
	self->enabled0 = ru_module_enabled();
	ASSERT_LE(0, self->enabled0);

	self->size = FILE_SIZE;
	self->seed = FILE_SEED;
	self->fd = ru_open_test_file("unload", FILE_SIZE, FILE_SEED,
				     self->path, sizeof(self->path));
	ASSERT_LE(0, self->fd) TH_LOG("test file in %s: %s", ru_scratch_dir(),
				      strerror(-self->fd));
}

static void stop_threads(FIXTURE_DATA(unload) *self)
{
	unsigned int i;

	atomic_store(&self->stop, true);
	for (i = 0; i < self->nthreads; i++) {
		/* a hung reader is detached by the case, not joined */
		pthread_join(self->th[i], NULL);
	}
	self->nthreads = 0;
	if (self->evictor_started)
		pthread_join(self->eth, NULL);
	self->evictor_started = false;
}

FIXTURE_TEARDOWN(unload)
{
	int ret;

	stop_threads(self);
	/* later tests need the module, enabled as it was */
	if (!ru_host_dryrun()) {
		ret = ru_module_ensure_loaded();
		if (ret)
			TH_LOG("reloading %s: %s", ru_module_path(),
			       strerror(-ret));
		if (self->enabled0 >= 0 &&
		    ru_module_enabled() != self->enabled0)
			ru_set_module_enabled(self->enabled0);
	}
	if (self->fd >= 0)
		close(self->fd);
}

static void start_threads(struct __test_metadata *_metadata,
			  FIXTURE_DATA(unload) *self, double deadline)
{
	unsigned int i;

	atomic_store(&self->stop, false);
	self->ev.fds = &self->fd;
	self->ev.sizes = &self->size;
	self->ev.nfiles = 1;
	self->ev.pause_us = EVICT_PAUSE_US;
	self->ev.rng = ru_seed() * 17 + 3;
	self->ev.stop = &self->stop;
	ASSERT_EQ(0, pthread_create(&self->eth, NULL, ru_evictor_thread,
				    &self->ev));
	self->evictor_started = true;
	for (i = 0; i < READERS; i++) {
		struct ru_sreader *sr = &self->sr[i];

		memset(sr, 0, sizeof(*sr));
		sr->fds = &self->fd;
		sr->sizes = &self->size;
		sr->seeds = &self->seed;
		sr->nfiles = 1;
		sr->qd = QD;
		sr->max_len = MAX_LEN;
		sr->hang_seconds = HANG_SECONDS;
		sr->rng = (ru_seed() + 1) * 0x9E3779B97F4A7C15ULL + i;
		sr->deadline = deadline + HANG_SECONDS;	/* stop says when */
		sr->max_reads = MAX_READS;
		sr->stop = &self->stop;
		ASSERT_EQ(0, pthread_create(&self->th[i], NULL, ru_sreader_thread,
					    sr));
		self->nthreads++;
	}
}

/* Stop the readers and check what they read. */
static void finish(struct __test_metadata *_metadata,
		   FIXTURE_DATA(unload) *self, double t0, unsigned int switches,
		   const char *what)
{
	unsigned long reads = 0;
	uint64_t bytes = 0;
	unsigned int i;

	stop_threads(self);
	for (i = 0; i < READERS; i++) {
		reads += self->sr[i].reads;
		bytes += self->sr[i].bytes;
	}
	fprintf(stderr, "# unload.%s: %u iterations in %.1f s (iterations = %s; %lu reads checked, %" PRIu64 " MiB, %lu evictions)\n",
		_metadata->name, switches, ru_now_s() - t0, what, reads,
		bytes >> 20, self->ev.passes);
	for (i = 0; i < READERS; i++) {
		EXPECT_EQ(0, self->sr[i].err)
			TH_LOG("reader %u: %s", i, self->sr[i].msg);
		EXPECT_EQ(0, self->sr[i].nbad)
			TH_LOG("reader %u: %u of %lu reads bad (seed 0x%llx); first: %s",
			       i, self->sr[i].nbad, self->sr[i].reads,
			       (unsigned long long)ru_seed(), self->sr[i].msg);
	}
	EXPECT_EQ(0, self->ev.err) TH_LOG("posix_fadvise: %s",
					  strerror(self->ev.err));
	ASSERT_LT(0, reads);
}

TEST_F_TIMEOUT(unload, toggle_enabled, TEST_TIMEOUT)
{
	double t0 = ru_now_s(), budget = ru_time_budget(TIME_BUDGET);
	uint64_t rng = ru_seed() * 5 + 11;
	struct ru_stats st0, st1, d;
	bool on = true, have_stats;
	unsigned int n = 0;
	char sbuf[512];
	int ret = 0;

	have_stats = ru_stats_read(&st0) == 0;
	start_threads(_metadata, self, t0 + budget);
	for (n = 0; n < MAX_SWITCHES && ru_now_s() - t0 < budget; n++) {
		on = n & 1;	/* N first, then Y, ... */
		ret = ru_set_module_enabled(on);
		if (ret)
			break;
		ret = ru_state_get("hooked");
		if (ret != on) {
			TH_LOG("after enabled=%c the debugfs state says hooked %d",
			       on ? 'Y' : 'N', ret);
			ret = -EPROTO;
			break;
		}
		ret = 0;
		usleep(ru_xorshift64(&rng) % PAUSE_US);
	}
	if (ret)
		TH_LOG("switch %u (enabled=%c): %s", n, on ? 'Y' : 'N',
		       strerror(-ret));
	/* leave it on for the readers still running */
	EXPECT_EQ(0, ru_set_module_enabled(true));
	finish(_metadata, self, t0, n, "enabled writes");
	if (have_stats && ru_stats_read(&st1) == 0) {
		ru_stats_delta(&st0, &st1, &d);
		ru_stats_format(&d, sbuf, sizeof(sbuf));
		TH_LOG("stats delta: %s", sbuf);
		EXPECT_LT(0, ru_stat(&d, "eiocbqueued"))
			TH_LOG("no read waited in rasync while it was switched");
	}
	ASSERT_EQ(0, ret);
}

TEST_F_TIMEOUT(unload, unload_reload, TEST_TIMEOUT)
{
	double t0 = ru_now_s(), budget = ru_time_budget(TIME_BUDGET);
	uint64_t rng = ru_seed() * 7 + 13;
	unsigned int n, unloads = 0, busy = 0;
	uint64_t queued = 0, seen = 0;
	struct ru_stats st;
	int ret = 0;

	/* the first load counted the earlier tests too */
	if (ru_stats_read(&st) == 0)
		seen = ru_stat(&st, "eiocbqueued");
	start_threads(_metadata, self, t0 + budget);
	for (n = 0; n < MAX_SWITCHES && ru_now_s() - t0 < budget; n++) {
		usleep(ru_xorshift64(&rng) % PAUSE_US);
		/* what this load of the module did (stats start at 0) */
		if (ru_stats_read(&st) == 0 && ru_stat(&st, "eiocbqueued") >= seen) {
			queued += ru_stat(&st, "eiocbqueued") - seen;
			seen = ru_stat(&st, "eiocbqueued");
		}
		ret = ru_module_unload();
		if (ret == -EAGAIN || ret == -EBUSY) {
			busy++;
			ret = 0;
			continue;
		}
		if (ret) {
			TH_LOG("rmmod %u: %s", n, strerror(-ret));
			break;
		}
		unloads++;
		seen = 0;
		if (ru_module_loaded()) {
			TH_LOG("rmmod %u succeeded but %s is still there", n,
			       RASYNC_SYSFS);
			ret = -EPROTO;
			break;
		}
		usleep(ru_xorshift64(&rng) % PAUSE_US);
		ret = ru_module_load(ru_module_path(), "");
		if (ret) {
			TH_LOG("insmod %u %s: %s", n, ru_module_path(),
			       strerror(-ret));
			break;
		}
		ret = ru_state_get("hooked");
		if (ret != 1) {
			TH_LOG("after insmod %u the debugfs state says hooked %d",
			       n, ret);
			ret = -EPROTO;
			break;
		}
		ret = 0;
	}
	TH_LOG("%u unloads, %u refused as busy; the module's loads returned -EIOCBQUEUED %" PRIu64 " times before their unload",
	       unloads, busy, queued);
	finish(_metadata, self, t0, n, "rmmod attempts, each followed by insmod when it succeeded");
	ASSERT_EQ(0, ret);
	ASSERT_LT(0, unloads);
	ASSERT_EQ(0, ru_module_ensure_loaded());
	/* reads really waited in the module that was being unloaded */
	if (ru_stats_read(&st) == 0)
		EXPECT_LT(0, queued)
			TH_LOG("no read returned -EIOCBQUEUED from rasync");
}

TEST_HARNESS_MAIN
