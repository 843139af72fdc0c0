// SPDX-License-Identifier: GPL-2.0
/*
 * Two writers of `enabled` racing against a steady reader must both finish.
 *
 * A reader thread pread()s 4 KiB blocks of a cached ext4 file in a loop
 * (every read of an ext4 file enters rasync's hook while it is registered)
 * and checks every byte.  Each iteration of disable_races_enable:
 *
 *  - writer A (a thread) writes enabled=N: it unregisters the hook at once
 *    (debugfs says hooked 0) and then waits for the readers inside rasync
 *    to leave (the hook's generation of readers drains);
 *  - writer B (the main thread) then writes enabled=Y in a tight loop,
 *    retrying while it fails with EBUSY (the kernel refuses to register
 *    while readers of the old registration are inside), until it succeeds:
 *    its first success comes right after the drain, typically before A was
 *    scheduled to see it;
 *  - A's write must then return, with 0, within A_BOUND_S.  A wait that
 *    sleeps until *some* drain is seen, rather than the one it asked for,
 *    sleeps on after B re-registered, until a later unregistration: the
 *    case fails, and the main thread writes N once more to wake A (it must
 *    then finish) before turning the hook back on.
 *
 * ITERATIONS iterations or TIME_BUDGET seconds (RASYNC_STRESS_TIME), the
 * first stuck writer ends the case; prints "# <case>: N iterations in S s"
 * with how many Y writes B needed.  The reader's bytes must all be right.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SIZE	(1024 * 1024)
#define FILE_SEED	0x746f67676cULL		/* "toggl" */
#define ITERATIONS	40
#define TIME_BUDGET	30
/* how long writer A may take once B's Y write succeeded (TCG: generous) */
#define A_BOUND_S	8.0
/* how long the hook may stay registered after A's write began */
#define UNHOOK_S	5.0
/* how long B may spin on EBUSY */
#define B_BOUND_S	10.0
/* how long the unsticking N write and the final Y write may take */
#define CLEANUP_S	20.0
#define TEST_TIMEOUT	150

struct treader {
	pthread_t thread;
	int fd;
	_Atomic bool stop;
	unsigned long reads;
	unsigned long bad;
	char msg[256];
};

static void *treader_main(void *arg)
{
	struct treader *r = arg;
	uint64_t rng = ru_seed() * 3 + 1;
	unsigned char buf[RU_PAGE];

	while (!atomic_load(&r->stop)) {
		uint64_t off = (ru_xorshift64(&rng) % (FILE_SIZE / RU_PAGE)) * RU_PAGE;
		ssize_t n = pread(r->fd, buf, RU_PAGE, off);
		ssize_t bad;

		r->reads++;
		if (n != RU_PAGE) {
			if (!r->bad++)
				snprintf(r->msg, sizeof(r->msg), "pread at %llu: %zd (%s)",
					 (unsigned long long)off, n,
					 n < 0 ? strerror(errno) : "short");
			continue;
		}
		bad = ru_pattern_check(buf, FILE_SEED, off, RU_PAGE);
		if (bad >= 0 && !r->bad++)
			snprintf(r->msg, sizeof(r->msg), "pread at %llu: wrong byte at %zd",
				 (unsigned long long)off, bad);
	}
	return NULL;
}

struct writer_a {
	pthread_t thread;
	int ret;
	double t_end;
	int done;
};

