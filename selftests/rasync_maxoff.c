// SPDX-License-Identifier: GPL-2.0
/*
 * Reads at the largest file offsets return what the stock kernel returns.
 *
 * On xfs and btrfs s_maxbytes is MAX_LFS_FILESIZE (LLONG_MAX): anyone may
 * create a sparse file of that size and read its last byte, where
 * pos + count + PAGE_SIZE - 1 no longer fits in a loff_t.  C wraps; Rust
 * arithmetic with overflow checks panics, a BUG inside the SRCU read
 * section of the read hook.  The test finds the largest size ftruncate()
 * accepts on the scratch file system (s_maxbytes: LLONG_MAX on xfs and
 * btrfs, about 16 TiB on ext4 with 4K blocks), makes a sparse file of that
 * size with a few bytes written just below it, and reads its last pages,
 * its end and past it as an unprivileged user (uid/gid 65534):
 *
 *  - tail_reads: each read returns exactly min(len, size - off) bytes (0 at
 *    or past EOF and at or past s_maxbytes), -EINVAL where off + len is
 *    past LLONG_MAX (rw_verify_area()); with RWF_NOWAIT also -EAGAIN or a
 *    short count (what is cached).  Holes read as zeros, the written bytes
 *    as written, and nothing lands in the buffer past the result.  The
 *    reader exits normally: a kernel oops in read() kills it, and that is
 *    reported as such;
 *  - module_matches_stock: the same reads with rasync enabled and with
 *    enabled=N (the stock filemap_read()) give identical results (but for
 *    RWF_NOWAIT reads that found less cached one time), and rasync's read
 *    counter moves only while it is enabled.
 *
 * Variants: read(2) after lseek(SEEK_SET) (offsets lseek refuses are left
 * out), preadv2() with two iovecs (flags 0 and RWF_NOWAIT) and io_uring
 * IORING_OP_READ (buffered, with and without RWF_NOWAIT).  Cold rounds
 * drop the file's tail from the page cache first (POSIX_FADV_DONTNEED).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SEED	0x6d61786fULL		/* "maxo" */
#define MAX_LEN		(64 * 1024)
#define GUARD		256			/* bytes past len that stay */
#define POISON		0xA5
#define NOBODY		65534
#define TAIL		(1 << 20)		/* what a cold round evicts */
#define READER_MS	30000			/* a slower reader is stuck */
#define MAX_ROUNDS	3
/* res of a read(2) that lseek() could not position */
#define NOT_RUN		INT64_MIN

/* where a read starts: the largest file size found, or LLONG_MAX */
enum mo_base { AT_MAX, AT_LLONG_MAX };

struct mo_read {
	enum mo_base base;
	int64_t delta;
	uint32_t len;
};

static const struct mo_read mo_reads[] = {
	/* the last byte: pos + count + PAGE_SIZE - 1 overflows at LLONG_MAX */
	{ AT_MAX, -1, 1 },
	{ AT_MAX, -1, 4096 },
	{ AT_MAX, -1, MAX_LEN },
	{ AT_MAX, -100, 100 },
	/* the last page, whole and from its first byte */
	{ AT_MAX, -4096, 1 },
	{ AT_MAX, -4096, 4096 },
	{ AT_MAX, -4096, MAX_LEN },
	/* crossing into the last page */
	{ AT_MAX, -4097, 4096 },
	{ AT_MAX, -4097, MAX_LEN },
	{ AT_MAX, -8192, 8192 },
	{ AT_MAX, -8192, MAX_LEN },
	/* multi-page, up to the end and one byte short of it */
	{ AT_MAX, -MAX_LEN, MAX_LEN },
	{ AT_MAX, -MAX_LEN - 1, MAX_LEN },
	/* at the end, and past it (past LLONG_MAX on xfs and btrfs) */
	{ AT_MAX, 0, 1 },
	{ AT_MAX, 0, 4096 },
	{ AT_MAX, 1, 1 },
	{ AT_MAX, 4096, 4096 },
	/* the last pages below LLONG_MAX whatever the file system's limit */
	{ AT_LLONG_MAX, -1, 1 },
	{ AT_LLONG_MAX, -4096, 4096 },
};

