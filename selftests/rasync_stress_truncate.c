// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: ftruncate() racing QD32 cold io_uring reads.
 *
 * Each phase starts from the whole file (FILE_SIZE bytes of the generator,
 * evicted), keeps QD32 random reads in flight and lets a second thread
 * truncate the file under them:
 *
 *  - shrink_only: SHRINKS successive shrinks to smaller, random sizes
 *    (some page aligned, most not);
 *  - shrink_then_extend: each shrink is followed, after a short random
 *    delay, by ftruncate() back up to FILE_SIZE, which re-extends the file
 *    with zeros (a hole).
 *
 * What a read may return is defined from two bounds on i_size that the
 * truncating thread publishes around every ftruncate():
 *
 *   lo  the smallest size any ftruncate() of this phase has asked for,
 *       published *before* that ftruncate() starts, so i_size >= lo at
 *       every moment, and no byte below lo has been truncated since the
 *       phase began;
 *   hi  (shrink_only) the size set by the last *finished* shrink, so the
 *       file is never bigger than hi from the moment hi is read on.
 *
 * A read of [off, off + len) submitted when hi was H and reaped when lo
 * was L is correct iff
 *
 *   - res >= 0 (truncation is no reason for an error);
 *   - res <= min(len, H - off), 0 if off >= H (shrink_only: nothing is
 *     returned past the largest size the file had while the read ran);
 *     res <= min(len, FILE_SIZE - off) for shrink_then_extend;
 *   - every byte below L is the generator's (never truncated during the
 *     read), every byte at or above L is the generator's or zero (a
 *     racing truncate zeroes the tail of the folio at the new EOF, and a
 *     truncated-and-re-extended range reads as zeros; the stock kernel
 *     allows both, reads are not atomic against truncate);
 *   - nothing is written into the buffer past res.
 *
 * Short reads are allowed (a read may see the file shrink under it) and
 * counted.  Every read is waited for with a timeout: a read that does not
 * complete within HANG_SECONDS is a hang and fails the case.
 *
 * After each phase the file is checked exactly, cold: its size is the last
 * size set, bytes below the smallest size are the generator's and, for
 * shrink_then_extend, everything from there to FILE_SIZE is zero.  Then
 * the generator's content is written back and the next phase starts.
 *
 * Bounded by TIME_BUDGET seconds per case (RASYNC_STRESS_TIME overrides)
 * and MAX_PHASES phases; prints "# <case>: <phases> iterations in <s> s".
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SIZE	(4 * 1024 * 1024 + 1234)
#define FILE_SEED	0x7472756eULL		/* "trun" */
#define QD		32
#define MAX_LEN		(64 * 1024)
#define GUARD		256
#define POISON		0xA5
#define SHRINKS		6
#define MIN_SIZE	(FILE_SIZE / 8)
#define MAX_PHASES	200
#define TIME_BUDGET	35
#define HANG_SECONDS	60
#define TEST_TIMEOUT	180

/* Shared by the reading (main) thread and the truncating thread. */
struct trunc_ctl {
	int fd;				/* O_RDWR */
	bool extend;
	uint64_t rng;
	_Atomic uint64_t lo;		/* i_size >= lo, always */
	_Atomic uint64_t hi;		/* i_size <= hi, shrink_only */
	_Atomic unsigned int submitted;	/* reads submitted this phase */
	_Atomic unsigned int ops;	/* ftruncate() calls started */
	atomic_bool abort;
	atomic_bool done;
	/* results, read after the join */
	int err;			/* errno of a failed ftruncate */
	unsigned int shrinks, extends;
	uint64_t final_size;
};

