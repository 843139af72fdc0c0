// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: read I/O errors injected with CONFIG_FAIL_MAKE_REQUEST.
 *
 * The scratch file system's disk gets make-it-fail=1 and
 * /sys/kernel/debug/fail_make_request fails its bios (probability 100,
 * interval 1, a limited number of `times`).  task-filter=Y restricts the
 * failures to this test's tasks (/proc/<pid>/make-it-fail=1, inherited by
 * its io-wq workers and children): journal and writeback I/O of the file
 * system never fail.  The file is opened O_NOATIME and its page cache is
 * dropped with posix_fadvise() only, so no metadata I/O is needed while
 * the injection is on.
 *
 *  - uring_read_fails_then_recovers: a cold io_uring read (the readahead
 *    it starts fails, the read is retried and its ->read_folio fails too)
 *    completes with -EIO, or with a short count whose bytes are right if
 *    some data came first; it never hangs.  With the injection off the
 *    same read returns all its bytes, correct.  Several offsets
 *    (aligned, unaligned, page crossing).
 *  - uring_qd32_random_failures: QD32 cold reads while PERCENT % of the
 *    bios fail: every read completes (-EIO, short or full: a failed
 *    readahead is retried by ->read_folio, which may succeed; whatever it
 *    returns is correct) and at least one read fails over QD_ROUNDS
 *    rounds; with the injection off all of them read correctly.
 *  - uring_async_failures_wake_queued_reads: reads queued (-EIOCBQUEUED)
 *    on folios whose read I/O then fails at completion (see the case);
 *  - pread_fails_then_recovers: the same for blocking pread(2) (in a
 *    child, so that a hang is reported instead of stopping the test);
 *  - device_reads_no_more_than_stock: counts the device reads of a failing
 *    block (bios failed) with stock and with rasync: rasync's are no more.
 *
 * make-it-fail, the fail_make_request settings and max_sectors_kb are
 * always put back:
 * after every case, at exit of the test program and on SIGTERM/SIGINT
 * (the runner's timeout).  Skips when the kernel lacks
 * CONFIG_FAIL_MAKE_REQUEST / CONFIG_FAULT_INJECTION_DEBUG_FS or on a
 * development host (RASYNC_HOST_DRYRUN=1).
 *
 * Prints "# <case>: <reads> iterations in <s> s".
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SIZE	(2 * 1024 * 1024)
#define FILE_SEED	0x696f6572ULL		/* "ioer" */
#define READ_LEN	(64 * 1024)
#define QD		32
#define QD_BLK		(16 * 1024)
#define MANY_FAILURES	1000
#define PERCENT		50
#define QD_ROUNDS	4
#define ASYNC_ROUNDS	6
#define HANG_SECONDS	60
#define TEST_TIMEOUT	240

#define FMR		"/sys/kernel/debug/fail_make_request"

/* --- fault injection knobs ----------------------------------------------- */

static const char *const knobs[] = {
	"probability", "interval", "times", "space", "verbose", "task-filter",
};
#define NR_KNOBS	(sizeof(knobs) / sizeof(knobs[0]))

static char dev_knob[PATH_MAX];		/* /sys/dev/block/M:m/make-it-fail */
static char max_sectors_knob[PATH_MAX];	/* .../queue/max_sectors_kb */
static char max_sectors_saved[32];
static char saved[NR_KNOBS][64];
static bool have_saved;
static pid_t main_pid;

static int knob_set(const char *name, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), FMR "/%s", name);
	return ru_write_str(path, val);
}

static long knob_get(const char *name)
{
	char path[PATH_MAX], buf[64];
	ssize_t n;

	snprintf(path, sizeof(path), FMR "/%s", name);
	n = ru_read_str(path, buf, sizeof(buf));
	return n < 0 ? n : strtol(buf, NULL, 10);
}

