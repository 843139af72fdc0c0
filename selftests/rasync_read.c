// SPDX-License-Identifier: GPL-2.0
/*
 * Buffered io_uring reads return the bytes the file was written with.
 *
 * Every variant reads the same request list (zero length, unaligned,
 * crossing pages, multi-page, at and past EOF, a sequential sweep and
 * random requests) from a file whose content is a function of the offset,
 * with one io_uring op, queue depth and cache state, and checks:
 *
 *  - matches_generator: each result has the expected length and bytes,
 *    and nothing is written past the result into the buffer;
 *  - matches_pread: the same reads with pread() give the same results;
 *  - module_matches_stock_path: the same reads with rasync enabled and
 *    with enabled=N (hook unregistered, stock filemap_read) are identical,
 *    and the module's read counter moves only while it is enabled.
 *
 * Without the module loaded the first two still test the stock path.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SIZE	(3 * 1024 * 1024 + 1234)	/* EOF mid-page */
#define FILE_SEED	0x72656164ULL			/* "read" */
#define MAX_LEN		(192 * 1024)
#define NR_RANDOM	200
#define MAX_REQS	512

FIXTURE(rd)
{
	int fd;
	char path[PATH_MAX];
	struct ru_reader r;
	struct ru_req *reqs;
	struct ru_req *ref;
	unsigned int n;
	int enabled_orig;	/* module param to restore, or -1 */
	struct ru_pin pin;	/* hot variants: the file, mlocked */
};

FIXTURE_VARIANT(rd)
{
	enum ru_op op;
	unsigned int qd;
	bool cold;
	unsigned int ring_flags;
};

#define RD_VARIANT(name, _op, _qd, _cold, _flags)			\
	FIXTURE_VARIANT_ADD(rd, name)					\
	{								\
		.op = _op, .qd = _qd, .cold = _cold, .ring_flags = _flags, \
	}