#define NR_READS	ARRAY_SIZE(mo_reads)
#define MAX_STEPS	(MAX_ROUNDS * NR_READS)

/* bytes written just below the end (across the last page boundary) */
static const struct {
	int64_t delta;
	uint32_t len;
} mo_writes[] = {
	{ -16, 16 },
	{ -4096 - 8, 16 },
};

#define NR_WRITES	ARRAY_SIZE(mo_writes)

enum mo_mode {
	MO_READ,		/* lseek(SEEK_SET) + read(2) */
	MO_PREADV2,		/* preadv2(), two iovecs */
	MO_PREADV2_NOWAIT,
	MO_URING,		/* IORING_OP_READ, buffered */
	MO_URING_NOWAIT,
};

static const char *const mo_mode_names[] = {
	[MO_READ] = "read(2)",
	[MO_PREADV2] = "preadv2",
	[MO_PREADV2_NOWAIT] = "preadv2(RWF_NOWAIT)",
	[MO_URING] = "io_uring READ",
	[MO_URING_NOWAIT] = "io_uring READ(RWF_NOWAIT)",
};

static bool mo_nowait(enum mo_mode m)
{
	return m == MO_PREADV2_NOWAIT || m == MO_URING_NOWAIT;
}

struct mo_round {
	enum mo_mode mode;
	bool evict;		/* drop the file's tail from the cache first */
};

struct mo_res {
	int64_t res;		/* bytes, -errno, or NOT_RUN */
	int err;		/* NOT_RUN: lseek()'s errno */
	uint64_t hash;		/* of the bytes read */
};

/* The reader's report, in memory shared with the test. */
struct mo_shared {
	int cur;		/* step being read, -1 outside reads */
	uid_t uid, euid;
	gid_t gid;
	int setuid_err;		/* errno of setgroups/setgid/setuid */
	int open_err;		/* errno of the reader's own open() */
	int setup_err;		/* the reader could not start: why */
	char setup_msg[128];
	unsigned int nbad, nbytes_reads, nzero, neinval, neagain, nshort;
	unsigned int nnotrun;
	uint64_t bytes;
	char msg[512];		/* the first bad read */
	struct mo_res r[MAX_STEPS];
};

struct mo_ext {
	uint64_t off;
	uint32_t len;		/* 0: the write failed, a hole is left */
};

/* What the reader process works with. */
struct mo_file {
	int fd;			/* the test's (root's) O_RDWR fd */
	char path[PATH_MAX];
	uint64_t max;		/* largest size ftruncate() accepts: the size */
	struct mo_ext ext[NR_WRITES];
	struct mo_shared *sh;
};

FIXTURE(maxoff)
{
	struct mo_file f;
	unsigned long magic;
	struct mo_res *res_y;	/* enabled=Y results */
	int enabled_orig;	/* module param to restore, or -1 */
	bool module;		/* loaded and enabled */
	mode_t dir_mode;	/* scratch dir mode to restore, if chmod-ed */
	bool dir_chmod;
};

FIXTURE_VARIANT(maxoff)
{
	unsigned int nrounds;
	struct mo_round rounds[MAX_ROUNDS];
};

FIXTURE_VARIANT_ADD(maxoff, read)
{
	.nrounds = 2,
	.rounds = { { MO_READ, true }, { MO_READ, false } },
};

/* cold, then hot (RWF_NOWAIT gets data), then cold RWF_NOWAIT (-EAGAIN) */
FIXTURE_VARIANT_ADD(maxoff, preadv2)
{
	.nrounds = 3,
	.rounds = {
		{ MO_PREADV2, true },
		{ MO_PREADV2_NOWAIT, false },
		{ MO_PREADV2_NOWAIT, true },
	},
};