/* Turn it all off and put back what was there before the program ran. */
static void restore_injection(void)
{
	unsigned int i;

	if (dev_knob[0])
		ru_write_str(dev_knob, "0");
	if (max_sectors_knob[0] && max_sectors_saved[0])
		ru_write_str(max_sectors_knob, max_sectors_saved);
	if (!have_saved)
		return;
	/* probability first: nothing fails while the rest is restored */
	knob_set("probability", "0");
	for (i = 0; i < NR_KNOBS; i++)
		if (saved[i][0])
			knob_set(knobs[i], saved[i]);
}

static void on_signal(int sig)
{
	restore_injection();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * The device holding the scratch directory: its make-it-fail knob and the
 * max_sectors_kb of its queue (a partition's is its disk's).
 */
static void find_dev_knob(void)
{
	struct stat st;

	if (stat(ru_scratch_dir(), &st))
		return;
	snprintf(dev_knob, sizeof(dev_knob), "/sys/dev/block/%u:%u/make-it-fail",
		 major(st.st_dev), minor(st.st_dev));
	if (access(dev_knob, W_OK))
		dev_knob[0] = 0;
	snprintf(max_sectors_knob, sizeof(max_sectors_knob),
		 "/sys/dev/block/%u:%u/queue/max_sectors_kb",
		 major(st.st_dev), minor(st.st_dev));
	if (access(max_sectors_knob, W_OK))
		snprintf(max_sectors_knob, sizeof(max_sectors_knob),
			 "/sys/dev/block/%u:%u/../queue/max_sectors_kb",
			 major(st.st_dev), minor(st.st_dev));
	if (access(max_sectors_knob, W_OK) ||
	    ru_read_str(max_sectors_knob, max_sectors_saved,
			sizeof(max_sectors_saved)) <= 0) {
		max_sectors_knob[0] = 0;
		max_sectors_saved[0] = 0;
	}
}

static void __attribute__((constructor)) ioerr_init(void)
{
	unsigned int i;

	main_pid = getpid();
	if (ru_host_dryrun())
		return;
	find_dev_knob();
	if (access(FMR "/probability", W_OK))
		return;
	for (i = 0; i < NR_KNOBS; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), FMR "/%s", knobs[i]);
		if (ru_read_str(path, saved[i], sizeof(saved[i])) < 0)
			saved[i][0] = 0;
	}
	have_saved = true;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
}

static void __attribute__((destructor)) ioerr_fini(void)
{
	if (getpid() == main_pid)
		restore_injection();
}

/* This thread's make-it-fail (inherited by io-wq workers and children). */
static int set_task_fail(bool on)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/proc/self/task/%ld/make-it-fail",
		 (long)syscall(SYS_gettid));
	return ru_write_str(path, on ? "1" : "0");
}

/*
 * Fail bios of our tasks to the scratch disk: every @interval-th one, with
 * @percent probability, @times times at most.
 */
static int injection_on(int times, int percent, int interval)
{
	char buf[32], pbuf[16], ibuf[16];
	int ret;

	snprintf(ibuf, sizeof(ibuf), "%d", interval);
	ret = knob_set("probability", "0");
	ret = ret ?: knob_set("interval", ibuf);
	snprintf(buf, sizeof(buf), "%d", times);
	ret = ret ?: knob_set("times", buf);
	ret = ret ?: knob_set("space", "0");
	ret = ret ?: knob_set("verbose", "1");
	ret = ret ?: knob_set("task-filter", "Y");
	ret = ret ?: ru_write_str(dev_knob, "1");
	snprintf(pbuf, sizeof(pbuf), "%d", percent);
	ret = ret ?: knob_set("probability", pbuf);
	return ret;
}

/* Off; returns how many failures were injected since injection_on(@times). */
static long injection_off(int times)
{
	long left;

	knob_set("probability", "0");
	ru_write_str(dev_knob, "0");
	left = knob_get("times");
	return left < 0 ? left : times - left;
}

/* --- helpers ------------------------------------------------------------- */

static int wait_one(struct io_uring *ring, struct io_uring_cqe **cqe)
{
	struct __kernel_timespec ts = { .tv_sec = HANG_SECONDS };
	int ret;

	do {
		ret = io_uring_wait_cqe_timeout(ring, cqe, &ts);
	} while (ret == -EINTR);
	return ret;
}