RD_VARIANT(read_qd1_cold, RU_READ, 1, true, 0);
RD_VARIANT(read_qd1_hot, RU_READ, 1, false, 0);
RD_VARIANT(read_qd32_cold, RU_READ, 32, true, 0);
RD_VARIANT(read_qd32_hot, RU_READ, 32, false, 0);
RD_VARIANT(readv_qd1_cold, RU_READV, 1, true, 0);
RD_VARIANT(readv_qd1_hot, RU_READV, 1, false, 0);
RD_VARIANT(readv_qd32_cold, RU_READV, 32, true, 0);
RD_VARIANT(readv_qd32_hot, RU_READV, 32, false, 0);
RD_VARIANT(read_fixed_qd1_cold, RU_READ_FIXED, 1, true, 0);
RD_VARIANT(read_fixed_qd1_hot, RU_READ_FIXED, 1, false, 0);
RD_VARIANT(read_fixed_qd32_cold, RU_READ_FIXED, 32, true, 0);
RD_VARIANT(read_fixed_qd32_hot, RU_READ_FIXED, 32, false, 0);
/* fio's ring set-up: retries run as local task_work when the task reaps */
RD_VARIANT(read_qd32_cold_defer_taskrun, RU_READ, 32, true,
	   IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
RD_VARIANT(readv_qd32_cold_defer_taskrun, RU_READV, 32, true,
	   IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);

FIXTURE_SETUP(rd)
{
	int ret;

	self->fd = -1;
	self->enabled_orig = -1;
	ret = ru_reader_init(&self->r, variant->qd, MAX_LEN,
			     variant->op == RU_READ_FIXED, variant->ring_flags);
	if (ret == -EINVAL && variant->ring_flags)
		SKIP(return, "io_uring_setup(DEFER_TASKRUN): %s", strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("io_uring set-up: %s", strerror(-ret));

	self->fd = ru_open_test_file("read", FILE_SIZE, FILE_SEED, self->path,
				     sizeof(self->path));
	ASSERT_LE(0, self->fd) TH_LOG("test file in %s: %s",
				      ru_scratch_dir(), strerror(-self->fd));

	self->reqs = calloc(MAX_REQS, sizeof(*self->reqs));
	self->ref = calloc(MAX_REQS, sizeof(*self->ref));
	ASSERT_NE(NULL, self->reqs);
	ASSERT_NE(NULL, self->ref);
	self->n = ru_gen_mixed(self->reqs, MAX_REQS, FILE_SIZE, MAX_LEN,
			       ru_seed(), NR_RANDOM);
}

FIXTURE_TEARDOWN(rd)
{
	if (self->enabled_orig >= 0)
		ru_set_module_enabled(self->enabled_orig);
	ru_reader_fixture_exit(&self->pin, self->fd, &self->r, self->reqs, self->ref);
}

/* Put the file in the cache state the variant asks for, and prove it. */
static void prepare_cache(struct __test_metadata *_metadata,
			  FIXTURE_DATA(rd) *self,
			  const FIXTURE_VARIANT(rd) *variant)
{
	long npages = (FILE_SIZE + RU_PAGE - 1) / RU_PAGE, res;

	ru_unpin(&self->pin);
	if (variant->cold) {
		res = ru_evict(self->fd, FILE_SIZE);
		ASSERT_EQ(0, res) TH_LOG("evicting %s: %ld pages still cached (or -errno)",
					 self->path, res);
	} else {
		res = ru_pin(self->fd, 0, FILE_SIZE, FILE_SIZE, &self->pin);
		ASSERT_EQ(npages, res) TH_LOG("mlocking %s: %ld of %ld pages cached (or -errno)",
					      self->path, res, npages);
	}
}

static void run_checked(struct __test_metadata *_metadata,
			FIXTURE_DATA(rd) *self,
			const FIXTURE_VARIANT(rd) *variant, enum ru_op op,
			struct ru_req *reqs, const char *what)
{
	struct ru_opts o = { .op = op };
	struct ru_result res;
	int ret;

	prepare_cache(_metadata, self, variant);
	ret = ru_run(&self->r, self->fd, &o, reqs, self->n, FILE_SEED,
		     FILE_SIZE, &res);
	ASSERT_LE(0, ret) TH_LOG("%s: io_uring: %s", what, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %u of %u requests bad (seed 0x%llx); first: %s",
				 what, res.nbad, self->n,
				 (unsigned long long)ru_seed(), res.msg);
}

TEST_F_TIMEOUT(rd, matches_generator, 120)
{
	run_checked(_metadata, self, variant, variant->op, self->reqs,
		    ru_op_name(variant->op));
}

TEST_F_TIMEOUT(rd, matches_pread, 120)
{
	char msg[256];

	run_checked(_metadata, self, variant, variant->op, self->reqs,
		    ru_op_name(variant->op));
	memcpy(self->ref, self->reqs, self->n * sizeof(*self->reqs));
	run_checked(_metadata, self, variant, RU_PREAD, self->ref, "pread");
	ASSERT_EQ(-1, ru_compare(self->reqs, self->ref, self->n, msg,
				 sizeof(msg)))
		TH_LOG("%s vs pread: %s", ru_op_name(variant->op), msg);
}

TEST_F_TIMEOUT(rd, module_matches_stock_path, 120)
{
	struct ru_stats before, after, d;
	char msg[256];
	int ret;

	RU_REQUIRE_MODULE_KNOBS();
	/* served by rasync */
	RU_MODULE_SAVE_AND_SET(self->enabled_orig, true);
	ret = ru_stats_read(&before);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", RASYNC_STATS, strerror(-ret));
	run_checked(_metadata, self, variant, variant->op, self->reqs,
		    "enabled=Y");
	ASSERT_EQ(0, ru_stats_read(&after));
	ru_stats_delta(&before, &after, &d);
	ru_stats_format(&d, msg, sizeof(msg));
	TH_LOG("enabled=Y stats delta: %s", msg);
	EXPECT_LT(0, ru_stat(&d, "reads")) TH_LOG("the module served no reads while enabled");

	/* stock filemap_read(): the hook is unregistered */
	ASSERT_EQ(0, ru_set_module_enabled(false));
	ASSERT_EQ(0, ru_state_get("hooked"));
	memcpy(self->ref, self->reqs, self->n * sizeof(*self->reqs));
	ASSERT_EQ(0, ru_stats_read(&before));
	run_checked(_metadata, self, variant, variant->op, self->ref,
		    "enabled=N");
	ASSERT_EQ(0, ru_stats_read(&after));
	ru_stats_delta(&before, &after, &d);
	EXPECT_EQ(0, ru_stat(&d, "reads")) TH_LOG("the module served %llu reads while disabled",
					    (unsigned long long)ru_stat(&d, "reads"));

	ASSERT_EQ(0, ru_set_module_enabled(self->enabled_orig));
	self->enabled_orig = -1;

	ASSERT_EQ(-1, ru_compare(self->reqs, self->ref, self->n, msg,
				 sizeof(msg)))
		TH_LOG("enabled=Y vs enabled=N: %s", msg);
}

TEST_HARNESS_MAIN
