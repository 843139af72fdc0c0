// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: tearing down rings and tasks while cold reads wait in rasync.
 *
 * Each round evicts the file and forks a child that submits QD cold reads
 * (distinct random 16 KiB blocks); at submission they find their folios under
 * read I/O, arm the page-unlock callback and return -EIOCBQUEUED.  Then:
 *
 *  - close_ring_with_reads_queued: the child closes the ring right after
 *    submitting, lives on for a random moment (the ring's exit work and
 *    the callbacks run while the task is alive), then exits;
 *  - exit_without_reaping: the child _exit()s right after submitting,
 *    with the ring open and nothing reaped;
 *  - sigkill_while_waiting: the child submits and waits for all its
 *    completions; the parent SIGKILLs it at once, within 10 ms or within
 *    80 ms of the submission starting.  The child says when it starts to
 *    submit, when the submission returned and when it has all its
 *    completions: the case counts the kills that landed before the
 *    submission returned (the syscall still issues every SQE, then the
 *    task dies with the reads queued) and those in the wait, and needs
 *    some.
 *
 * Each case runs with a default ring and with an
 * IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN ring (whose
 * completions run only when the task waits, or from the fallback work
 * once it is gone).
 *
 * Checked every round: the child is reaped within HANG_SECONDS (a hang in
 * ring or task teardown fails the case) with the status its mode implies;
 * then the parent reads the same blocks again (with a timeout: a folio
 * left locked would hang here) and gets the generator's bytes.  The rasync
 * stats must show the reads queued (`eiocbqueued` rose in most rounds; in
 * at least one for SIGKILL, which may come first) and stay consistent at
 * the end: every
 * -EIOCBQUEUED corresponds to one queued wait
 * (eiocbqueued == waits_lock + waits_wait, as rust/read.rs and
 * rust/wait.rs count them).  Leaks would show as KASAN/lockdep splats or
 * hung tasks, which the runner catches.
 *
 * Bounded by TIME_BUDGET seconds (RASYNC_STRESS_TIME overrides) and
 * ROUNDS rounds per case; prints "# <case>: <rounds> iterations in <s> s".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SIZE	(8 * 1024 * 1024)
#define FILE_SEED	0x74656172ULL		/* "tear" */
#define BLK		(16 * 1024)
#define NR_BLKS		(FILE_SIZE / BLK)
#define QD		32
#define ROUNDS		60
#define TIME_BUDGET	15
#define HANG_SECONDS	60
#define TEST_TIMEOUT	240

enum mode {
	CLOSE_RING,
	EXIT_TASK,
	KILL_TASK,
};

static const char *const mode_name[] = {
	[CLOSE_RING] = "close the ring",
	[EXIT_TASK] = "_exit()",
	[KILL_TASK] = "SIGKILL",
};

FIXTURE(tear)
{
	int fd;
	char path[PATH_MAX];
	uint64_t offs[QD];
	struct ru_reader r;
	struct ru_stats st0;
	bool have_stats;
};

FIXTURE_VARIANT(tear)
{
	const char *name;
	unsigned int ring_flags;
};

FIXTURE_VARIANT_ADD(tear, default_ring)
{
	.name = "default_ring",
	.ring_flags = 0,
};

FIXTURE_VARIANT_ADD(tear, defer_taskrun)
{
	.name = "defer_taskrun",
	.ring_flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
};

