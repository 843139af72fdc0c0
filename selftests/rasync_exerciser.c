// SPDX-License-Identifier: GPL-2.0
/*
 * Exerciser: a random sequence of operations on one file, every byte of
 * every read checked against an in-memory model of the file.
 *
 * The model is the file's content (a MAX_FILE-byte array, zeros past the
 * size) and its size.  It starts as the generator's content
 * (ru_pattern_fill) and one thread applies the operations in order, each
 * to the file and then to the model, so between operations the model is
 * exactly the file:
 *
 *  - uring: a batch of 1..QD IORING_OP_READs of random ranges (up to
 *    MAX_LEN bytes; unaligned offsets, lengths and buffers; some across
 *    EOF, past it or of zero length), a quarter of them RWF_NOWAIT,
 *    submitted together and all reaped before the next operation;
 *  - preadv: one such read with 1-3 iovecs of a random split, a quarter
 *    of them preadv2(RWF_NOWAIT);
 *  - write: pwrite() of random bytes, some past EOF (leaving a hole);
 *  - trunc_up, trunc_down: ftruncate() to a larger size (zeros) or a
 *    smaller one;
 *  - punch: fallocate(PUNCH_HOLE | KEEP_SIZE), zeros (left out, said once,
 *    if the file system answers EOPNOTSUPP);
 *  - fadvise: POSIX_FADV_DONTNEED of a range or of the whole file (after
 *    fdatasync() for some), or ru_evict(); the model does not change;
 *  - toggle: rasync's enabled parameter flipped (rasync loaded and not
 *    RASYNC_HOST_DRYRUN); the model does not change;
 *  - race: a batch of reads as for uring (the file evicted first, for
 *    half of them, so reads wait for I/O) and, from the same thread right
 *    after io_uring_submit() and before reaping, one of: ftruncate() down;
 *    ftruncate() down then up; a hole punch; DONTNEED of the whole file;
 *    an enabled toggle.  The reads that missed the cache are in flight
 *    (waiting for their folios, or queued for a retry) across it.
 *
 * What a read of [off, off + len) may return.  E(s) is min(len, s - off),
 * 0 if off >= s: all of the read that lies below a size s.
 *
 *  - Not racing (uring, preadv, and the race batches around DONTNEED or a
 *    toggle, which do not change the content): res == E(size), and the
 *    res bytes equal the model's.
 *  - Racing ftruncate() from S0 down to S1 (and, for some, back up to
 *    S2 >= S1): the file is never smaller than S1 nor larger than
 *    H = max(S0, S2) while the read runs, and a read is short only at
 *    EOF, so E(S1) <= res <= E(H).  Bytes below S1 equal the old model
 *    exactly (nothing below S1 changes).  Bytes at or above S1 equal the
 *    old model or are zero: the read may have copied a folio before the
 *    truncation, or after it zeroed the tail of the folio at the new EOF
 *    (the stock kernel does not make reads atomic against truncate, and
 *    the zeroing may even be seen half done), or read the re-extended
 *    hole.  Never anything else: the old model is zero past S0, so bytes
 *    in [S0, S2) must be zero.
 *  - Racing a punch of [p, p + pl): the size does not change, so
 *    res == E(size); bytes in [p, p + pl) equal the old model or are
 *    zero, every other byte equals the old model.
 *  - RWF_NOWAIT (io_uring and preadv2), racing or not: -EAGAIN, or a
 *    prefix of what the rules above allow: at least 1 byte if the lower
 *    bound is not 0 (a read that copied nothing says -EAGAIN, not EOF),
 *    at most the upper bound, the bytes checked the same way.
 *  - Always: any other error fails, and nothing may be written into the
 *    buffer outside [buf, buf + res): the bytes before a misaligned
 *    buffer and GUARD bytes after len are poisoned and checked.
 *
 * After a race batch is reaped the model takes the operation's result,
 * and every later read is exact again.  After every operation fstat()
 * must agree with the model's size; at the end the whole file is read
 * back cold (ru_evict) and must equal the model.
 *
 * The first failure (a read outside these rules, a failing syscall, a
 * read not completed within HANG_SECONDS) ends the case and prints the
 * seed (RASYNC_SEED; the same seed replays the same sequence of
 * operations on the same set-up: module loaded or not, punch supported
 * or not), the last NR_LAST operations with their results and every read
 * of the batch that failed.
 *
 * Two cases with different mixes of operations: mixed (mostly reads, some
 * of everything) and races (mostly race batches and evictions).  Each is
 * bounded by TIME_BUDGET seconds (RASYNC_STRESS_TIME overrides; the
 * harness timeout follows it, but raise RASYNC_TIMEOUT for the runner
 * too); prints "# <case>: <operations> iterations in <s> s", the count of
 * every kind of operation, the bytes checked and, with rasync loaded, its
 * stats delta.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define MAX_FILE	(4 * 1024 * 1024)	/* page aligned */
#define INIT_SIZE	(1024 * 1024 + 4321)
#define FILE_SEED	0x65786572ULL		/* "exer" */
#define QD		32
#define MAX_LEN		(256 * 1024)
#define MAX_WRITE	(128 * 1024)
#define MAX_GROW	(512 * 1024)
#define MAX_MISALIGN	64
#define GUARD		256
#define POISON		0xA5
#define SLOT_SIZE	(MAX_MISALIGN + MAX_LEN + GUARD)
#define RES_PENDING	INT_MIN
#define NR_LAST		32
#define LINE_LEN	240
#define TIME_BUDGET	4
#define TIMEOUT_SLACK	120
#define HANG_SECONDS	60

/*
 * The harness timeout of a case: its budget and some slack (evaluated
 * when the case registers, before main), so RASYNC_STRESS_TIME can ask
 * for long runs.
 */