/*
 * What a read under injection may return: -EIO, or a count (possibly
 * short, possibly full) whose bytes match.  NULL if fine, else why not.
 */
static const char *check_res(int res, const unsigned char *buf, uint64_t off,
			     uint32_t len, bool allow_full, char *msg,
			     size_t msglen)
{
	ssize_t bad;

	if (res == -EIO)
		return NULL;
	if (res < 0) {
		snprintf(msg, msglen, "res %d (%s), want -EIO or a short count",
			 res, strerror(-res));
		return msg;
	}
	if ((uint32_t)res > len || (!allow_full && (uint32_t)res == len)) {
		snprintf(msg, msglen, "res %d: the whole read succeeded although its I/O failed",
			 res);
		return msg;
	}
	bad = ru_pattern_check(buf, FILE_SEED, off, res);
	if (bad >= 0) {
		snprintf(msg, msglen, "res %d: byte at file offset %" PRIu64 " is wrong",
			 res, off + bad);
		return msg;
	}
	return NULL;
}

/* --- the cases ----------------------------------------------------------- */

FIXTURE(ioerr)
{
	int fd;
	char path[PATH_MAX];
	struct ru_reader r;
	unsigned char *buf;
};

FIXTURE_SETUP(ioerr)
{
	int ret, fd;

	self->fd = -1;
	if (ru_host_dryrun())
		SKIP(return, "RASYNC_HOST_DRYRUN=1: no fault injection on the host");
	RU_REQUIRE_ASYNC_FS();
	if (!have_saved)
		SKIP(return, "no %s (CONFIG_FAIL_MAKE_REQUEST, CONFIG_FAULT_INJECTION_DEBUG_FS, debugfs)",
		     FMR);
	if (!dev_knob[0])
		SKIP(return, "no make-it-fail for the device of %s",
		     ru_scratch_dir());
	if (access("/proc/self/make-it-fail", W_OK))
		SKIP(return, "no /proc/self/make-it-fail (CONFIG_FAULT_INJECTION)");

	ret = ru_reader_init(&self->r, QD, READ_LEN, false, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring set-up: %s", strerror(-ret));
	fd = ru_open_test_file("ioerr", FILE_SIZE, FILE_SEED, self->path,
			       sizeof(self->path));
	ASSERT_LE(0, fd) TH_LOG("test file in %s: %s", ru_scratch_dir(),
				strerror(-fd));
	close(fd);
	/* no atime update (a journal write) while bios fail */
	self->fd = open(self->path, O_RDONLY | O_NOATIME);
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", self->path, strerror(errno));
	self->buf = malloc(READ_LEN);
	ASSERT_NE(NULL, self->buf);
	/* every task of this case fails its bios, once the disk says so */
	ASSERT_EQ(0, set_task_fail(true));
}

FIXTURE_TEARDOWN(ioerr)
{
	restore_injection();
	set_task_fail(false);
	if (self->fd >= 0)
		close(self->fd);
	ru_reader_exit(&self->r);
	free(self->buf);
}

/* One io_uring read, waited for with a timeout; res or -ETIME. */
static int uring_read(FIXTURE_DATA(ioerr) *self, void *buf, uint32_t len,
		      uint64_t off)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int ret;

	sqe = io_uring_get_sqe(&self->r.ring);
	io_uring_prep_read(sqe, self->fd, buf, len, off);
	ret = io_uring_submit(&self->r.ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	ret = wait_one(&self->r.ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&self->r.ring, cqe);
	return ret;
}

static const struct {
	uint64_t off;
	uint32_t len;
} cold_reads[] = {
	{ 0, READ_LEN },
	{ 256 * 1024, READ_LEN },
	{ 512 * 1024 + 100, READ_LEN - 200 },
	{ 768 * 1024 - 10, 20 },
	{ 1024 * 1024 + 4095, 4097 },
	{ 1536 * 1024, RU_PAGE },
	{ FILE_SIZE - 1000, READ_LEN },		/* crosses EOF */
	{ FILE_SIZE - 3 * RU_PAGE, 2 * RU_PAGE },
};
#define NR_COLD	(sizeof(cold_reads) / sizeof(cold_reads[0]))

/* What a read under injection returned (from a child, for pread(2)). */
struct cold_result {
	int res;
	int err;	/* check_res() found it wrong */
	char msg[256];
};

/* Read cold_reads[@i] into self->buf; its result and check in *@cr. */
static void cold_read(FIXTURE_DATA(ioerr) *self, unsigned int i, bool uring,
		      struct cold_result *cr)
{
	uint64_t off = cold_reads[i].off;
	uint32_t len = ru_expected_len(off, cold_reads[i].len, FILE_SIZE);
	int res;

	memset(self->buf, 0xA5, READ_LEN);
	if (uring) {
		res = uring_read(self, self->buf, cold_reads[i].len, off);
	} else {
		res = pread(self->fd, self->buf, cold_reads[i].len, off);
		if (res < 0)
			res = -errno;
	}
	cr->res = res;
	cr->err = check_res(res, self->buf, off, len, false, cr->msg,
			    sizeof(cr->msg)) != NULL;
}

/*
 * Cold read @i through io_uring or pread(2) with every bio failing, then
 * again with the injection off: the first must fail (-EIO) or be short,
 * right as far as it goes, the second whole and right.  A pread(2) runs
 * in a child, so that a hang cannot stop the case; *@cr is shared with it.
 */
static void cold_read_fails_then_recovers(struct __test_metadata *_metadata,
					  FIXTURE_DATA(ioerr) *self,
					  unsigned int i, bool uring,
					  struct cold_result *cr)
{
	const char *how = uring ? "read" : "pread";
	uint64_t off = cold_reads[i].off;
	uint32_t len = ru_expected_len(off, cold_reads[i].len, FILE_SIZE);
	long pages, injected;
	int status = 0, reaped = 1, fres;
	pid_t pid = 0;

	pages = ru_drop_pages(self->fd, FILE_SIZE, 100);
	ASSERT_EQ(0, pages) TH_LOG("%ld pages still cached", pages);
	memset(cr, 0, sizeof(*cr));
	ASSERT_EQ(0, injection_on(MANY_FAILURES, 100, 1));
	if (uring) {
		cold_read(self, i, true, cr);
	} else {
		pid = fork();
		if (pid == 0) {
			cold_read(self, i, false, cr);
			_exit(0);
		}
		if (pid > 0)
			reaped = ru_wait_until(pid, &status,
					       ru_now_s() + HANG_SECONDS);
	}
	injected = injection_off(MANY_FAILURES);
	ASSERT_LE(0, pid);
	if (reaped != 1) {
		kill(pid, SIGKILL);
		ru_wait_until(pid, &status, ru_now_s() + 10);
		cr->res = -ETIME;
	} else if (pid) {
		ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	}
	ASSERT_NE(-ETIME, cr->res)
		TH_LOG("%s %u (off %" PRIu64 " len %u) under injection: hang, no completion in %d s",
		       how, i, off, cold_reads[i].len, HANG_SECONDS);
	ASSERT_LT(0, injected)
		TH_LOG("%s %u: no bio failed (res %d)", how, i, cr->res);
	ASSERT_EQ(0, cr->err)
		TH_LOG("%s %u (off %" PRIu64 " len %u, %ld bios failed): %s",
		       how, i, off, cold_reads[i].len, injected, cr->msg);

	/* the same read with the injection off: all of it, right */
	fres = cr->res;
	cold_read(self, i, uring, cr);
	ASSERT_EQ((int)len, cr->res)
		TH_LOG("%s %u (off %" PRIu64 ") after the injection: res %d, want %u",
		       how, i, off, cr->res, len);
	ASSERT_EQ(-1, ru_pattern_check(self->buf, FILE_SEED, off, len));
	if (uring) {
		/* and pread(2) agrees */
		cold_read(self, i, false, cr);
		ASSERT_EQ((int)len, cr->res);
		ASSERT_EQ(-1, ru_pattern_check(self->buf, FILE_SEED, off, len));
	}
	TH_LOG("%s %u: off %" PRIu64 " len %u: %s under injection (%ld bios failed), then %u bytes",
	       how, i, off, cold_reads[i].len,
	       fres == -EIO ? "-EIO" : "short", injected, len);
}

static void cold_reads_case(struct __test_metadata *_metadata,
			    FIXTURE_DATA(ioerr) *self, bool uring)
{
	double t0 = ru_now_s();
	struct cold_result *cr;
	unsigned int i;

	cr = mmap(NULL, sizeof(*cr), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, cr);
	for (i = 0; i < NR_COLD; i++)
		cold_read_fails_then_recovers(_metadata, self, i, uring, cr);
	munmap(cr, sizeof(*cr));
	fprintf(stderr, "# ioerr.%s: %u iterations in %.1f s (iterations = cold reads failed, then read again)\n",
		_metadata->name, i, ru_now_s() - t0);
}

TEST_F_TIMEOUT(ioerr, uring_read_fails_then_recovers, TEST_TIMEOUT)
{
	cold_reads_case(_metadata, self, true);
}

/* What the reads of qd_round() returned, over all rounds. */
struct qd_tally {
	unsigned int rounds, reads, failed, shorts;
	long injected;
};

/*
 * One round of a QD32 case: the blocks at offs[] evicted, then read at
 * once through io_uring with fail_make_request failing bios (percent,
 * interval); every read must complete, whatever it returns correct.  Then,
 * with the injection off, every block must read back whole.
 */
static void qd_round(struct __test_metadata *_metadata,
		     FIXTURE_DATA(ioerr) *self, const uint64_t *offs,
		     int percent, int interval, struct qd_tally *t)
{
	struct io_uring *ring = &self->r.ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	unsigned int i, done;
	long pages, injected;
	char msg[256];
	int ret, res;

	pages = ru_drop_pages(self->fd, FILE_SIZE, 100);
	ASSERT_EQ(0, pages) TH_LOG("%ld pages still cached", pages);
	ASSERT_EQ(0, injection_on(MANY_FAILURES, percent, interval));
	for (i = 0; i < QD; i++) {
		sqe = io_uring_get_sqe(ring);
		memset(self->r.arena + (size_t)i * READ_LEN, 0xA5, QD_BLK);
		io_uring_prep_read(sqe, self->fd,
				   self->r.arena + (size_t)i * READ_LEN,
				   QD_BLK, offs[i]);
		io_uring_sqe_set_data64(sqe, i);
	}
	ret = io_uring_submit(ring);
	if (ret != QD)
		injection_off(MANY_FAILURES);
	ASSERT_EQ(QD, ret);
	for (done = 0; done < QD; done++) {
		ret = wait_one(ring, &cqe);
		if (ret)
			break;
		i = io_uring_cqe_get_data64(cqe);
		res = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		if (i >= QD) {
			ret = -EPROTO;
			break;
		}
		t->reads++;
		if (res < 0)
			t->failed++;
		else if (res < QD_BLK)
			t->shorts++;
		msg[0] = 0;
		EXPECT_EQ(NULL, check_res(res, self->r.arena + (size_t)i * READ_LEN,
					  offs[i], QD_BLK, true, msg,
					  sizeof(msg)))
			TH_LOG("read of block at %" PRIu64 ": %s",
			       offs[i], msg);
	}
	injected = injection_off(MANY_FAILURES);
	ASSERT_EQ(0, ret)
		TH_LOG("round %u: %s: %u of %u reads did not complete in %d s",
		       t->rounds, ret == -ETIME ? "hang" : strerror(-ret),
		       QD - done, QD, HANG_SECONDS);
	t->injected += injected;
	t->rounds++;

	/* injection off: every block reads correctly */
	for (i = 0; i < QD; i++) {
		memset(self->buf, 0xA5, QD_BLK);
		res = uring_read(self, self->buf, QD_BLK, offs[i]);
		ASSERT_EQ(QD_BLK, res)
			TH_LOG("block at %" PRIu64 " after the injection: res %d",
			       offs[i], res);
		ASSERT_EQ(-1, ru_pattern_check(self->buf, FILE_SEED,
					       offs[i], QD_BLK));
	}
}

/* The end of a QD32 case: some bio failed, and some read saw it. */
static void qd_verdict(struct __test_metadata *_metadata,
		       const struct qd_tally *t, double t0)
{
	TH_LOG("%u rounds, %ld bios failed: %u reads -EIO, %u short, %u full",
	       t->rounds, t->injected, t->failed, t->shorts,
	       t->reads - t->failed - t->shorts);
	ASSERT_LT(0, t->injected) TH_LOG("no bio failed");
	ASSERT_LT(0, t->failed + t->shorts)
		TH_LOG("%ld bios failed but every read succeeded", t->injected);
	fprintf(stderr, "# ioerr.%s: %u iterations in %.1f s (iterations = reads under injection, each read again after it)\n",
		_metadata->name, t->reads, ru_now_s() - t0);
}

TEST_F_TIMEOUT(ioerr, uring_qd32_random_failures, TEST_TIMEOUT)
{
	double t0 = ru_now_s();
	uint64_t offs[QD], rng = ru_seed() | 1;
	struct qd_tally t = { 0 };

	while (t.rounds < QD_ROUNDS && !t.failed && !t.shorts) {
		ru_pick_blocks(&rng, offs, QD, FILE_SIZE / QD_BLK, QD_BLK);
		qd_round(_metadata, self, offs, PERCENT, 1, &t);
	}
	qd_verdict(_metadata, &t, t0);
}

/*
 * Failures at I/O completion, with reads queued on the failing folios.
 *
 * fail_make_request fails a bio when it is submitted, so the folios of a
 * failed readahead are normally unlocked (not uptodate) before the reading
 * task could queue a wait on them.  Here max_sectors_kb=4 makes the block
 * layer split every larger bio: the first 4 KiB piece goes to the disk and
 * the rest is resubmitted, and interval=2 fails every second submission,
 * i.e. (mostly) the rest.  The whole original bio then completes with
 * -EIO when the piece that went to the disk completes, asynchronously,
 * from the disk's interrupt: io_uring reads that found those folios locked
 * and returned -EIOCBQUEUED are woken by a failed read.  Their retry finds
 * the folios not uptodate and (with IOCB_WAITQ, no ->read_folio) gives
 * -EAGAIN, io_uring punts them to io-wq, whose ->read_folio may fail or
 * succeed (interval 2).  Every read must complete, with -EIO, a short
 * count or all its bytes, whatever it returns correct.
 */
TEST_F_TIMEOUT(ioerr, uring_async_failures_wake_queued_reads, TEST_TIMEOUT)
{
	double t0 = ru_now_s();
	uint64_t offs[QD], rng = ru_seed() * 3 + 1, queued = 0;
	struct ru_stats a, b, d;
	struct qd_tally t = { 0 };
	bool stats = false;

	if (!max_sectors_knob[0])
		SKIP(return, "no writable max_sectors_kb for the device of %s",
		     ru_scratch_dir());
	ASSERT_EQ(0, ru_write_str(max_sectors_knob, "4"))
		TH_LOG("%s: cannot set 4", max_sectors_knob);

	while (t.rounds < ASYNC_ROUNDS) {
		ru_pick_blocks(&rng, offs, QD, FILE_SIZE / QD_BLK, QD_BLK);
		stats = ru_stats_read(&a) == 0;
		qd_round(_metadata, self, offs, 100, 2, &t);
		if (stats && ru_stats_read(&b) == 0) {
			ru_stats_delta(&a, &b, &d);
			queued += ru_stat(&d, "eiocbqueued");
		} else {
			stats = false;
		}
	}
	ASSERT_EQ(0, ru_write_str(max_sectors_knob, max_sectors_saved));
	TH_LOG("%" PRIu64 " reads returned -EIOCBQUEUED", queued);
	qd_verdict(_metadata, &t, t0);
	if (stats && ru_module_enabled() == 1)
		ASSERT_LT(0, queued)
			TH_LOG("no read was queued (-EIOCBQUEUED) on a folio under I/O");
}

/*
 * Device reads of a failing block, stock against rasync.  Each bio the
 * injection fails is one device read, so injection_off() counts them.  A
 * cold read of one page with POSIX_FADV_RANDOM (readahead reads just the
 * pages asked for, so every bio is of that page) and a 64 KiB read with the
 * default readahead window are made through io_uring and pread(2), with
 * `enabled` N (stock 6.12) and Y (rasync) on the same offsets, each read
 * on a newly opened file (readahead state starts alike).  rasync may not
 * read a failing block more often than stock does.
 */
#define DEVREAD_OFFS	4

static long devreads(FIXTURE_DATA(ioerr) *self, bool uring, int advice,
		     uint64_t off, uint32_t len, int *res)
{
	long pages = ru_drop_pages(self->fd, FILE_SIZE, 100);

	if (pages)
		return pages < 0 ? pages : -EBUSY;
	/* a new open file: readahead state of its own, as stock's had */
	close(self->fd);
	self->fd = open(self->path, O_RDONLY | O_NOATIME);
	if (self->fd < 0)
		return -errno;
	if (posix_fadvise(self->fd, 0, 0, advice))
		return -EINVAL;
	if (injection_on(MANY_FAILURES, 100, 1))
		return -EIO;
	if (uring) {
		*res = uring_read(self, self->buf, len, off);
	} else {
		*res = pread(self->fd, self->buf, len, off);
		if (*res < 0)
			*res = -errno;
	}
	return injection_off(MANY_FAILURES);
}

TEST_F_TIMEOUT(ioerr, device_reads_no_more_than_stock, TEST_TIMEOUT)
{
	static const struct {
		const char *name;
		int advice;
		uint32_t len;
	} shapes[] = {
		{ "one page, FADV_RANDOM", POSIX_FADV_RANDOM, RU_PAGE },
		{ "64 KiB, readahead", POSIX_FADV_NORMAL, READ_LEN },
	};
	static const char *const mode[] = { "stock", "rasync" };
	long reads[2][2][2];	/* [shape][io_uring?][rasync?] */
	unsigned int s, u, m, i;
	int enabled0, res = 0;

	if (!ru_module_loaded())
		SKIP(return, "rasync.ko is not loaded: nothing to compare");
	enabled0 = ru_module_enabled();
	ASSERT_LE(0, enabled0);
	for (s = 0; s < 2; s++) {
		for (u = 0; u < 2; u++) {
			for (m = 0; m < 2; m++) {
				ASSERT_EQ(0, ru_set_module_enabled(m));
				reads[s][u][m] = 0;
				for (i = 0; i < DEVREAD_OFFS; i++) {
					uint64_t off = (uint64_t)i * FILE_SIZE /
						       DEVREAD_OFFS + RU_PAGE;
					long n = devreads(self, u, shapes[s].advice,
							  off, shapes[s].len, &res);

					ASSERT_LT(0, n)
						TH_LOG("%s %s %s at %" PRIu64 ": %ld bios failed (res %d)",
						       shapes[s].name,
						       u ? "io_uring" : "pread",
						       mode[m], off, n, res);
					ASSERT_NE(-ETIME, res);
					ASSERT_GE(0, res)
						TH_LOG("%s read at %" PRIu64 " returned %d although all its bios failed",
						       shapes[s].name, off, res);
					reads[s][u][m] += n;
				}
			}
			TH_LOG("%s, %s: %ld device reads (failed bios) for %d cold reads with stock, %ld with rasync",
			       shapes[s].name, u ? "io_uring" : "pread(2)",
			       reads[s][u][0], DEVREAD_OFFS, reads[s][u][1]);
			EXPECT_LE(reads[s][u][1], reads[s][u][0]);
		}
	}
	ASSERT_EQ(0, ru_set_module_enabled(enabled0));
}

TEST_F_TIMEOUT(ioerr, pread_fails_then_recovers, TEST_TIMEOUT)
{
	cold_reads_case(_metadata, self, false);
}

TEST_HARNESS_MAIN