FIXTURE_SETUP(tear)
{
	struct io_uring probe;
	int ret;

	self->fd = -1;
	RU_REQUIRE_ASYNC_FS();
	if (variant->ring_flags) {
		ret = io_uring_queue_init(4, &probe, variant->ring_flags);
		if (ret == -EINVAL)
			SKIP(return, "the kernel has no IORING_SETUP_DEFER_TASKRUN");
		ASSERT_EQ(0, ret) TH_LOG("io_uring set-up: %s", strerror(-ret));
		io_uring_queue_exit(&probe);
	}
	ret = ru_reader_init(&self->r, QD, BLK, false, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring set-up: %s", strerror(-ret));
	self->fd = ru_open_test_file("tear", FILE_SIZE, FILE_SEED, self->path,
				     sizeof(self->path));
	ASSERT_LE(0, self->fd) TH_LOG("test file in %s: %s", ru_scratch_dir(),
				      strerror(-self->fd));
	self->have_stats = ru_stats_read(&self->st0) == 0;
}

FIXTURE_TEARDOWN(tear)
{
	if (self->fd >= 0)
		close(self->fd);
	ru_reader_exit(&self->r);
}

/* What a KILL_TASK child tells its parent, besides the submitted count. */
#define MSG_READY	(-1000)		/* about to submit */
#define MSG_DONE	(-2000)		/* has all its completions */

/*
 * The child: submit QD cold reads, tell the parent how many were
 * submitted, then tear down as @mode says.  Never returns.
 */
static void __attribute__((noreturn)) child(int fd, unsigned int ring_flags,
					    const uint64_t *offs,
					    enum mode mode, int notify, int go)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	unsigned char *buf;
	unsigned int i;
	int ret;
	char c;

	buf = malloc((size_t)QD * BLK);
	ret = buf ? io_uring_queue_init(QD, &ring, ring_flags) : -ENOMEM;
	if (ret) {
		(void)!write(notify, &ret, sizeof(ret));
		_exit(1);
	}
	for (i = 0; i < QD; i++) {
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read(sqe, fd, buf + (size_t)i * BLK, BLK,
				   offs[i]);
		io_uring_sqe_set_data64(sqe, i);
	}
	if (mode == KILL_TASK) {
		ret = MSG_READY;
		(void)!write(notify, &ret, sizeof(ret));
	}
	ret = io_uring_submit(&ring);
	if (mode == CLOSE_RING)
		io_uring_queue_exit(&ring);
	(void)!write(notify, &ret, sizeof(ret));
	switch (mode) {
	case CLOSE_RING:
		/* live on until the parent says so */
		(void)!read(go, &c, 1);
		_exit(0);
	case EXIT_TASK:
		_exit(0);
	case KILL_TASK:
		/* wait for all of them; the parent kills us meanwhile */
		io_uring_wait_cqe_nr(&ring, &cqe, QD);
		/* too late: tell the parent that nothing was in flight */
		ret = MSG_DONE;
		(void)!write(notify, &ret, sizeof(ret));
		pause();
		_exit(0);
	}
	_exit(1);
}

/* Read the round's blocks again, with a timeout; 0 or a failure in @msg. */
static int verify_blocks(FIXTURE_DATA(tear) *self, char *msg, size_t len)
{
	struct __kernel_timespec ts = { .tv_sec = HANG_SECONDS };
	struct ru_reader *r = &self->r;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	unsigned int i, done = 0;
	ssize_t bad;
	int ret;

	for (i = 0; i < QD; i++) {
		sqe = io_uring_get_sqe(&r->ring);
		memset(r->arena + (size_t)i * BLK, 0xA5, BLK);
		io_uring_prep_read(sqe, self->fd, r->arena + (size_t)i * BLK,
				   BLK, self->offs[i]);
		io_uring_sqe_set_data64(sqe, i);
	}
	ret = io_uring_submit(&r->ring);
	if (ret != QD) {
		snprintf(msg, len, "io_uring_submit: %d", ret);
		return ret < 0 ? ret : -EIO;
	}
	while (done < QD) {
		do {
			ret = io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts);
		} while (ret == -EINTR);
		if (ret) {
			snprintf(msg, len, "%s: %u of %u reads after the teardown did not complete in %d s",
				 ret == -ETIME ? "hang" : strerror(-ret),
				 QD - done, QD, HANG_SECONDS);
			return ret;
		}
		i = io_uring_cqe_get_data64(cqe);
		ret = cqe->res;
		io_uring_cqe_seen(&r->ring, cqe);
		done++;
		if (i >= QD || ret != BLK) {
			snprintf(msg, len, "read of block at %" PRIu64 " after the teardown: res %d, want %d",
				 i < QD ? self->offs[i] : 0, ret, BLK);
			return -EPROTO;
		}
		bad = ru_pattern_check(r->arena + (size_t)i * BLK, FILE_SEED,
				       self->offs[i], BLK);
		if (bad >= 0) {
			snprintf(msg, len, "read after the teardown: byte at file offset %" PRIu64 " is wrong",
				 self->offs[i] + bad);
			return -EPROTO;
		}
	}
	return 0;
}