static void *truncator(void *arg)
{
	struct trunc_ctl *c = arg;
	uint64_t cur = FILE_SIZE, next, span, r;
	int i;

	/* start once the first QD reads are in flight */
	while (atomic_load(&c->submitted) < QD && !atomic_load(&c->abort))
		usleep(200);
	for (i = 0; i < SHRINKS && !atomic_load(&c->abort); i++) {
		usleep(ru_xorshift64(&c->rng) % 8000);
		r = ru_xorshift64(&c->rng);
		/* spread the shrinks over [MIN_SIZE, cur) */
		span = (cur - MIN_SIZE) / (SHRINKS - i) + 1;
		next = cur - 1 - r % span;
		if (!((r >> 32) & 3))
			next &= ~(uint64_t)(RU_PAGE - 1);
		if (next < MIN_SIZE)
			next = MIN_SIZE;
		if (next >= cur)
			continue;
		if (next < atomic_load(&c->lo))
			atomic_store(&c->lo, next);
		atomic_fetch_add(&c->ops, 1);
		if (ftruncate(c->fd, next)) {
			c->err = errno;
			break;
		}
		c->shrinks++;
		if (!c->extend) {
			atomic_store(&c->hi, next);
			cur = next;
			continue;
		}
		usleep(ru_xorshift64(&c->rng) % 4000);
		atomic_fetch_add(&c->ops, 1);
		if (ftruncate(c->fd, FILE_SIZE)) {
			c->err = errno;
			break;
		}
		c->extends++;
	}
	c->final_size = c->extend ? FILE_SIZE : cur;
	atomic_store(&c->done, true);
	return NULL;
}

struct slot {
	uint64_t off;
	uint32_t len;
	uint64_t hi;		/* hi when submitted */
	unsigned int ops;	/* truncations started before it was submitted */
};

struct phase_result {
	unsigned long reads, shorts, zero_reads, eof_reads, raced;
	unsigned int nbad;
	char msg[512];
};

FIXTURE(trunc)
{
	int fd;
	char path[PATH_MAX];
	struct ru_reader r;
	unsigned char *expect;
	struct slot slots[QD];
	struct trunc_ctl c;
	bool thread_started;
	pthread_t thread;
	struct ru_stats st0;
	bool have_stats;
};

FIXTURE_VARIANT(trunc)
{
	bool extend;
	const char *name;
	const char *tag;
};

FIXTURE_VARIANT_ADD(trunc, shrink_only)
{
	.extend = false,
	.name = "shrink_only",
	.tag = "trunc-shrink",
};

FIXTURE_VARIANT_ADD(trunc, shrink_then_extend)
{
	.extend = true,
	.name = "shrink_then_extend",
	.tag = "trunc-extend",
};