FIXTURE_VARIANT_ADD(maxoff, io_uring)
{
	.nrounds = 3,
	.rounds = {
		{ MO_URING, true },
		{ MO_URING_NOWAIT, false },
		{ MO_URING_NOWAIT, true },
	},
};

static uint64_t mo_off(const struct mo_read *rd, uint64_t max)
{
	return (rd->base == AT_MAX ? max : (uint64_t)INT64_MAX) +
	       (uint64_t)rd->delta;
}

static void mo_where(char *buf, size_t len, const struct mo_read *rd)
{
	snprintf(buf, len, "%s%+" PRId64 " len %u",
		 rd->base == AT_MAX ? "max" : "LLONG_MAX", rd->delta, rd->len);
}

/*
 * What the stock kernel returns: -EINVAL for a negative position or one
 * whose end is past LLONG_MAX (rw_verify_area()), else min(len, size - off)
 * bytes, 0 at or past EOF (filemap_read() also returns 0 at or past
 * s_maxbytes, which is the size here).
 */
static int64_t mo_expect(uint64_t off, uint32_t len, uint64_t size)
{
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EINVAL;
	return ru_expected_len(off, len, size);
}

/* The file's bytes at [off, off + n): zeros but for what was written. */
static void mo_fill_expected(const struct mo_ext *ext, uint64_t off, size_t n,
			     unsigned char *buf)
{
	uint64_t lo, hi;
	unsigned int i;

	memset(buf, 0, n);
	for (i = 0; i < NR_WRITES; i++) {
		lo = ext[i].off > off ? ext[i].off : off;
		hi = ext[i].off + ext[i].len < off + n ?
		     ext[i].off + ext[i].len : off + n;
		if (ext[i].len && lo < hi)
			ru_pattern_fill(buf + (lo - off), FILE_SEED, lo, hi - lo);
	}
}

static uint64_t mo_hash(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * The largest length ftruncate() accepts (EFBIG or EINVAL above it):
 * s_maxbytes, or RLIMIT_FSIZE if that is lower.  Leaves the file at some
 * size at most that.
 */
static int find_max_size(int fd, uint64_t *max, unsigned int *calls)
{
	int64_t lo = 0, hi = INT64_MAX, mid;	/* lo accepted, hi refused */

	*calls = 1;
	if (!ftruncate(fd, INT64_MAX)) {
		*max = INT64_MAX;
		return 0;
	}
	if (errno != EFBIG && errno != EINVAL)
		return -errno;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		++*calls;
		if (!ftruncate(fd, mid))
			lo = mid;
		else if (errno == EFBIG || errno == EINVAL)
			hi = mid;
		else
			return -errno;
	}
	*max = lo;
	return 0;
}