static void run_case(struct __test_metadata *_metadata,
		     FIXTURE_DATA(tear) *self,
		     const FIXTURE_VARIANT(tear) *variant, enum mode mode)
{
	double t0 = ru_now_s(), budget = ru_time_budget(TIME_BUDGET);
	uint64_t rng = (ru_seed() + mode) * 0x9E3779B97F4A7C15ULL + 1;
	unsigned int round, queued_rounds = 0, killed_waiting = 0;
	unsigned int killed_submitting = 0;
	uint64_t r;
	uint64_t queued_total = 0;
	struct ru_stats a, b, d;
	int notify[2], go[2], status, ret, submitted;
	char msg[512], sbuf[512];
	struct pollfd pfd;
	long pages;
	pid_t pid;

	for (round = 0; round < ROUNDS && ru_now_s() - t0 < budget; round++) {
		ru_pick_blocks(&rng, self->offs, QD, NR_BLKS, BLK);
		pages = ru_drop_pages(self->fd, FILE_SIZE, 100);
		ASSERT_LE(0, pages) TH_LOG("evicting: %s", strerror(-pages));
		if (pages)
			TH_LOG("round %u: %ld pages still cached", round,
			       pages);
		if (self->have_stats)
			ASSERT_EQ(0, ru_stats_read(&a));
		ASSERT_EQ(0, pipe(notify));
		ASSERT_EQ(0, pipe(go));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(notify[0]);
			close(go[1]);
			child(self->fd, variant->ring_flags, self->offs, mode,
			      notify[1], go[0]);
		}
		close(notify[1]);
		close(go[0]);

		/* wait for the submission (KILL_TASK: for MSG_READY) */
		pfd.fd = notify[0];
		pfd.events = POLLIN;
		ret = poll(&pfd, 1, HANG_SECONDS * 1000);
		submitted = -1;
		if (ret == 1 &&
		    read(notify[0], &submitted, sizeof(submitted)) != sizeof(submitted))
			submitted = -1;
		if (mode == KILL_TASK && submitted == MSG_READY) {
			int m, state = 0;	/* 1: submitted, 2: done */

			/*
			 * Kill it within a few ms of the submission starting:
			 * with a default ring, the submitting syscall often
			 * outlasts the I/O under emulation, so most waits
			 * are over before it returns; kills land in it, or
			 * in the wait for the completions, or after.
			 */
			r = ru_xorshift64(&rng);
			usleep(r % 3 == 0 ? 0 :
			       r % 3 == 1 ? (r >> 8) % 10000 :
					    (r >> 8) % 80000);
			submitted = -1;
			while (poll(&pfd, 1, 0) == 1 &&
			       read(notify[0], &m, sizeof(m)) == sizeof(m)) {
				if (m == MSG_DONE) {
					state = 2;
				} else {
					submitted = m;
					state = 1;
				}
			}
			kill(pid, SIGKILL);
			if (state == 0)
				killed_submitting++;
			else if (state == 1)
				killed_waiting++;
		} else if (mode == CLOSE_RING) {
			usleep(ru_xorshift64(&rng) % 20000);
		}
		close(go[1]);	/* CLOSE_RING: exit now */
		close(notify[0]);
		/* after the teardown started: reading them takes a while */
		if (self->have_stats) {
			ASSERT_EQ(0, ru_stats_read(&b));
			ru_stats_delta(&a, &b, &d);
			queued_total += ru_stat(&d, "eiocbqueued");
			if (ru_stat(&d, "eiocbqueued"))
				queued_rounds++;
		}

		ret = ru_wait_until(pid, &status, ru_now_s() + HANG_SECONDS);
		if (ret == 0) {
			kill(pid, SIGKILL);
			ret = ru_wait_until(pid, &status, ru_now_s() + 10);
			ASSERT_TRUE(false)
				TH_LOG("round %u: the child (%s with %d reads submitted) was not reaped within %d s%s",
				       round, mode_name[mode], submitted,
				       HANG_SECONDS,
				       ret ? "" : ", not even after SIGKILL");
		}
		ASSERT_EQ(1, ret);
		if (mode != KILL_TASK || submitted != -1)
			ASSERT_EQ(QD, submitted)
				TH_LOG("round %u: the child submitted %d reads",
				       round, submitted);
		if (mode == KILL_TASK) {
			ASSERT_TRUE(WIFSIGNALED(status) &&
				    WTERMSIG(status) == SIGKILL)
				TH_LOG("round %u: child status 0x%x, want killed by SIGKILL",
				       round, status);
		} else {
			ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
				TH_LOG("round %u: child status 0x%x, want exit 0",
				       round, status);
		}

		msg[0] = 0;
		ret = verify_blocks(self, msg, sizeof(msg));
		ASSERT_EQ(0, ret) TH_LOG("round %u: %s", round, msg);
	}
	fprintf(stderr, "# tear.%s.%s: %u iterations in %.1f s (iterations = rounds of %d cold reads; %u rounds saw them queued, %" PRIu64 " -EIOCBQUEUED",
		variant->name, _metadata->name, round, ru_now_s() - t0, QD,
		queued_rounds, queued_total);
	if (mode == KILL_TASK)
		fprintf(stderr, "; SIGKILL landed %u times before the child reported its submission, %u times in its wait for completions",
			killed_submitting, killed_waiting);
	fprintf(stderr, ")\n");
	ASSERT_LT(0, round);
	if (mode == KILL_TASK)
		ASSERT_LT(0, killed_submitting + killed_waiting)
			TH_LOG("every child had all its completions before SIGKILL");
	if (!self->have_stats)
		return;
	ASSERT_EQ(0, ru_stats_read(&b));
	ru_stats_delta(&self->st0, &b, &d);
	ru_stats_format(&d, sbuf, sizeof(sbuf));
	TH_LOG("stats delta: %s", sbuf);
	if (ru_module_enabled() != 1)
		return;
	/*
	 * Most rounds must have really queued reads (a SIGKILL in the
	 * submitting syscall may come before any did).
	 */
	EXPECT_LE(mode == KILL_TASK ? 1 : round, 2 * queued_rounds)
		TH_LOG("only %u of %u rounds had reads queued (eiocbqueued did not rise)",
		       queued_rounds, round);
	EXPECT_EQ(ru_stat(&d, "eiocbqueued"),
		  ru_stat(&d, "waits_lock") + ru_stat(&d, "waits_wait"))
		TH_LOG("stats inconsistent: eiocbqueued %" PRIu64 " != waits_lock %" PRIu64 " + waits_wait %" PRIu64,
		       ru_stat(&d, "eiocbqueued"), ru_stat(&d, "waits_lock"),
		       ru_stat(&d, "waits_wait"));
	EXPECT_LE(ru_stat(&d, "eiocbqueued"), ru_stat(&d, "reads"));
}

TEST_F_TIMEOUT(tear, close_ring_with_reads_queued, TEST_TIMEOUT)
{
	run_case(_metadata, self, variant, CLOSE_RING);
}

TEST_F_TIMEOUT(tear, exit_without_reaping, TEST_TIMEOUT)
{
	run_case(_metadata, self, variant, EXIT_TASK);
}

TEST_F_TIMEOUT(tear, sigkill_while_waiting, TEST_TIMEOUT)
{
	run_case(_metadata, self, variant, KILL_TASK);
}

TEST_HARNESS_MAIN
