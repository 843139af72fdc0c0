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

/* --- the checking reader (one ring per thread) ------------------------- */

#define GUARD		256
#define POISON		0xA5

struct sreader {
	/* set by the caller */
	const int *fds;
	const uint64_t *sizes;
	const uint64_t *seeds;
	unsigned int nfiles;
	uint64_t rng;
	double deadline;		/* stop submitting at this time */
	unsigned long max_reads;	/* or after this many */
	atomic_bool *stop;		/* or when this turns true */
	/* results */
	unsigned long reads;
	uint64_t bytes;
	unsigned int nbad;
	int err;			/* ring failure, -ETIME on a hang */
	char msg[512];
};

struct sslot {
	unsigned int file;
	uint64_t off;
	uint32_t len;
};

static void sreader_fail(struct sreader *sr, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sreader_fail(struct sreader *sr, const char *fmt, ...)
{
	va_list ap;

	if (!sr->nbad++) {
		va_start(ap, fmt);
		vsnprintf(sr->msg, sizeof(sr->msg), fmt, ap);
		va_end(ap);
	}
}

static void sreader_pick(struct sreader *sr, struct sslot *s)
{
	uint64_t r = ru_xorshift64(&sr->rng), size;

	s->file = (r >> 40) % sr->nfiles;
	size = sr->sizes[s->file];
	s->off = ru_xorshift64(&sr->rng) % (size + 2 * RU_PAGE);
	switch (r % 8) {
	case 0 ... 2:		/* small, unaligned */
		s->len = 1 + (r >> 8) % (2 * RU_PAGE);
		break;
	case 3 ... 4:		/* page multiples, unaligned offset */
		s->len = RU_PAGE * (1 + (r >> 8) % 16);
		break;
	case 5:			/* anything up to the largest buffer */
		s->len = 1 + (r >> 8) % MAX_LEN;
		break;
	default:		/* aligned 4K */
		s->off &= ~(uint64_t)(RU_PAGE - 1);
		s->len = RU_PAGE;
		break;
	}
}

static void sreader_check(struct sreader *sr, const struct sslot *s, int res,
			  const unsigned char *buf)
{
	uint32_t want = ru_expected_len(s->off, s->len, sr->sizes[s->file]);
	uint64_t seed = sr->seeds[s->file];
	ssize_t bad;
	uint32_t i;

	sr->reads++;
	if (res != (int)want) {
		sreader_fail(sr, "file %u off %" PRIu64 " len %u: res %d%s%s, want %u",
			     s->file, s->off, s->len, res,
			     res < 0 ? " " : "", res < 0 ? strerror(-res) : "",
			     want);
		return;
	}
	sr->bytes += res;
	bad = ru_pattern_check(buf, seed, s->off, res);
	if (bad >= 0) {
		unsigned char want_b;

		ru_pattern_fill(&want_b, seed, s->off + bad, 1);
		sreader_fail(sr, "file %u off %" PRIu64 " len %u: byte at file offset %" PRIu64 " is 0x%02x, want 0x%02x",
			     s->file, s->off, s->len, s->off + bad, buf[bad],
			     want_b);
		return;
	}
	for (i = res; i < s->len + GUARD; i++) {
		if (buf[i] != POISON) {
			sreader_fail(sr, "file %u off %" PRIu64 " len %u: buffer byte %u written past the result",
				     s->file, s->off, s->len, i);
			return;
		}
	}
}

/* Runs until the deadline, max_reads or *stop; results in @sr. */
static void sreader_run(struct sreader *sr)
{
	struct __kernel_timespec ts = { .tv_sec = HANG_SECONDS };
	struct sslot slots[QD];
	unsigned int inflight = 0, slot;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct ru_reader r;
	unsigned char *buf;
	int ret;

	ret = ru_reader_init(&r, QD, MAX_LEN + GUARD, false, 0);
	if (ret) {
		sr->err = ret;
		snprintf(sr->msg, sizeof(sr->msg), "io_uring set-up: %s",
			 strerror(-ret));
		return;
	}
	for (;;) {
		bool stopping = ru_now_s() >= sr->deadline ||
				sr->reads + inflight >= sr->max_reads ||
				(sr->stop && atomic_load(sr->stop));

		while (!stopping && r.nfree) {
			sqe = io_uring_get_sqe(&r.ring);
			if (!sqe)
				break;
			slot = r.free_slots[--r.nfree];
			sreader_pick(sr, &slots[slot]);
			buf = r.arena + (size_t)slot * r.slot_size;
			memset(buf, POISON, slots[slot].len + GUARD);
			io_uring_prep_read(sqe, sr->fds[slots[slot].file], buf,
					   slots[slot].len, slots[slot].off);
			io_uring_sqe_set_data64(sqe, slot);
			inflight++;
		}
		ret = io_uring_submit(&r.ring);
		if (ret < 0) {
			sr->err = ret;
			snprintf(sr->msg, sizeof(sr->msg), "io_uring_submit: %s",
				 strerror(-ret));
			break;
		}
		if (!inflight)
			break;
		do {
			ret = io_uring_wait_cqe_timeout(&r.ring, &cqe, &ts);
		} while (ret == -EINTR);
		if (ret < 0) {
			sr->err = ret;
			if (ret == -ETIME)
				snprintf(sr->msg, sizeof(sr->msg),
					 "hang: no read completed in %d s with %u in flight",
					 HANG_SECONDS, inflight);
			else
				snprintf(sr->msg, sizeof(sr->msg),
					 "io_uring_wait_cqe: %s",
					 strerror(-ret));
			/* a stuck ring is left alone: closing it would not help */
			return;
		}
		while (!io_uring_peek_cqe(&r.ring, &cqe)) {
			slot = io_uring_cqe_get_data64(cqe);
			ret = cqe->res;
			io_uring_cqe_seen(&r.ring, cqe);
			if (slot >= QD) {
				sr->err = -EPROTO;
				snprintf(sr->msg, sizeof(sr->msg),
					 "bad user_data %u", slot);
				return;
			}
			sreader_check(sr, &slots[slot], ret,
				      r.arena + (size_t)slot * r.slot_size);
			r.free_slots[r.nfree++] = slot;
			inflight--;
		}
	}
	ru_reader_exit(&r);
}

static void *sreader_thread(void *arg)
{
	sreader_run(arg);
	return NULL;
}

/* --- the evicting thread ------------------------------------------------ */

struct evictor {
	int fd;
	uint64_t rng;
	atomic_bool *stop;
	unsigned long passes;
	int err;
};

static void *evictor_thread(void *arg)
{
	struct evictor *e = arg;
	int ret;

	while (!atomic_load(e->stop)) {
		ret = posix_fadvise(e->fd, 0, 0, POSIX_FADV_DONTNEED);
		if (ret) {
			e->err = ret;
			break;
		}
		e->passes++;
		usleep(ru_xorshift64(&e->rng) % EVICT_PAUSE_US);
	}
	return NULL;
}

/* --- the cases ---------------------------------------------------------- */

FIXTURE(unload)
{
	int fd;
	uint64_t size, seed;
	char path[PATH_MAX];
	int enabled0;		/* enabled when the case started */
	struct sreader sr[READERS];
	pthread_t th[READERS], eth;
	unsigned int nthreads;
	bool evictor_started;
	atomic_bool stop;
	struct evictor ev;
};

static int ensure_loaded(void)
{
	int ret;

	if (ru_module_loaded())
		return 0;
	ret = ru_module_load(ru_module_path(), "");
	return ret == -EEXIST ? 0 : ret;
}

FIXTURE_SETUP(unload)
{
	unsigned long magic;
	int ret;

	self->fd = -1;
	self->enabled0 = -1;
	if (ru_host_dryrun())
		SKIP(return, "RASYNC_HOST_DRYRUN=1: modules and parameters are never touched on the host");
	ret = ru_scratch_fs_ok(&magic);
	if (ret == -EOPNOTSUPP)
		SKIP(return, "%s is on fs magic 0x%lx, which has no async buffered reads (use ext4)",
		     ru_scratch_dir(), magic);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", ru_scratch_dir(), strerror(-ret));
	if (!ru_module_loaded() && access(ru_module_path(), R_OK))
		SKIP(return, "rasync is not loaded and %s is not readable (set RASYNC_KO)",
		     ru_module_path());
	ret = ensure_loaded();
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
		ret = ensure_loaded();
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
	self->ev.fd = self->fd;
	self->ev.rng = ru_seed() * 17 + 3;
	self->ev.stop = &self->stop;
	ASSERT_EQ(0, pthread_create(&self->eth, NULL, evictor_thread,
				    &self->ev));
	self->evictor_started = true;
	for (i = 0; i < READERS; i++) {
		struct sreader *sr = &self->sr[i];

		memset(sr, 0, sizeof(*sr));
		sr->fds = &self->fd;
		sr->sizes = &self->size;
		sr->seeds = &self->seed;
		sr->nfiles = 1;
		sr->rng = (ru_seed() + 1) * 0x9E3779B97F4A7C15ULL + i;
		sr->deadline = deadline + HANG_SECONDS;	/* stop says when */
		sr->max_reads = MAX_READS;
		sr->stop = &self->stop;
		ASSERT_EQ(0, pthread_create(&self->th[i], NULL, sreader_thread,
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
		EXPECT_LT(0, d.v[RS_EIOCBQUEUED])
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
		seen = st.v[RS_EIOCBQUEUED];
	start_threads(_metadata, self, t0 + budget);
	for (n = 0; n < MAX_SWITCHES && ru_now_s() - t0 < budget; n++) {
		usleep(ru_xorshift64(&rng) % PAUSE_US);
		/* what this load of the module did (stats start at 0) */
		if (ru_stats_read(&st) == 0 && st.v[RS_EIOCBQUEUED] >= seen) {
			queued += st.v[RS_EIOCBQUEUED] - seen;
			seen = st.v[RS_EIOCBQUEUED];
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
	ASSERT_EQ(0, ensure_loaded());
	/* reads really waited in the module that was being unloaded */
	if (ru_stats_read(&st) == 0)
		EXPECT_LT(0, queued)
			TH_LOG("no read returned -EIOCBQUEUED from rasync");
}

TEST_HARNESS_MAIN