FIXTURE_SETUP(maxoff)
{
	struct mo_file *f = &self->f;
	unsigned char buf[64];
	unsigned int calls, i;
	struct mo_shared *sh;
	struct rlimit rl;
	struct stat st;
	ssize_t n;
	int ret;

	f->fd = -1;
	self->enabled_orig = -1;
	f->sh = NULL;
	self->res_y = NULL;
	self->dir_chmod = false;
	RU_REQUIRE_ASYNC_FS_MAGIC(&self->magic);

	/* above RLIMIT_FSIZE ftruncate() fails with EFBIG, not SIGXFSZ */
	signal(SIGXFSZ, SIG_IGN);
	/* an empty file with the name the test programs clean up at exit */
	ret = ru_open_test_file("maxoff", 0, FILE_SEED, f->path,
				sizeof(f->path));
	ASSERT_LE(0, ret) TH_LOG("test file in %s: %s", ru_scratch_dir(),
				 strerror(-ret));
	close(ret);
	f->fd = open(f->path, O_RDWR);
	ASSERT_LE(0, f->fd) TH_LOG("open %s: %s", f->path,
				      strerror(errno));
	ASSERT_EQ(0, fchmod(f->fd, 0644));

	ret = find_max_size(f->fd, &f->max, &calls);
	ASSERT_EQ(0, ret) TH_LOG("ftruncate %s: %s", f->path,
				 strerror(-ret));
	TH_LOG("%s (fs magic 0x%lx): largest file size %" PRIu64 " (0x%" PRIx64 "%s), %u ftruncate() calls",
	       ru_scratch_dir(), self->magic, f->max, f->max,
	       f->max == INT64_MAX ? ", LLONG_MAX" : "", calls);
	ASSERT_EQ(0, getrlimit(RLIMIT_FSIZE, &rl));
	if (rl.rlim_cur != RLIM_INFINITY) {
		TH_LOG("RLIMIT_FSIZE is %llu: the size found may be that, not s_maxbytes",
		       (unsigned long long)rl.rlim_cur);
	} else if (self->magic == XFS_SUPER_MAGIC ||
		   self->magic == BTRFS_SUPER_MAGIC) {
		/* MAX_LFS_FILESIZE: the overflow this test is about */
		EXPECT_EQ(INT64_MAX, f->max);
	}
	ASSERT_LE(4 * MAX_LEN, f->max);
	ASSERT_EQ(0, ftruncate(f->fd, f->max));

	/* a few bytes below the end, where the file system lets us */
	for (i = 0; i < NR_WRITES; i++) {
		f->ext[i].off = f->max + mo_writes[i].delta;
		f->ext[i].len = 0;
		ru_pattern_fill(buf, FILE_SEED, f->ext[i].off,
				mo_writes[i].len);
		n = pwrite(f->fd, buf, mo_writes[i].len, f->ext[i].off);
		if (n < 0) {
			ASSERT_TRUE(errno == EFBIG || errno == EINVAL ||
				    errno == ENOSPC)
				TH_LOG("pwrite at max%+" PRId64 ": %s",
				       mo_writes[i].delta, strerror(errno));
			TH_LOG("pwrite of %u bytes at max%+" PRId64 ": %s: left a hole",
			       mo_writes[i].len, mo_writes[i].delta,
			       strerror(errno));
			continue;
		}
		f->ext[i].len = n;
		if ((size_t)n < mo_writes[i].len)
			TH_LOG("pwrite of %u bytes at max%+" PRId64 " wrote %zd",
			       mo_writes[i].len, mo_writes[i].delta, n);
	}
	TH_LOG("wrote %u bytes at max%+" PRId64 " and %u at max%+" PRId64 "; the rest is a hole",
	       f->ext[0].len, mo_writes[0].delta, f->ext[1].len,
	       mo_writes[1].delta);
	ASSERT_EQ(0, fsync(f->fd)) TH_LOG("fsync %s: %s", f->path,
					     strerror(errno));
	ASSERT_EQ(0, fstat(f->fd, &st));
	ASSERT_EQ(f->max, (uint64_t)st.st_size);

	/* the unprivileged reader opens the file by name */
	ASSERT_EQ(0, stat(ru_scratch_dir(), &st));
	if (!(st.st_mode & 0001)) {
		ASSERT_EQ(0, chmod(ru_scratch_dir(), (st.st_mode & 07777) | 0001))
			TH_LOG("chmod o+x %s: %s", ru_scratch_dir(),
			       strerror(errno));
		self->dir_mode = st.st_mode & 07777;
		self->dir_chmod = true;
		TH_LOG("%s was mode %o: made it o+x for the reader until the end",
		       ru_scratch_dir(), self->dir_mode);
	}

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	f->sh = sh;
	self->res_y = calloc(MAX_STEPS, sizeof(*self->res_y));
	ASSERT_NE(NULL, self->res_y);
	self->module = ru_module_loaded() && ru_module_enabled() == 1;
}

FIXTURE_TEARDOWN(maxoff)
{
	struct mo_file *f = &self->f;

	if (self->enabled_orig >= 0)
		ru_set_module_enabled(self->enabled_orig);
	if (self->dir_chmod)
		chmod(ru_scratch_dir(), self->dir_mode);
	if (f->fd >= 0) {
		close(f->fd);
		unlink(f->path);
	}
	if (f->sh)
		munmap(f->sh, sizeof(*f->sh));
	free(self->res_y);
}