static int case_timeout(void)
{
	double b = ru_time_budget(TIME_BUDGET);

	return (b > 0 && b < INT_MAX / 2 ? (int)b : 0) + TIMEOUT_SLACK;
}

enum ex_op {
	EX_URING,
	EX_PREADV,
	EX_WRITE,
	EX_TRUNC_UP,
	EX_TRUNC_DOWN,
	EX_PUNCH,
	EX_FADVISE,
	EX_TOGGLE,
	EX_RACE,
	EX_NR
};

static const char *const ex_op_names[EX_NR] = {
	[EX_URING] = "uring",
	[EX_PREADV] = "preadv",
	[EX_WRITE] = "write",
	[EX_TRUNC_UP] = "trunc_up",
	[EX_TRUNC_DOWN] = "trunc_down",
	[EX_PUNCH] = "punch",
	[EX_FADVISE] = "fadvise",
	[EX_TOGGLE] = "toggle",
	[EX_RACE] = "race",
};

/* what a race batch does while its reads are in flight */
enum ex_race {
	RACE_TRUNC,		/* ftruncate down */
	RACE_TRUNC_EXTEND,	/* ftruncate down, then up */
	RACE_PUNCH,
	RACE_EVICT,		/* POSIX_FADV_DONTNEED, whole file */
	RACE_TOGGLE,		/* enabled flipped */
	RACE_NR
};

static const char *const ex_race_names[RACE_NR] = {
	[RACE_TRUNC] = "trunc",
	[RACE_TRUNC_EXTEND] = "trunc+extend",
	[RACE_PUNCH] = "punch",
	[RACE_EVICT] = "evict",
	[RACE_TOGGLE] = "toggle",
};

static const unsigned int race_weight[RACE_NR] = {
	[RACE_TRUNC] = 3,
	[RACE_TRUNC_EXTEND] = 2,
	[RACE_PUNCH] = 2,
	[RACE_EVICT] = 2,
	[RACE_TOGGLE] = 1,
};

struct xread {
	uint64_t off;
	uint32_t len;
	uint32_t pad;		/* the buffer starts pad bytes into its slot */
	bool nowait;
	int res;		/* bytes, -errno, or RES_PENDING */
};

/* What reads may return: see the top of the file. */
struct rule {
	uint64_t lo, hi;	/* the file's size stays in [lo, hi] */
	uint64_t z0, z1;	/* bytes in [z0, z1) may also read as zero */
};

/* The state of a case. */
struct exer {
	int fd;
	char path[PATH_MAX];
	struct ru_reader r;	/* the ring and QD buffers of SLOT_SIZE */
	bool ring_stuck;	/* a read never completed: leave the ring */
	unsigned char *model;	/* MAX_FILE bytes: the file, zeros past size */
	uint64_t size;
	unsigned char *wbuf;	/* data of a write */
	uint64_t rng;
	bool punch_ok;
	bool toggles;		/* flip enabled */
	int enabled0;		/* enabled at set-up, -1 if unknown */
	bool enabled;		/* as last written */
	bool have_stats;
	struct ru_stats st0;
	/* the current batch */
	struct xread batch[QD];
	unsigned int nbatch;
	bool batch_live;	/* the current operation is a batch */
	/* counts */
	unsigned long nops;
	unsigned long count[EX_NR];
	unsigned long race_count[RACE_NR];
	unsigned long reads, nowait_reads, eagain, nowait_short;
	unsigned long raced_short, raced_zero;
	uint64_t bytes;
	uint64_t size_sum;	/* of the size after every operation */
	/* the last operations, for the failure report */
	char last[NR_LAST][LINE_LEN];
	unsigned long nlast;
	char msg[1024];		/* the failure */
};

FIXTURE(exerciser)
{
	struct exer ex;
};

FIXTURE_VARIANT(exerciser)
{
	const char *name;
	const char *tag;
	unsigned int weight[EX_NR];
};

FIXTURE_VARIANT_ADD(exerciser, mixed)
{
	.name = "mixed",
	.tag = "exer-mixed",
	.weight = {
		[EX_URING] = 30,
		[EX_PREADV] = 10,
		[EX_WRITE] = 12,
		[EX_TRUNC_UP] = 5,
		[EX_TRUNC_DOWN] = 5,
		[EX_PUNCH] = 5,
		[EX_FADVISE] = 12,
		[EX_TOGGLE] = 3,
		[EX_RACE] = 12,
	},
};

FIXTURE_VARIANT_ADD(exerciser, races)
{
	.name = "races",
	.tag = "exer-races",
	.weight = {
		[EX_URING] = 12,
		[EX_PREADV] = 4,
		[EX_WRITE] = 10,
		[EX_TRUNC_UP] = 6,
		[EX_TRUNC_DOWN] = 2,
		[EX_PUNCH] = 4,
		[EX_FADVISE] = 16,
		[EX_TOGGLE] = 4,
		[EX_RACE] = 40,
	},
};