static void *writer_a_main(void *arg)
{
	struct writer_a *a = arg;

	a->ret = ru_set_module_enabled(false);
	a->t_end = ru_now_s();
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

FIXTURE(toggle)
{
	int fd;
	char path[PATH_MAX];
	int enabled0;
	struct treader r;
	bool reader_started;
};

FIXTURE_SETUP(toggle)
{
	unsigned char buf[RU_PAGE];

	self->fd = -1;
	self->enabled0 = -1;
	self->reader_started = false;
	RU_REQUIRE_MODULE_KNOBS();
	RU_REQUIRE_ASYNC_FS();
	RU_MODULE_SAVE_AND_SET(self->enabled0, true);
	self->fd = ru_open_test_file("toggle", FILE_SIZE, FILE_SEED, self->path,
				     sizeof(self->path));
	ASSERT_LE(0, self->fd) TH_LOG("test file in %s: %s", ru_scratch_dir(),
				      strerror(-self->fd));
	/* cached: every read is a short trip through the hook */
	for (uint64_t off = 0; off < FILE_SIZE; off += RU_PAGE)
		ASSERT_EQ(RU_PAGE, pread(self->fd, buf, RU_PAGE, off));
	memset(&self->r, 0, sizeof(self->r));
	self->r.fd = self->fd;
	ASSERT_EQ(0, pthread_create(&self->r.thread, NULL, treader_main, &self->r));
	self->reader_started = true;
}

FIXTURE_TEARDOWN(toggle)
{
	if (self->reader_started) {
		atomic_store(&self->r.stop, true);
		pthread_join(self->r.thread, NULL);
	}
	if (self->enabled0 >= 0 && ru_module_loaded())
		ru_set_module_enabled(self->enabled0);
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F_TIMEOUT(toggle, disable_races_enable, TEST_TIMEOUT)
{
	double t0 = ru_now_s(), budget = ru_time_budget(TIME_BUDGET);
	unsigned long y_writes = 0, y_max = 0;
	unsigned int n;
	bool stuck = false;

	for (n = 0; n < ITERATIONS && ru_now_s() - t0 < budget; n++) {
		struct writer_a a = { .done = 0 };
		unsigned long tries = 0;
		double ta, tb;
		int ret, h;

		ASSERT_EQ(1, ru_state_get("hooked"));
		ta = ru_now_s();
		ASSERT_EQ(0, pthread_create(&a.thread, NULL, writer_a_main, &a));
		/* B must not write Y before A unregistered: that would be a no-op */
		while ((h = ru_state_get("hooked")) == 1 && ru_now_s() - ta < UNHOOK_S)
			;
		if (h != 0) {
			ru_wait_flag(&a.done, ru_now_s() + CLEANUP_S);
			pthread_join(a.thread, NULL);
			ASSERT_EQ(0, h) TH_LOG("iteration %u: still hooked %.1f s after enabled=N began (%d)",
					       n, UNHOOK_S, h);
		}
		/* writer B: Y until the old registration's readers are gone */
		do {
			ret = ru_set_module_enabled(true);
			tries++;
		} while (ret == -EBUSY && ru_now_s() - ta < B_BOUND_S);
		tb = ru_now_s();
		y_writes += tries;
		if (tries > y_max)
			y_max = tries;
		if (ret) {
			/* let A finish before failing */
			ru_wait_flag(&a.done, ru_now_s() + CLEANUP_S);
			pthread_join(a.thread, NULL);
			ASSERT_EQ(0, ret) TH_LOG("iteration %u: enabled=Y failed after %lu tries in %.2f s: %s",
						 n, tries, tb - ta, strerror(-ret));
		}
		if (!ru_wait_flag(&a.done, tb + A_BOUND_S)) {
			stuck = true;
			TH_LOG("iteration %u: enabled=N still waiting %.1f s after enabled=Y succeeded (Y took %lu tries, %.3f s after N began): its wait missed the drain it asked for",
			       n, A_BOUND_S, tries, tb - ta);
			/* another unregistration drains again and wakes it */
			ret = ru_set_module_enabled(false);
			EXPECT_EQ(0, ret) TH_LOG("unsticking enabled=N: %s", strerror(-ret));
			EXPECT_TRUE(ru_wait_flag(&a.done, ru_now_s() + CLEANUP_S))
				TH_LOG("enabled=N still waiting after another N");
			if (!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE)) {
				/* cannot join a stuck writer: leave it to the runner */
				pthread_detach(a.thread);
				break;
			}
			pthread_join(a.thread, NULL);
			ASSERT_EQ(0, ru_set_module_enabled(true));
			break;
		}
		pthread_join(a.thread, NULL);
		ASSERT_EQ(0, a.ret) TH_LOG("iteration %u: enabled=N: %s", n,
					   strerror(-a.ret));
		ASSERT_EQ(1, ru_state_get("hooked"));
	}
	fprintf(stderr, "# toggle.%s: %u iterations in %.1f s (enabled=Y writes per iteration: %.1f average, %lu most; reader: %lu reads)\n",
		_metadata->name, n + stuck, ru_now_s() - t0,
		n + stuck ? (double)y_writes / (n + stuck) : 0.0, y_max,
		self->r.reads);
	atomic_store(&self->r.stop, true);
	pthread_join(self->r.thread, NULL);
	self->reader_started = false;
	EXPECT_EQ(0, self->r.bad) TH_LOG("%lu of %lu reads bad; first: %s",
					 self->r.bad, self->r.reads, self->r.msg);
	EXPECT_LT(0, self->r.reads);
	ASSERT_FALSE(stuck);
}

TEST_HARNESS_MAIN