/* One read; its result, -errno, or NOT_RUN with lseek()'s errno in *err. */
static int64_t mo_do_read(enum mo_mode mode, int fd, struct io_uring *ring,
			  uint64_t off, uint32_t len, unsigned char *buf,
			  int *err, int64_t *pos)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct iovec iov[2];
	ssize_t n;
	int ret;

	switch (mode) {
	case MO_READ:
		if (lseek(fd, (off_t)off, SEEK_SET) != (off_t)off) {
			*err = errno;
			return NOT_RUN;
		}
		n = read(fd, buf, len);
		ret = errno;
		*pos = lseek(fd, 0, SEEK_CUR);
		return n < 0 ? -ret : n;
	case MO_PREADV2:
	case MO_PREADV2_NOWAIT:
		/* off is never -1 ("the file position") */
		iov[0].iov_base = buf;
		iov[0].iov_len = len / 2;
		iov[1].iov_base = buf + len / 2;
		iov[1].iov_len = len - len / 2;
		n = preadv2(fd, iov, 2, (off_t)off,
			    mode == MO_PREADV2_NOWAIT ? RWF_NOWAIT : 0);
		return n < 0 ? -errno : n;
	case MO_URING:
	case MO_URING_NOWAIT:
		sqe = io_uring_get_sqe(ring);
		if (!sqe)
			return -EBUSY;
		io_uring_prep_read(sqe, fd, buf, len, off);
		sqe->rw_flags = mode == MO_URING_NOWAIT ? RWF_NOWAIT : 0;
		ret = io_uring_submit(ring);
		if (ret != 1)
			return ret < 0 ? ret : -EPROTO;
		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret)
			return ret;
		ret = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		return ret;
	}
	return -EINVAL;
}

static void mo_check(const struct mo_file *f, enum mo_mode mode,
		     const struct mo_read *rd, struct mo_res *r,
		     const unsigned char *buf, unsigned char *exp, int64_t pos)
{
	uint64_t off = mo_off(rd, f->max);
	int64_t want = mo_expect(off, rd->len, f->max);
	struct mo_shared *sh = f->sh;
	const char *name = mo_mode_names[mode];
	char where[64];
	int64_t i;

	mo_where(where, sizeof(where), rd);
	if (r->res == NOT_RUN) {
		sh->nnotrun++;
		return;
	}
	if (mode == MO_READ &&
	    pos != (int64_t)off + (r->res > 0 ? r->res : 0)) {
		RU_FAIL(sh, "%s at %s (off %" PRIu64 "): res %" PRId64 ", file position %" PRId64 " after it",
		    name, where, off, r->res, pos);
		return;
	}
	/* RWF_NOWAIT: -EAGAIN, or short when only part of it is cached */
	if (r->res != want &&
	    !(mo_nowait(mode) && (r->res == -EAGAIN ||
				  (r->res > 0 && r->res < want)))) {
		RU_FAIL(sh, "%s at %s (off %" PRIu64 "): res %" PRId64 " (%s), want %" PRId64,
		    name, where, off, r->res,
		    r->res < 0 ? strerror(-r->res) : "bytes", want);
		return;
	}
	if (r->res == -EAGAIN)
		sh->neagain++;
	else if (r->res != want)
		sh->nshort++;
	else if (r->res == -EINVAL)
		sh->neinval++;
	else if (!r->res)
		sh->nzero++;
	else
		sh->nbytes_reads++;
	if (r->res > 0) {
		mo_fill_expected(f->ext, off, r->res, exp);
		for (i = 0; i < r->res; i++) {
			if (buf[i] != exp[i]) {
				RU_FAIL(sh, "%s at %s res %" PRId64 ": byte at max%+" PRId64 " is 0x%02x, want 0x%02x",
				    name, where, r->res,
				    (int64_t)(off + i - f->max), buf[i],
				    exp[i]);
				return;
			}
		}
		sh->bytes += r->res;
		r->hash = mo_hash(buf, r->res);
	}
	for (i = r->res > 0 ? r->res : 0; i < rd->len + GUARD; i++) {
		if (buf[i] != POISON) {
			RU_FAIL(sh, "%s at %s res %" PRId64 ": buffer byte %" PRId64 " written past the result",
			    name, where, r->res, i);
			return;
		}
	}
}