FIXTURE_SETUP(exerciser)
{
	struct exer *ex = &self->ex;
	unsigned long magic;
	int ret;

	ex->fd = -1;
	ex->enabled0 = -1;
	RU_REQUIRE_ASYNC_FS_MAGIC(&magic);

	ret = ru_reader_init(&ex->r, QD, SLOT_SIZE, false, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring set-up: %s", strerror(-ret));
	ex->fd = ru_open_test_file_flags(variant->tag, INIT_SIZE, FILE_SEED,
					 ex->path, sizeof(ex->path), O_RDWR);
	ASSERT_LE(0, ex->fd) TH_LOG("test file in %s: %s", ru_scratch_dir(),
				    strerror(-ex->fd));
	ex->model = calloc(1, MAX_FILE);
	ex->wbuf = malloc(MAX_WRITE);
	ASSERT_NE(NULL, ex->model);
	ASSERT_NE(NULL, ex->wbuf);
	ru_pattern_fill(ex->model, FILE_SEED, 0, INIT_SIZE);
	ex->size = INIT_SIZE;
	ex->rng = (ru_seed() + 1) * 0x9E3779B97F4A7C15ULL +
		  variant->weight[EX_RACE];
	if (!ex->rng)
		ex->rng = 1;
	ex->punch_ok = true;

	if (ru_module_loaded()) {
		ex->enabled0 = ru_module_enabled();
		ex->enabled = ex->enabled0 == 1;
		ex->toggles = !ru_host_dryrun() && ex->enabled0 >= 0;
		ex->have_stats = ru_stats_read(&ex->st0) == 0;
	}
	TH_LOG("seed 0x%llx; %s on %s (fs magic 0x%lx); file %s of at most %u bytes; enabled toggles %s",
	       (unsigned long long)ru_seed(), ru_scratch_dir(), ru_fs_name(magic),
	       magic, ex->path, MAX_FILE,
	       ex->toggles ? "on" :
	       ru_host_dryrun() ? "off (RASYNC_HOST_DRYRUN=1)" :
	       "off (rasync not loaded)");
}

FIXTURE_TEARDOWN(exerciser)
{
	struct exer *ex = &self->ex;

	/* later tests expect enabled as it was */
	if (ex->toggles && ex->enabled0 >= 0 &&
	    ru_module_enabled() != ex->enabled0)
		ru_set_module_enabled(ex->enabled0);
	if (ex->fd >= 0)
		close(ex->fd);
	if (!ex->ring_stuck)
		ru_reader_exit(&ex->r);
	free(ex->model);
	free(ex->wbuf);
}

/* --- bookkeeping ------------------------------------------------------- */

/* Describe the failure; -1. */
static __printf(2, 3) int fail(struct exer *ex, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ex->msg, sizeof(ex->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* One line in the ring of the last operations. */
static __printf(2, 3) void note(struct exer *ex, const char *fmt, ...)
{
	char *line = ex->last[ex->nlast++ % NR_LAST];
	va_list ap;
	int n;

	n = snprintf(line, LINE_LEN, "#%lu ", ex->nops);
	va_start(ap, fmt);
	vsnprintf(line + n, LINE_LEN - n, fmt, ap);
	va_end(ap);
}

static __printf(3, 4) void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/* "off+len" with n for RWF_NOWAIT and /pad for a misaligned buffer */
static void format_read(char *buf, size_t len, const struct xread *rd)
{
	append(buf, len, " %" PRIu64 "+%u%s", rd->off, rd->len,
	       rd->nowait ? "n" : "");
	if (rd->pad)
		append(buf, len, "/%u", rd->pad);
	if (rd->res == RES_PENDING)
		append(buf, len, "=?");
	else
		append(buf, len, "=%d", rd->res);
}

/* The batch as one line (cut at LINE_LEN: the report lists every read). */
static void note_batch(struct exer *ex, const char *label)
{
	char line[LINE_LEN];
	unsigned int i;

	snprintf(line, sizeof(line), "%s x%u:", label, ex->nbatch);
	for (i = 0; i < ex->nbatch; i++)
		format_read(line, sizeof(line), &ex->batch[i]);
	note(ex, "%s", line);
}

static void report(struct __test_metadata *_metadata, struct exer *ex)
{
	unsigned long i, first;
	char line[96];

	TH_LOG("FAILED at operation %lu with seed 0x%llx (RASYNC_SEED=0x%llx replays the sequence): %s",
	       ex->nops, (unsigned long long)ru_seed(),
	       (unsigned long long)ru_seed(), ex->msg);
	first = ex->nlast > NR_LAST ? ex->nlast - NR_LAST : 0;
	TH_LOG("the model's size is %" PRIu64 "; the last %lu operations, oldest first (reads: off+len, n = RWF_NOWAIT, /pad = misaligned buffer, =res):",
	       ex->size, ex->nlast - first);
	for (i = first; i < ex->nlast; i++)
		TH_LOG("  %s", ex->last[i % NR_LAST]);
	if (!ex->batch_live)
		return;
	TH_LOG("the reads of the failing batch:");
	for (i = 0; i < ex->nbatch; i++) {
		line[0] = 0;
		format_read(line, sizeof(line), &ex->batch[i]);
		TH_LOG("  [%lu]%s", i, line);
	}
}

/* --- checking a read --------------------------------------------------- */

static struct rule exact(uint64_t size)
{
	struct rule ru = { .lo = size, .hi = size };

	return ru;
}

/*
 * Check @rd, read into @slot + rd->pad, by @ru against the model (which
 * still holds the content from before any racing operation).  0 or -1.
 */
static int check_read(struct exer *ex, const char *what, unsigned int idx,
		      const struct xread *rd, const unsigned char *slot,
		      const struct rule *ru)
{
	uint32_t lo = ru_expected_len(rd->off, rd->len, ru->lo);
	uint32_t hi = ru_expected_len(rd->off, rd->len, ru->hi);
	uint32_t min = rd->nowait ? (lo ? 1 : 0) : lo, got, i;
	const unsigned char *buf = slot + rd->pad, *m;
	bool zeros = false;
	uint64_t o;

	ex->reads++;
	ex->nowait_reads += rd->nowait;
	if (rd->res < 0 && !(rd->nowait && rd->res == -EAGAIN))
		return fail(ex, "%s read %u off %" PRIu64 " len %u%s: res %d (%s), want %u..%u",
			    what, idx, rd->off, rd->len,
			    rd->nowait ? " RWF_NOWAIT" : "", rd->res,
			    rd->res == RES_PENDING ? "not completed" :
			    strerror(-rd->res), min, hi);
	if (rd->res >= 0 && ((uint32_t)rd->res < min || (uint32_t)rd->res > hi))
		return fail(ex, "%s read %u off %" PRIu64 " len %u%s: res %d, want %u..%u (the file's size was in [%" PRIu64 ", %" PRIu64 "] throughout)",
			    what, idx, rd->off, rd->len,
			    rd->nowait ? " RWF_NOWAIT" : "", rd->res, min, hi,
			    ru->lo, ru->hi);
	got = rd->res < 0 ? 0 : rd->res;
	if (rd->res < 0)
		ex->eagain++;
	else if (got < lo)
		ex->nowait_short++;
	else if (got < hi)
		ex->raced_short++;
	/* got <= hi, so off + got <= ru->hi <= MAX_FILE */
	m = got ? ex->model + rd->off : NULL;
	if (got && memcmp(buf, m, got)) {
		for (i = 0; i < got; i++) {
			if (buf[i] == m[i])
				continue;
			o = rd->off + i;
			if (!buf[i] && o >= ru->z0 && o < ru->z1) {
				zeros = true;
				continue;
			}
			return fail(ex, "%s read %u off %" PRIu64 " len %u%s res %d: byte at file offset %" PRIu64 " is 0x%02x, the model has 0x%02x%s",
				    what, idx, rd->off, rd->len,
				    rd->nowait ? " RWF_NOWAIT" : "", rd->res, o,
				    buf[i], m[i],
				    o >= ru->z0 && o < ru->z1 ?
				    " (or 0x00: racing range)" : "");
		}
	}
	ex->raced_zero += zeros;
	ex->bytes += got;
	for (i = 0; i < rd->pad; i++) {
		if (slot[i] != POISON)
			return fail(ex, "%s read %u off %" PRIu64 " len %u res %d: buffer byte %d written (before the buffer)",
				    what, idx, rd->off, rd->len, rd->res,
				    (int)i - (int)rd->pad);
	}
	for (i = got; i < rd->len + GUARD; i++) {
		if (buf[i] != POISON)
			return fail(ex, "%s read %u off %" PRIu64 " len %u res %d: buffer byte %u written past the result",
				    what, idx, rd->off, rd->len, rd->res, i);
	}
	return 0;
}

/* --- picking ----------------------------------------------------------- */

/* A random read, some of them around @hint (EOF, or a racing boundary). */
static void pick_read(struct exer *ex, struct xread *rd, bool may_nowait,
		      uint64_t hint)
{
	uint64_t r = ru_xorshift64(&ex->rng), o = ru_xorshift64(&ex->rng), base, back;
	uint64_t size = ex->size;

	switch (r % 16) {
	case 0 ... 5:		/* small, unaligned */
		rd->len = 1 + (r >> 8) % (2 * RU_PAGE);
		break;
	case 6 ... 9:		/* page multiples */
		rd->len = RU_PAGE * (1 + (r >> 8) % 16);
		break;
	case 10 ... 12:		/* anything up to the largest */
		rd->len = 1 + (r >> 8) % MAX_LEN;
		break;
	case 13:		/* the largest, or nearly */
		rd->len = MAX_LEN - (r >> 8) % 64;
		break;
	case 14:		/* zero length */
		rd->len = 0;
		break;
	default:		/* 4K */
		rd->len = RU_PAGE;
		break;
	}
	switch (o % 32) {
	case 0 ... 15:		/* anywhere in the file */
		rd->off = (o >> 8) % (size + 1);
		break;
	case 16 ... 22:		/* across EOF, or across @hint */
		base = (o >> 5) & 1 ? hint : size;
		back = (o >> 8) % (rd->len + RU_PAGE);
		rd->off = base > back ? base - back : 0;
		break;
	case 23 ... 25:		/* at or past EOF */
		rd->off = size + (o >> 8) % (4 * RU_PAGE);
		break;
	case 26:		/* far past EOF */
		rd->off = 1ULL << 40;
		break;
	default:		/* page aligned */
		rd->off = ((o >> 8) % (size + 1)) & ~(uint64_t)(RU_PAGE - 1);
		break;
	}
	r = ru_xorshift64(&ex->rng);
	rd->pad = r % 4 ? 0 : 1 + (r >> 8) % (MAX_MISALIGN - 1);
	rd->nowait = may_nowait && !((r >> 16) % 4);
	rd->res = RES_PENDING;
}

/* Mostly shallow batches, some up to QD. */
static unsigned int pick_depth(struct exer *ex)
{
	uint64_t r = ru_xorshift64(&ex->rng);

	return r & 1 ? 1 + (r >> 1) % 8 : 1 + (r >> 1) % QD;
}

/* A smaller size: mostly down to at least half, sometimes tiny. */
static uint64_t pick_smaller(struct exer *ex)
{
	uint64_t r = ru_xorshift64(&ex->rng), size = ex->size, s;

	if (!size)
		return 0;
	if (!(r % 16))
		s = (r >> 8) % (size < 2 * RU_PAGE ? size : 2 * RU_PAGE);
	else
		s = size - 1 - (r >> 8) % (size / 2 + 1);
	if (!((r >> 4) % 4))
		s &= ~(uint64_t)(RU_PAGE - 1);
	return s;
}

/*
 * A size in (@from, MAX_FILE] (@from if that is MAX_FILE): mostly at most
 * MAX_GROW more, sometimes anything up to MAX_FILE.
 */
static uint64_t pick_larger(struct exer *ex, uint64_t from)
{
	uint64_t r = ru_xorshift64(&ex->rng), room = MAX_FILE - from, s;

	if (!room)
		return from;
	if (!((r >> 2) % 4) || room < MAX_GROW)
		s = from + 1 + (r >> 8) % room;
	else
		s = from + 1 + (r >> 8) % MAX_GROW;
	if (!((r >> 4) % 4)) {
		s = (s + RU_PAGE - 1) & ~(uint64_t)(RU_PAGE - 1);
		if (s > MAX_FILE)
			s = MAX_FILE;
	}
	return s;
}

static void pick_punch(struct exer *ex, uint64_t *off, uint64_t *len)
{
	uint64_t r = ru_xorshift64(&ex->rng), l = ru_xorshift64(&ex->rng);

	if (!(r % 16)) {	/* the whole file */
		*off = 0;
		*len = ex->size ? ex->size : RU_PAGE;
		return;
	}
	*off = (r >> 8) % (ex->size + 1);
	if (!((r >> 4) % 4))
		*off &= ~(uint64_t)(RU_PAGE - 1);
	*len = l % 4 ? 1 + (l >> 8) % MAX_LEN : RU_PAGE * (1 + (l >> 8) % 64);
}

static void fill_random(struct exer *ex, unsigned char *p, size_t len)
{
	uint64_t w;

	for (; len >= 8; p += 8, len -= 8) {
		w = ru_xorshift64(&ex->rng);
		memcpy(p, &w, 8);
	}
	if (len) {
		w = ru_xorshift64(&ex->rng);
		memcpy(p, &w, len);
	}
}

/* --- applying to the model --------------------------------------------- */

static void model_resize(struct exer *ex, uint64_t size)
{
	/* past the size the model is zero: a shrink clears what it cut */
	if (size < ex->size)
		memset(ex->model + size, 0, ex->size - size);
	ex->size = size;
}

static void model_punch(struct exer *ex, uint64_t off, uint64_t len)
{
	uint64_t end = off + len < ex->size ? off + len : ex->size;

	if (off < end)
		memset(ex->model + off, 0, end - off);
}

/* --- syscalls ---------------------------------------------------------- */

static int xftruncate(int fd, uint64_t size)
{
	int ret;

	do {
		ret = ftruncate(fd, size) ? -errno : 0;
	} while (ret == -EINTR);
	return ret;
}

static int xpunch(int fd, uint64_t off, uint64_t len)
{
	int ret;

	do {
		ret = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				off, len) ? -errno : 0;
	} while (ret == -EINTR);
	return ret;
}

/* fdatasync and drop the whole file from the page cache; 0 or -errno. */
static int make_cold(int fd)
{
	if (fdatasync(fd))
		return -errno;
	return -posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static unsigned char *slot_of(struct exer *ex, unsigned int i)
{
	return ex->r.arena + (size_t)i * SLOT_SIZE;
}

/* Submit the batch: every read, at once.  0 or -1. */
static int submit_batch(struct exer *ex)
{
	struct xread *rd;
	struct io_uring_sqe *sqe;
	unsigned char *slot;
	unsigned int i;
	int ret;

	ex->batch_live = true;
	for (i = 0; i < ex->nbatch; i++) {
		rd = &ex->batch[i];
		sqe = io_uring_get_sqe(&ex->r.ring);
		if (!sqe)
			return fail(ex, "no free SQE for read %u of %u", i,
				    ex->nbatch);
		slot = slot_of(ex, i);
		memset(slot, POISON, rd->pad + rd->len + GUARD);
		io_uring_prep_read(sqe, ex->fd, slot + rd->pad, rd->len,
				   rd->off);
		sqe->rw_flags = rd->nowait ? RWF_NOWAIT : 0;
		io_uring_sqe_set_data64(sqe, i);
	}
	ret = io_uring_submit(&ex->r.ring);
	if (ret != (int)ex->nbatch)
		return fail(ex, "io_uring_submit of %u reads: %d%s%s",
			    ex->nbatch, ret, ret < 0 ? " " : "",
			    ret < 0 ? strerror(-ret) : "");
	return 0;
}

/* Reap every read of the batch.  0 or -1. */
static int reap_batch(struct exer *ex)
{
	struct __kernel_timespec ts = { .tv_sec = HANG_SECONDS };
	unsigned int done = 0, i;
	struct io_uring_cqe *cqe;
	int ret;

	while (done < ex->nbatch) {
		do {
			ret = io_uring_wait_cqe_timeout(&ex->r.ring, &cqe, &ts);
		} while (ret == -EINTR);
		if (ret == -ETIME) {
			ex->ring_stuck = true;
			return fail(ex, "hang: %u of %u reads not completed in %d s",
				    ex->nbatch - done, ex->nbatch,
				    HANG_SECONDS);
		}
		if (ret < 0)
			return fail(ex, "io_uring_wait_cqe: %s", strerror(-ret));
		while (!io_uring_peek_cqe(&ex->r.ring, &cqe)) {
			i = io_uring_cqe_get_data64(cqe);
			if (i >= ex->nbatch || ex->batch[i].res != RES_PENDING)
				return fail(ex, "completion with bad user_data %u",
					    i);
			ex->batch[i].res = cqe->res;
			io_uring_cqe_seen(&ex->r.ring, cqe);
			done++;
		}
	}
	return 0;
}

static int check_batch(struct exer *ex, const char *what,
		       const struct rule *ru)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ex->nbatch; i++) {
		ret = check_read(ex, what, i, &ex->batch[i], slot_of(ex, i), ru);
		if (ret)
			return ret;
	}
	return 0;
}

/* --- the operations ---------------------------------------------------- */

static int op_uring(struct exer *ex)
{
	struct rule ru = exact(ex->size);
	unsigned int i;
	int ret;

	ex->nbatch = pick_depth(ex);
	for (i = 0; i < ex->nbatch; i++)
		pick_read(ex, &ex->batch[i], true, ex->size);
	ret = submit_batch(ex);
	if (!ret)
		ret = reap_batch(ex);
	note_batch(ex, "uring");
	return ret ? ret : check_batch(ex, "uring", &ru);
}

static int op_preadv(struct exer *ex)
{
	struct rule ru = exact(ex->size);
	unsigned char *slot = slot_of(ex, 0), *buf;
	uint64_t r = ru_xorshift64(&ex->rng);
	unsigned int niov = 1 + r % 3;
	uint32_t a, b, t;
	struct iovec iov[3];
	struct xread rd;
	ssize_t n;

	pick_read(ex, &rd, true, ex->size);
	buf = slot + rd.pad;
	/* cut [0, len) at a <= b: 1, 2 or 3 pieces, some maybe empty */
	a = (r >> 8) % (rd.len + 1);
	b = (r >> 32) % (rd.len + 1);
	if (a > b) {
		t = a;
		a = b;
		b = t;
	}
	if (niov == 1)
		a = b = rd.len;
	else if (niov == 2)
		b = rd.len;
	iov[0].iov_base = buf;
	iov[0].iov_len = a;
	iov[1].iov_base = buf + a;
	iov[1].iov_len = b - a;
	iov[2].iov_base = buf + b;
	iov[2].iov_len = rd.len - b;
	memset(slot, POISON, rd.pad + rd.len + GUARD);
	if (rd.nowait)
		n = preadv2(ex->fd, iov, niov, rd.off, RWF_NOWAIT);
	else
		n = preadv(ex->fd, iov, niov, rd.off);
	rd.res = n < 0 ? -errno : n;
	note(ex, "preadv%s %" PRIu64 "+%u/%u iov %u:%u:%u = %d",
	     rd.nowait ? "2 RWF_NOWAIT" : "", rd.off, rd.len, rd.pad,
	     a, niov > 1 ? b - a : 0, niov > 2 ? rd.len - b : 0, rd.res);
	return check_read(ex, "preadv", 0, &rd, slot, &ru);
}

static int op_write(struct exer *ex)
{
	uint64_t r = ru_xorshift64(&ex->rng), l = ru_xorshift64(&ex->rng), off;
	uint64_t size = ex->size;
	uint32_t len;
	ssize_t n;
	int err;

	switch (r % 8) {
	case 0 ... 3:		/* anywhere */
		off = (r >> 8) % (size + 1);
		break;
	case 4:			/* append */
		off = size;
		break;
	case 5:			/* past EOF: a hole before it */
		off = size + (r >> 8) % (16 * RU_PAGE);
		break;
	default:		/* page aligned */
		off = ((r >> 8) % (size + 1)) & ~(uint64_t)(RU_PAGE - 1);
		break;
	}
	if (off >= MAX_FILE)
		off = (r >> 8) % (MAX_FILE / 2);
	len = l % 4 ? 1 + (l >> 8) % MAX_WRITE :
		      RU_PAGE * (1 + (l >> 8) % (MAX_WRITE / RU_PAGE));
	if (off + len > MAX_FILE)
		len = MAX_FILE - off;
	fill_random(ex, ex->wbuf, len);
	n = pwrite(ex->fd, ex->wbuf, len, off);
	err = errno;
	note(ex, "pwrite %" PRIu64 "+%u = %zd", off, len, n < 0 ? -err : n);
	if (n != (ssize_t)len)
		return fail(ex, "pwrite off %" PRIu64 " len %u: %zd%s%s", off,
			    len, n, n < 0 ? " " : "", n < 0 ? strerror(err) : "");
	memcpy(ex->model + off, ex->wbuf, len);
	if (off + len > ex->size)
		ex->size = off + len;
	return 0;
}

static int op_truncate(struct exer *ex, bool up)
{
	uint64_t size = up ? pick_larger(ex, ex->size) : pick_smaller(ex);
	int ret = xftruncate(ex->fd, size);

	note(ex, "ftruncate %" PRIu64 " -> %" PRIu64 " = %d", ex->size,
	     size, ret);
	if (ret)
		return fail(ex, "ftruncate %" PRIu64 " -> %" PRIu64 ": %s",
			    ex->size, size, strerror(-ret));
	model_resize(ex, size);
	return 0;
}

static int op_punch(struct __test_metadata *_metadata, struct exer *ex)
{
	uint64_t off, len;
	int ret;

	pick_punch(ex, &off, &len);
	ret = xpunch(ex->fd, off, len);
	note(ex, "punch %" PRIu64 "+%" PRIu64 " = %d", off, len, ret);
	if (ret == -EOPNOTSUPP) {
		ex->punch_ok = false;
		TH_LOG("fallocate(PUNCH_HOLE | KEEP_SIZE) on %s: %s; no more hole punches",
		       ru_scratch_dir(), strerror(-ret));
		return 0;
	}
	if (ret)
		return fail(ex, "punch %" PRIu64 "+%" PRIu64 ": %s", off, len,
			    strerror(-ret));
	model_punch(ex, off, len);
	return 0;
}

static int op_fadvise(struct exer *ex)
{
	uint64_t r = ru_xorshift64(&ex->rng), off, len;
	long pages;
	int ret;

	switch (r % 16) {
	case 0:			/* fdatasync, DONTNEED, drop_caches */
		pages = ru_evict(ex->fd, ex->size);
		note(ex, "ru_evict = %ld", pages);
		if (pages < 0)
			return fail(ex, "ru_evict: %s", strerror(-pages));
		return 0;
	case 1 ... 4:
		ret = make_cold(ex->fd);
		note(ex, "fdatasync + DONTNEED whole = %d", ret);
		break;
	default:		/* a range; len 0 is "to EOF" */
		off = (r >> 8) % (ex->size + 1);
		len = (r >> 4) % 4 ? ru_xorshift64(&ex->rng) % (4 * MAX_LEN) : 0;
		ret = -posix_fadvise(ex->fd, off, len, POSIX_FADV_DONTNEED);
		note(ex, "DONTNEED %" PRIu64 "+%" PRIu64 " = %d", off, len,
		     ret);
		break;
	}
	return ret ? fail(ex, "posix_fadvise(DONTNEED): %s", strerror(-ret)) : 0;
}

static int toggle(struct exer *ex)
{
	int ret = ru_set_module_enabled(!ex->enabled);

	if (!ret)
		ex->enabled = !ex->enabled;
	return ret;
}

static int op_toggle(struct exer *ex)
{
	int ret = toggle(ex);

	note(ex, "enabled=%c = %d", ex->enabled ? 'Y' : 'N', ret);
	return ret ? fail(ex, "writing enabled: %s", strerror(-ret)) : 0;
}

static enum ex_race pick_race(struct exer *ex)
{
	unsigned int w[RACE_NR], total = 0, i;
	uint64_t r;

	for (i = 0; i < RACE_NR; i++) {
		w[i] = race_weight[i];
		if ((i == RACE_PUNCH && !ex->punch_ok) ||
		    (i == RACE_TOGGLE && !ex->toggles))
			w[i] = 0;
		total += w[i];
	}
	r = ru_xorshift64(&ex->rng) % total;
	for (i = 0; r >= w[i]; i++)
		r -= w[i];
	return i;
}

/*
 * A batch of reads with a size change, a punch, an eviction or a toggle
 * while they are in flight; see the top of the file for the rules.
 */
static int op_race(struct __test_metadata *_metadata, struct exer *ex)
{
	uint64_t s0 = ex->size, s1 = s0, s2 = s0, p = 0, pl = 0, hint = s0;
	enum ex_race k = pick_race(ex);
	bool cold = ru_xorshift64(&ex->rng) & 1;
	struct rule ru = exact(s0);
	char label[128];
	unsigned int i;
	int ret, err = 0;

	switch (k) {
	case RACE_TRUNC:
		s1 = s2 = hint = pick_smaller(ex);
		break;
	case RACE_TRUNC_EXTEND:
		s1 = hint = pick_smaller(ex);
		s2 = ru_xorshift64(&ex->rng) & 1 ? s0 : pick_larger(ex, s1);
		break;
	case RACE_PUNCH:
		pick_punch(ex, &p, &pl);
		hint = ru_xorshift64(&ex->rng) & 1 ? p : p + pl;
		break;
	default:
		break;
	}
	ex->nbatch = pick_depth(ex);
	for (i = 0; i < ex->nbatch; i++)
		pick_read(ex, &ex->batch[i], true, hint);
	if (cold) {
		ret = make_cold(ex->fd);
		if (ret)
			return fail(ex, "race: evicting first: %s",
				    strerror(-ret));
	}

	ret = submit_batch(ex);
	/* the reads that missed the cache are in flight now */
	switch (k) {
	case RACE_TRUNC:
		err = xftruncate(ex->fd, s1);
		snprintf(label, sizeof(label), "race%s ftruncate %" PRIu64 " -> %" PRIu64 " = %d,",
			 cold ? " cold" : "", s0, s1, err);
		break;
	case RACE_TRUNC_EXTEND:
		err = xftruncate(ex->fd, s1);
		if (!err)
			err = xftruncate(ex->fd, s2);
		snprintf(label, sizeof(label), "race%s ftruncate %" PRIu64 " -> %" PRIu64 " -> %" PRIu64 " = %d,",
			 cold ? " cold" : "", s0, s1, s2, err);
		break;
	case RACE_PUNCH:
		err = xpunch(ex->fd, p, pl);
		snprintf(label, sizeof(label), "race%s punch %" PRIu64 "+%" PRIu64 " = %d,",
			 cold ? " cold" : "", p, pl, err);
		if (err == -EOPNOTSUPP) {
			/* nothing changed: the reads are exact */
			ex->punch_ok = false;
			TH_LOG("fallocate(PUNCH_HOLE | KEEP_SIZE) on %s: %s; no more hole punches",
			       ru_scratch_dir(), strerror(-err));
			err = 0;
			pl = 0;
		}
		break;
	case RACE_EVICT:
		err = -posix_fadvise(ex->fd, 0, 0, POSIX_FADV_DONTNEED);
		snprintf(label, sizeof(label), "race%s DONTNEED whole = %d,",
			 cold ? " cold" : "", err);
		break;
	default:
		err = toggle(ex);
		snprintf(label, sizeof(label), "race%s enabled=%c = %d,",
			 cold ? " cold" : "", ex->enabled ? 'Y' : 'N', err);
		break;
	}
	/* reap even if the operation failed: leave nothing in flight */
	if (!ret)
		ret = reap_batch(ex);
	note_batch(ex, label);
	if (ret)
		return ret;
	if (err)
		return fail(ex, "%s: %s", label, strerror(-err));

	switch (k) {
	case RACE_TRUNC:
	case RACE_TRUNC_EXTEND:
		ru.lo = s1;
		ru.hi = s0 > s2 ? s0 : s2;
		ru.z0 = s1;
		ru.z1 = UINT64_MAX;
		break;
	case RACE_PUNCH:
		ru.z0 = p;
		ru.z1 = p + pl;
		break;
	default:
		break;
	}
	ret = check_batch(ex, label, &ru);
	if (ret)
		return ret;

	/* the file is what the operation made it; so is the model, now */
	if (k == RACE_TRUNC || k == RACE_TRUNC_EXTEND) {
		model_resize(ex, s1);
		model_resize(ex, s2);
	} else if (k == RACE_PUNCH) {
		model_punch(ex, p, pl);
	}
	ex->race_count[k]++;
	return 0;
}

static enum ex_op pick_op(struct exer *ex, const unsigned int *weight)
{
	unsigned int w[EX_NR], total = 0, i;
	uint64_t r;

	for (i = 0; i < EX_NR; i++) {
		w[i] = weight[i];
		if ((i == EX_PUNCH && !ex->punch_ok) ||
		    (i == EX_TOGGLE && !ex->toggles))
			w[i] = 0;
		total += w[i];
	}
	r = ru_xorshift64(&ex->rng) % total;
	for (i = 0; r >= w[i]; i++)
		r -= w[i];
	return i;
}

static int run_op(struct __test_metadata *_metadata, struct exer *ex,
		  enum ex_op op)
{
	ex->count[op]++;
	switch (op) {
	case EX_URING:
		return op_uring(ex);
	case EX_PREADV:
		return op_preadv(ex);
	case EX_WRITE:
		return op_write(ex);
	case EX_TRUNC_UP:
		return op_truncate(ex, true);
	case EX_TRUNC_DOWN:
		return op_truncate(ex, false);
	case EX_PUNCH:
		return op_punch(_metadata, ex);
	case EX_FADVISE:
		return op_fadvise(ex);
	case EX_TOGGLE:
		return op_toggle(ex);
	default:
		return op_race(_metadata, ex);
	}
}

static int check_size(struct exer *ex)
{
	struct stat st;

	if (fstat(ex->fd, &st))
		return fail(ex, "fstat: %s", strerror(errno));
	if ((uint64_t)st.st_size != ex->size)
		return fail(ex, "fstat says size %lld, the model has %" PRIu64,
			    (long long)st.st_size, ex->size);
	return 0;
}

/* The whole file, read back cold in batches of QD MAX_LEN reads. */
static int verify_file(struct exer *ex)
{
	struct rule ru = exact(ex->size);
	uint64_t off = 0;
	unsigned int i;
	long pages;
	int ret;

	pages = ru_evict(ex->fd, ex->size);
	note(ex, "final: ru_evict = %ld", pages);
	if (pages < 0)
		return fail(ex, "ru_evict: %s", strerror(-pages));
	while (off < ex->size + MAX_LEN) {
		for (i = 0; i < QD && off < ex->size + MAX_LEN; i++) {
			ex->batch[i] = (struct xread){
				.off = off,
				.len = MAX_LEN,
				.res = RES_PENDING,
			};
			off += MAX_LEN;
		}
		ex->nbatch = i;
		ret = submit_batch(ex);
		if (!ret)
			ret = reap_batch(ex);
		note_batch(ex, "final");
		if (!ret)
			ret = check_batch(ex, "final", &ru);
		if (ret)
			return ret;
	}
	return 0;
}

TEST_F_TIMEOUT(exerciser, random_ops, case_timeout())
{
	struct exer *ex = &self->ex;
	double t0 = ru_now_s(), budget = ru_time_budget(TIME_BUDGET), dt;
	char sbuf[512];
	enum ex_op op;
	unsigned int i;
	int ret = 0;

	while (!ret && ru_now_s() - t0 < budget) {
		op = pick_op(ex, variant->weight);
		ex->nops++;
		ex->batch_live = false;
		ret = run_op(_metadata, ex, op);
		if (!ret)
			ret = check_size(ex);
		ex->size_sum += ex->size;
	}
	if (!ret) {
		ex->nops++;
		ex->batch_live = false;
		ret = check_size(ex);
		if (!ret)
			ret = verify_file(ex);
	}
	dt = ru_now_s() - t0;
	if (ret)
		report(_metadata, ex);
	ASSERT_EQ(0, ret) TH_LOG("stopped at the first mismatch or error, after %" PRIu64 " bytes checked (seed 0x%llx)",
				 ex->bytes, (unsigned long long)ru_seed());

	fprintf(stderr, "# exerciser.%s.%s: %lu iterations in %.1f s (iterations = operations, seed 0x%llx)\n",
		variant->name, _metadata->name, ex->nops, dt,
		(unsigned long long)ru_seed());
	sbuf[0] = 0;
	for (i = 0; i < EX_NR; i++)
		append(sbuf, sizeof(sbuf), "%s%s=%lu", i ? " " : "",
		       ex_op_names[i], ex->count[i]);
	TH_LOG("operations: %s", sbuf);
	sbuf[0] = 0;
	for (i = 0; i < RACE_NR; i++)
		append(sbuf, sizeof(sbuf), "%s%s=%lu", i ? " " : "",
		       ex_race_names[i], ex->race_count[i]);
	TH_LOG("race batches: %s; %lu reads short across a size change, %lu with zeros in a racing range",
	       sbuf, ex->raced_short, ex->raced_zero);
	TH_LOG("file size: mean %" PRIu64 ", final %" PRIu64,
	       ex->nops > 1 ? ex->size_sum / (ex->nops - 1) : ex->size,
	       ex->size);
	TH_LOG("%lu reads (%lu RWF_NOWAIT: %lu -EAGAIN, %lu short), %" PRIu64 " bytes checked, 0 mismatches",
	       ex->reads, ex->nowait_reads, ex->eagain,
	       ex->nowait_short, ex->bytes);

	if (ex->toggles && ex->enabled0 >= 0 &&
	    ex->enabled != (ex->enabled0 == 1))
		EXPECT_EQ(0, toggle(ex));
	RU_LOG_STATS_SINCE(ex->have_stats, &ex->st0, ex->enabled0 == 1);
}

TEST_HARNESS_MAIN