FIXTURE_SETUP(trunc)
{
	int ret;

	self->fd = -1;
	RU_REQUIRE_ASYNC_FS();

	ret = ru_reader_init(&self->r, QD, MAX_LEN + GUARD, false, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring set-up: %s", strerror(-ret));
	self->fd = ru_open_test_file_flags(variant->tag, FILE_SIZE, FILE_SEED,
					   self->path, sizeof(self->path),
					   O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("test file in %s: %s", ru_scratch_dir(),
				      strerror(-self->fd));
	self->expect = malloc(MAX_LEN);
	ASSERT_NE(NULL, self->expect);
	self->have_stats = ru_stats_read(&self->st0) == 0;
}

FIXTURE_TEARDOWN(trunc)
{
	atomic_store(&self->c.abort, true);
	if (self->thread_started)
		pthread_join(self->thread, NULL);
	if (self->fd >= 0)
		close(self->fd);
	ru_reader_exit(&self->r);
	free(self->expect);
}

/* Write the generator's bytes to [from, FILE_SIZE) and make them durable. */
static int restore_content(int fd, uint64_t from)
{
	const size_t chunk = 1 << 20;
	unsigned char *buf = malloc(chunk);
	uint64_t off = from;
	ssize_t n;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (off < FILE_SIZE) {
		size_t len = FILE_SIZE - off < chunk ? FILE_SIZE - off : chunk;

		ru_pattern_fill(buf, FILE_SEED, off, len);
		n = pwrite(fd, buf, len, off);
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		off += n;
	}
	free(buf);
	if (!ret && ftruncate(fd, FILE_SIZE))
		ret = -errno;
	if (!ret && fdatasync(fd))
		ret = -errno;
	return ret;
}

/*
 * Check one completed read: see the top of the file.  @lo is the lower
 * bound of i_size read after the completion was seen.
 */
static void check_read(FIXTURE_DATA(trunc) *self, bool extend,
		       const struct slot *s, int res, const unsigned char *buf,
		       uint64_t lo, struct phase_result *pr)
{
	uint64_t bound = extend ? FILE_SIZE : s->hi, o;
	uint32_t maxres = ru_expected_len(s->off, s->len, bound);
	uint32_t full = ru_expected_len(s->off, s->len, lo);
	bool zeros = false;
	uint32_t i;

	pr->reads++;
	if (res < 0) {
		RU_FAIL(pr, "read off %" PRIu64 " len %u: res %d (%s)", s->off,
		    s->len, res, strerror(-res));
		return;
	}
	if ((uint32_t)res > maxres) {
		RU_FAIL(pr, "read off %" PRIu64 " len %u: res %d, but the file had at most %" PRIu64 " bytes while it ran (%u allowed)",
		    s->off, s->len, res, bound, maxres);
		return;
	}
	if (!res)
		pr->eof_reads++;
	if ((uint32_t)res < full)
		pr->shorts++;
	ru_pattern_fill(self->expect, FILE_SEED, s->off, res);
	for (i = 0; i < (uint32_t)res; i++) {
		if (buf[i] == self->expect[i])
			continue;
		o = s->off + i;
		if (o >= lo && !buf[i]) {
			zeros = true;
			continue;
		}
		RU_FAIL(pr, "read off %" PRIu64 " len %u res %d: byte at file offset %" PRIu64 " is 0x%02x, want 0x%02x%s (i_size >= %" PRIu64 " throughout)",
		    s->off, s->len, res, o, buf[i], self->expect[i],
		    o >= lo ? " or 0x00" : "", lo);
		return;
	}
	if (zeros)
		pr->zero_reads++;
	for (i = res; i < s->len + GUARD; i++) {
		if (buf[i] != POISON) {
			RU_FAIL(pr, "read off %" PRIu64 " len %u res %d: buffer byte %u written past the result",
			    s->off, s->len, res, i);
			return;
		}
	}
}

/* A random read around the current end of the file. */
static void pick_read(uint64_t *rng, uint64_t hi, struct slot *s)
{
	uint64_t r = ru_xorshift64(rng);

	s->off = ru_xorshift64(rng) % (hi + 16 * 1024);
	switch (r % 8) {
	case 0 ... 2:
		s->len = 1 + (r >> 8) % (2 * RU_PAGE);
		break;
	case 3 ... 5:
		s->len = RU_PAGE * (1 + (r >> 8) % 16);
		break;
	case 6:
		s->len = 1 + (r >> 8) % MAX_LEN;
		break;
	default:
		s->off &= ~(uint64_t)(RU_PAGE - 1);
		s->len = RU_PAGE;
		break;
	}
}

/*
 * QD32 reads while the truncator runs, until it is done and every read
 * was reaped.  0, or -errno if the ring failed, -ETIME on a hang.
 */
static int race_phase(FIXTURE_DATA(trunc) *self, bool extend, uint64_t *rng,
		      struct phase_result *pr, char *err, size_t errlen)
{
	struct ru_reader *r = &self->r;
	unsigned int inflight = 0, slot;
	struct __kernel_timespec ts = { .tv_sec = HANG_SECONDS };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	unsigned char *buf;
	uint64_t hi;
	int ret;

	for (;;) {
		bool stopping = atomic_load(&self->c.done);

		hi = atomic_load(&self->c.hi);
		while (!stopping && r->nfree) {
			sqe = io_uring_get_sqe(&r->ring);
			if (!sqe)
				break;
			slot = r->free_slots[--r->nfree];
			pick_read(rng, extend ? FILE_SIZE : hi,
				  &self->slots[slot]);
			self->slots[slot].hi = hi;
			self->slots[slot].ops = atomic_load(&self->c.ops);
			buf = r->arena + (size_t)slot * r->slot_size;
			memset(buf, POISON, self->slots[slot].len + GUARD);
			io_uring_prep_read(sqe, self->fd, buf,
					   self->slots[slot].len,
					   self->slots[slot].off);
			io_uring_sqe_set_data64(sqe, slot);
			inflight++;
		}
		ret = io_uring_submit(&r->ring);
		if (ret < 0) {
			snprintf(err, errlen, "io_uring_submit: %s",
				 strerror(-ret));
			return ret;
		}
		atomic_store(&self->c.submitted,
			     atomic_load(&self->c.submitted) + ret);
		if (!inflight) {
			if (stopping)
				return 0;
			continue;
		}
		do {
			ret = io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts);
		} while (ret == -EINTR);
		if (ret == -ETIME) {
			snprintf(err, errlen,
				 "hang: no read completed in %d s with %u in flight",
				 HANG_SECONDS, inflight);
			return ret;
		}
		if (ret < 0) {
			snprintf(err, errlen, "io_uring_wait_cqe: %s",
				 strerror(-ret));
			return ret;
		}
		while (!io_uring_peek_cqe(&r->ring, &cqe)) {
			uint64_t lo;

			slot = io_uring_cqe_get_data64(cqe);
			ret = cqe->res;
			io_uring_cqe_seen(&r->ring, cqe);
			if (slot >= QD) {
				snprintf(err, errlen, "bad user_data %u", slot);
				return -EPROTO;
			}
			lo = atomic_load(&self->c.lo);
			if (atomic_load(&self->c.ops) != self->slots[slot].ops)
				pr->raced++;
			check_read(self, extend, &self->slots[slot], ret,
				   r->arena + (size_t)slot * r->slot_size, lo,
				   pr);
			r->free_slots[r->nfree++] = slot;
			inflight--;
		}
	}
}

/*
 * The file after a phase, read cold: size @size, generator below @floor,
 * zeros from @floor to @size (shrink_then_extend) or generator up to @size.
 */
static int verify_file(FIXTURE_DATA(trunc) *self, uint64_t size,
		       uint64_t floor, char *msg, size_t msglen)
{
	struct ru_reader *r = &self->r;
	struct __kernel_timespec ts = { .tv_sec = HANG_SECONDS };
	unsigned int inflight = 0, slot, i;
	uint64_t next = 0, o;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	unsigned char *buf;
	struct stat st;
	long pages;
	int ret, res;

	if (fstat(self->fd, &st))
		return -errno;
	if ((uint64_t)st.st_size != size) {
		snprintf(msg, msglen, "size %lld after the phase, want %" PRIu64,
			 (long long)st.st_size, size);
		return -EPROTO;
	}
	pages = ru_drop_pages(self->fd, FILE_SIZE, 1);
	if (pages < 0)
		return pages;
	while (next < size + RU_PAGE || inflight) {
		while (next < size + RU_PAGE && r->nfree) {
			sqe = io_uring_get_sqe(&r->ring);
			if (!sqe)
				break;
			slot = r->free_slots[--r->nfree];
			self->slots[slot].off = next;
			self->slots[slot].len = MAX_LEN;
			buf = r->arena + (size_t)slot * r->slot_size;
			memset(buf, POISON, MAX_LEN + GUARD);
			io_uring_prep_read(sqe, self->fd, buf, MAX_LEN, next);
			io_uring_sqe_set_data64(sqe, slot);
			next += MAX_LEN;
			inflight++;
		}
		ret = io_uring_submit(&r->ring);
		if (ret < 0)
			return ret;
		do {
			ret = io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts);
		} while (ret == -EINTR);
		if (ret == -ETIME)
			snprintf(msg, msglen, "hang: no verification read completed in %d s",
				 HANG_SECONDS);
		if (ret < 0)
			return ret;
		while (!io_uring_peek_cqe(&r->ring, &cqe)) {
			struct slot *s;

			slot = io_uring_cqe_get_data64(cqe);
			res = cqe->res;
			io_uring_cqe_seen(&r->ring, cqe);
			s = &self->slots[slot];
			buf = r->arena + (size_t)slot * r->slot_size;
			r->free_slots[r->nfree++] = slot;
			inflight--;
			if (res != (int)ru_expected_len(s->off, s->len, size)) {
				snprintf(msg, msglen, "verification read off %" PRIu64 ": res %d, want %u",
					 s->off, res,
					 ru_expected_len(s->off, s->len, size));
				return -EPROTO;
			}
			ru_pattern_fill(self->expect, FILE_SEED, s->off, res);
			for (i = 0; i < (unsigned int)res; i++) {
				o = s->off + i;
				if (buf[i] == (o < floor ? self->expect[i] : 0))
					continue;
				snprintf(msg, msglen, "after the phase: byte at %" PRIu64 " is 0x%02x, want 0x%02x (size %" PRIu64 ", smallest size %" PRIu64 ")",
					 o, buf[i],
					 o < floor ? self->expect[i] : 0, size,
					 floor);
				return -EPROTO;
			}
		}
	}
	return 0;
}