/*
 * The reader: drops to nobody, opens the file and does every read of every
 * round, checking each.  Never returns.
 */
static __noreturn void mo_reader(const struct mo_file *f,
				 const struct mo_round *rounds,
				 unsigned int nrounds)
{
	struct mo_shared *sh = f->sh;
	unsigned char *buf, *exp;
	unsigned int ro, i, step;
	struct io_uring ring;
	bool uring = false;
	int fd, ret, err;
	int64_t pos;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		sh->setuid_err = errno;
	sh->uid = getuid();
	sh->euid = geteuid();
	sh->gid = getgid();

	fd = open(f->path, O_RDONLY);
	if (fd < 0) {
		/* a parent of the scratch dir is closed to nobody */
		sh->open_err = errno;
		fd = f->fd;
	} else {
		close(f->fd);
	}

	buf = mmap(NULL, MAX_LEN + GUARD, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	exp = malloc(MAX_LEN);
	if (buf == MAP_FAILED || !exp) {
		sh->setup_err = ENOMEM;
		snprintf(sh->setup_msg, sizeof(sh->setup_msg), "buffers");
		_exit(1);
	}
	for (ro = 0; ro < nrounds; ro++)
		uring |= rounds[ro].mode == MO_URING ||
			 rounds[ro].mode == MO_URING_NOWAIT;
	if (uring) {
		ret = io_uring_queue_init(4, &ring, 0);
		if (ret) {
			sh->setup_err = -ret;
			snprintf(sh->setup_msg, sizeof(sh->setup_msg),
				 "io_uring_queue_init as uid %u",
				 (unsigned int)sh->euid);
			_exit(1);
		}
	}

	for (ro = 0; ro < nrounds; ro++) {
		const struct mo_round *round = &rounds[ro];

		/* clean pages (the test fsync()ed): no privilege needed */
		if (round->evict)
			posix_fadvise(fd, (f->max - TAIL) & ~(uint64_t)(RU_PAGE - 1),
				      0, POSIX_FADV_DONTNEED);
		for (i = 0; i < NR_READS; i++) {
			const struct mo_read *rd = &mo_reads[i];
			struct mo_res *r;

			step = ro * NR_READS + i;
			r = &sh->r[step];
			memset(buf, POISON, rd->len + GUARD);
			err = 0;
			pos = -1;
			__atomic_store_n(&sh->cur, step, __ATOMIC_SEQ_CST);
			r->res = mo_do_read(round->mode, fd, &ring,
					    mo_off(rd, f->max), rd->len,
					    buf, &err, &pos);
			__atomic_store_n(&sh->cur, -1, __ATOMIC_SEQ_CST);
			r->err = err;
			mo_check(f, round->mode, rd, r, buf, exp, pos);
		}
	}
	_exit(0);
}

static void mo_step_name(char *buf, size_t len, const struct mo_round *rounds,
			 int step)
{
	const struct mo_round *round = &rounds[step / NR_READS];
	char where[64];

	mo_where(where, sizeof(where), &mo_reads[step % NR_READS]);
	snprintf(buf, len, "%s (%s round %d) at %s",
		 mo_mode_names[round->mode], round->evict ? "cold" : "hot",
		 step / (int)NR_READS + 1, where);
}

/*
 * Run every round in a reader process as nobody and check that it exited
 * normally and found every read right.  The results are left in f->sh.
 */
static void mo_pass(struct __test_metadata *_metadata,
		    const struct mo_file *f, const struct mo_round *rounds,
		    unsigned int nrounds, const char *what)
{
	struct mo_shared *sh = f->sh;
	unsigned int nsteps = nrounds * NR_READS;
	long long start = now_ms(), end = start + READER_MS;
	bool killed = false;
	char step[160];
	int status, cur;
	pid_t pid, w;

	memset(sh, 0, sizeof(*sh));
	sh->cur = -1;
	pid = fork();
	ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
	if (!pid)
		mo_reader(f, rounds, nrounds);

	while ((w = waitpid(pid, &status, WNOHANG)) == 0) {
		if (now_ms() >= end) {
			if (killed)
				break;
			kill(pid, SIGKILL);
			killed = true;
			end = now_ms() + 5000;
		}
		usleep(1000);
	}
	cur = __atomic_load_n(&sh->cur, __ATOMIC_SEQ_CST);
	if (cur >= 0)
		mo_step_name(step, sizeof(step), rounds, cur);
	else
		snprintf(step, sizeof(step), "no read (between reads)");
	ASSERT_EQ(pid, w) TH_LOG("%s: reader stuck in %s for %d s and unkillable",
				 what, step, READER_MS / 1000);
	ASSERT_FALSE(killed) TH_LOG("%s: reader stuck in %s for %d s (killed)",
				    what, step, READER_MS / 1000);
	ASSERT_FALSE(WIFSIGNALED(status))
		TH_LOG("%s: reader died of signal %d (%s) inside %s: kernel oops?",
		       what, WTERMSIG(status), strsignal(WTERMSIG(status)), step);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("%s: reader exited with status 0x%x: %s: %s", what,
		       status, sh->setup_msg, strerror(sh->setup_err));

	if (sh->setuid_err) {
		TH_LOG("%s: setuid(%d): %s (not root?): reads ran as uid %u",
		       what, NOBODY, strerror(sh->setuid_err),
		       (unsigned int)sh->euid);
	} else {
		/* ASSERT_* is more than one statement: keep the braces */
		ASSERT_TRUE(sh->uid == NOBODY && sh->euid == NOBODY &&
			    sh->gid == NOBODY)
			TH_LOG("reader uid %u euid %u gid %u",
			       (unsigned int)sh->uid, (unsigned int)sh->euid,
			       (unsigned int)sh->gid);
	}
	if (sh->open_err)
		TH_LOG("%s: uid %u cannot open %s (%s): read through the test's fd",
		       what, (unsigned int)sh->euid, f->path,
		       strerror(sh->open_err));
	ASSERT_EQ(0, sh->nbad) TH_LOG("%s: %u of %u reads bad; first: %s",
				      what, sh->nbad, nsteps, sh->msg);
	TH_LOG("%s: %u reads as uid %u in %lld ms: %u returned data (%" PRIu64 " bytes), %u returned 0, %u EINVAL, %u EAGAIN, %u short (RWF_NOWAIT), %u not reachable by lseek",
	       what, nsteps, (unsigned int)sh->euid, now_ms() - start,
	       sh->nbytes_reads, sh->bytes, sh->nzero, sh->neinval,
	       sh->neagain, sh->nshort, sh->nnotrun);
}

static void mo_stats_begin(struct __test_metadata *_metadata,
			   struct ru_stats *before)
{
	int ret = ru_stats_read(before);

	ASSERT_EQ(0, ret) TH_LOG("%s: %s", RASYNC_STATS, strerror(-ret));
}

/* The reads since mo_stats_begin() went through rasync, or did not. */
static void mo_stats_end(struct __test_metadata *_metadata,
			 const struct ru_stats *before, bool through,
			 const char *what)
{
	struct ru_stats after, d;
	char msg[256];

	ASSERT_EQ(0, ru_stats_read(&after));
	ru_stats_delta(before, &after, &d);
	ru_stats_format(&d, msg, sizeof(msg));
	TH_LOG("%s: stats delta: %s", what, msg);
	if (through) {
		EXPECT_LT(0, ru_stat(&d, "reads"))
			TH_LOG("%s: the module served none of the reads", what);
	} else {
		EXPECT_EQ(0, ru_stat(&d, "reads"))
			TH_LOG("%s: the module served %llu reads while disabled",
			       what, (unsigned long long)ru_stat(&d, "reads"));
	}
}

TEST_F_TIMEOUT(maxoff, tail_reads, 60)
{
	struct ru_stats before;
	char where[64], line[256];
	unsigned int i, ro;
	size_t len;

	if (self->module)
		mo_stats_begin(_metadata, &before);
	else
		TH_LOG("rasync not loaded and enabled: the stock path only");
	mo_pass(_metadata, &self->f, variant->rounds, variant->nrounds,
		"reads");
	if (self->module)
		mo_stats_end(_metadata, &before, true, "reads");

	/* what each read returned, round by round */
	for (i = 0; i < NR_READS; i++) {
		uint64_t off = mo_off(&mo_reads[i], self->f.max);

		mo_where(where, sizeof(where), &mo_reads[i]);
		len = snprintf(line, sizeof(line), "%-24s want %6" PRId64 ", got",
			       where, mo_expect(off, mo_reads[i].len, self->f.max));
		for (ro = 0; ro < variant->nrounds && len < sizeof(line); ro++) {
			const struct mo_res *r = &self->f.sh->r[ro * NR_READS + i];

			if (r->res == NOT_RUN)
				len += snprintf(line + len, sizeof(line) - len,
						" (lseek: %s)", strerror(r->err));
			else
				len += snprintf(line + len, sizeof(line) - len,
						" %" PRId64, r->res);
		}
		TH_LOG("%s", line);
	}
}

TEST_F_TIMEOUT(maxoff, module_matches_stock, 60)
{
	unsigned int nsteps = variant->nrounds * NR_READS, i, nowait = 0;
	struct mo_res *y = self->res_y, *n = self->f.sh->r;
	struct ru_stats before;
	char step[160];

	RU_REQUIRE_MODULE_KNOBS();
	/* served by rasync */
	RU_MODULE_SAVE_AND_SET(self->enabled_orig, true);
	mo_stats_begin(_metadata, &before);
	mo_pass(_metadata, &self->f, variant->rounds, variant->nrounds,
		"enabled=Y");
	mo_stats_end(_metadata, &before, true, "enabled=Y");
	memcpy(y, self->f.sh->r, nsteps * sizeof(*y));

	/* stock filemap_read(): the hook is unregistered */
	ASSERT_EQ(0, ru_set_module_enabled(false));
	ASSERT_EQ(0, ru_state_get("hooked"));
	mo_stats_begin(_metadata, &before);
	mo_pass(_metadata, &self->f, variant->rounds, variant->nrounds,
		"enabled=N");
	mo_stats_end(_metadata, &before, false, "enabled=N");

	ASSERT_EQ(0, ru_set_module_enabled(self->enabled_orig));
	self->enabled_orig = -1;

	for (i = 0; i < nsteps; i++) {
		const struct mo_read *rd = &mo_reads[i % NR_READS];
		int64_t want = mo_expect(mo_off(rd, self->f.max), rd->len,
					 self->f.max);

		if (y[i].res == n[i].res && y[i].hash == n[i].hash)
			continue;
		/*
		 * Whether RWF_NOWAIT finds the pages cached is timing: both
		 * results passed the checks, one is -EAGAIN or short.
		 */
		if (mo_nowait(variant->rounds[i / NR_READS].mode) &&
		    (y[i].res != want || n[i].res != want)) {
			nowait++;
			continue;
		}
		mo_step_name(step, sizeof(step), variant->rounds, i);
		ASSERT_TRUE(false)
			TH_LOG("%s: enabled=Y res %" PRId64 " hash %016" PRIx64 ", enabled=N res %" PRId64 " hash %016" PRIx64,
			       step, y[i].res, y[i].hash, n[i].res, n[i].hash);
	}
	TH_LOG("enabled=Y and enabled=N agree on %u of %u reads; the other %u are RWF_NOWAIT reads that differ only by -EAGAIN or a short count",
	       nsteps - nowait, nsteps, nowait);
}

TEST_HARNESS_MAIN