TEST_F_TIMEOUT(trunc, racing_reads_return_valid_bytes, TEST_TIMEOUT)
{
	double t0 = ru_now_s(), budget = ru_time_budget(TIME_BUDGET);
	unsigned long reads = 0, shorts = 0, zero_reads = 0, eof_reads = 0;
	unsigned long raced = 0;
	unsigned int phase, shrinks = 0, extends = 0;
	uint64_t rng = ru_seed() * 0x9E3779B97F4A7C15ULL + variant->extend + 1;
	struct phase_result pr;
	char err[512];
	uint64_t floor;
	long pages;
	int ret;

	for (phase = 0; phase < MAX_PHASES && ru_now_s() - t0 < budget; phase++) {
		pages = ru_drop_pages(self->fd, FILE_SIZE, 1);
		ASSERT_LE(0, pages) TH_LOG("evicting: %s", strerror(-pages));

		memset(&self->c, 0, sizeof(self->c));
		self->c.fd = self->fd;
		self->c.extend = variant->extend;
		self->c.rng = ru_xorshift64(&rng) | 1;
		atomic_store(&self->c.lo, FILE_SIZE);
		atomic_store(&self->c.hi, FILE_SIZE);
		ASSERT_EQ(0, pthread_create(&self->thread, NULL, truncator,
					    &self->c));
		self->thread_started = true;

		memset(&pr, 0, sizeof(pr));
		err[0] = 0;
		ret = race_phase(self, variant->extend, &rng, &pr, err,
				 sizeof(err));
		atomic_store(&self->c.abort, true);
		if (ret == -ETIME) {
			/* a stuck read: do not wait for it in teardown */
			TH_LOG("phase %u: %s (seed 0x%llx)", phase, err,
			       (unsigned long long)ru_seed());
			self->thread_started = false;
			pthread_detach(self->thread);
			ASSERT_EQ(0, ret);
		}
		pthread_join(self->thread, NULL);
		self->thread_started = false;
		ASSERT_EQ(0, ret) TH_LOG("phase %u: %s", phase, err);
		ASSERT_EQ(0, self->c.err) TH_LOG("phase %u: ftruncate: %s",
						 phase, strerror(self->c.err));
		ASSERT_EQ(0, pr.nbad)
			TH_LOG("phase %u: %u of %lu reads bad (seed 0x%llx); first: %s",
			       phase, pr.nbad, pr.reads,
			       (unsigned long long)ru_seed(), pr.msg);
		reads += pr.reads;
		shorts += pr.shorts;
		zero_reads += pr.zero_reads;
		eof_reads += pr.eof_reads;
		raced += pr.raced;
		shrinks += self->c.shrinks;
		extends += self->c.extends;

		floor = atomic_load(&self->c.lo);
		err[0] = 0;
		ret = verify_file(self, self->c.final_size, floor, err,
				  sizeof(err));
		ASSERT_EQ(0, ret) TH_LOG("phase %u: checking the file: %s: %s",
					 phase, strerror(-ret), err);
		ret = restore_content(self->fd, floor);
		ASSERT_EQ(0, ret) TH_LOG("restoring the file: %s",
					 strerror(-ret));
	}
	fprintf(stderr, "# trunc.%s.%s: %u iterations in %.1f s (iterations = phases; %lu reads, %lu of them in flight across an ftruncate; %u shrinks, %u re-extensions; %lu short, %lu at EOF, %lu returned zeros of a truncated range)\n",
		variant->name, _metadata->name, phase,
		ru_now_s() - t0, reads, raced, shrinks, extends, shorts,
		eof_reads, zero_reads);
	ASSERT_LT(0, phase);
	RU_LOG_STATS_SINCE(self->have_stats, &self->st0,
			   ru_module_enabled() == 1);
}

TEST_HARNESS_MAIN
