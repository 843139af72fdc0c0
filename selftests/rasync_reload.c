// SPDX-License-Identifier: GPL-2.0
/*
 * Unloading and reloading rasync loses no data.
 *
 *  - data_identical_across_unload_and_reload: cold reads with rasync,
 *    after rmmod (stock filemap_read) and after insmod again return the
 *    same bytes, all matching the generator;
 *  - unload_with_reads_in_flight: rmmod while QD32 cold reads wait for
 *    their pages; io_uring owns the queued waits, so the retries take the
 *    stock path and every read still completes with the right bytes
 *    (repeated a few times to hit different points of the unload).
 *
 * The module is loaded again at the end of every case (teardown), since
 * later tests need it.  Never run on the host (RASYNC_HOST_DRYRUN=1).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SIZE	(2 * 1024 * 1024 + 777)
#define FILE_SEED	0x72656c6fULL		/* "relo" */
#define MAX_LEN		(192 * 1024)
#define NR_RANDOM	100
#define MAX_REQS	1024
#define QD		32
#define INFLIGHT_ROUNDS	3

FIXTURE(reload)
{
	int fd;
	char path[PATH_MAX];
	struct ru_reader r;
	struct ru_req *reqs[3];
	unsigned int n;
	int unload_ret;
};

FIXTURE_SETUP(reload)
{
	int i, ret;

	self->fd = -1;
	if (ru_host_dryrun())
		SKIP(return, "RASYNC_HOST_DRYRUN=1: modules are never (un)loaded on the host");
	if (access(ru_module_path(), R_OK))
		SKIP(return, "module file %s: %s (set RASYNC_KO)",
		     ru_module_path(), strerror(errno));
	ret = ru_module_ensure_loaded();
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", ru_module_path(),
				 strerror(-ret));

	ret = ru_reader_init(&self->r, QD, MAX_LEN, false, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring set-up: %s", strerror(-ret));
	self->fd = ru_open_test_file("reload", FILE_SIZE, FILE_SEED,
				     self->path, sizeof(self->path));
	ASSERT_LE(0, self->fd) TH_LOG("test file in %s: %s",
				      ru_scratch_dir(), strerror(-self->fd));
	for (i = 0; i < 3; i++) {
		self->reqs[i] = calloc(MAX_REQS, sizeof(struct ru_req));
		ASSERT_NE(NULL, self->reqs[i]);
	}
	self->n = ru_gen_mixed(self->reqs[0], MAX_REQS, FILE_SIZE, MAX_LEN,
			       ru_seed(), NR_RANDOM);
	for (i = 1; i < 3; i++)
		memcpy(self->reqs[i], self->reqs[0],
		       self->n * sizeof(struct ru_req));
}

FIXTURE_TEARDOWN(reload)
{
	int i, ret;

	/* later tests need the module: put it back whatever happened */
	if (!ru_host_dryrun() && !ru_module_loaded()) {
		ret = ru_module_ensure_loaded();
		if (ret)
			TH_LOG("reloading %s: %s", ru_module_path(),
			       strerror(-ret));
	}
	if (self->fd >= 0)
		close(self->fd);
	ru_reader_exit(&self->r);
	for (i = 0; i < 3; i++)
		free(self->reqs[i]);
}

static void cold_read(struct __test_metadata *_metadata,
		      FIXTURE_DATA(reload) *self, struct ru_req *q,
		      unsigned int n, const char *what)
{
	struct ru_opts o = { .op = RU_READ };
	struct ru_result res;

	RU_COLD_READ(&self->r, self->fd, self->path, &o, q, n, FILE_SEED,
		     FILE_SIZE, what, &res);
}

TEST_F_TIMEOUT(reload, data_identical_across_unload_and_reload, 180)
{
	char msg[256];
	int ret;

	ASSERT_EQ(1, ru_state_get("hooked"));
	cold_read(_metadata, self, self->reqs[0], self->n, "loaded");

	ret = ru_module_unload();
	ASSERT_EQ(0, ret) TH_LOG("rmmod rasync: %s", strerror(-ret));
	ASSERT_FALSE(ru_module_loaded());
	cold_read(_metadata, self, self->reqs[1], self->n, "unloaded");

	ret = ru_module_load(ru_module_path(), "");
	ASSERT_EQ(0, ret) TH_LOG("insmod %s: %s", ru_module_path(),
				 strerror(-ret));
	ASSERT_EQ(1, ru_state_get("hooked"));
	cold_read(_metadata, self, self->reqs[2], self->n, "reloaded");

	ASSERT_EQ(-1, ru_compare(self->reqs[0], self->reqs[1], self->n, msg,
				 sizeof(msg)))
		TH_LOG("loaded vs unloaded: %s", msg);
	ASSERT_EQ(-1, ru_compare(self->reqs[0], self->reqs[2], self->n, msg,
				 sizeof(msg)))
		TH_LOG("loaded vs reloaded: %s", msg);
}

static void unload_now(void *arg)
{
	FIXTURE_DATA(reload) *self = arg;

	self->unload_ret = ru_module_unload();
}

TEST_F_TIMEOUT(reload, unload_with_reads_in_flight, 180)
{
	struct ru_opts o = {
		.op = RU_READ,
		.after_submit = unload_now,
		.arg = self,
	};
	struct ru_req *q = self->reqs[0];
	struct ru_result res;
	unsigned int n, round;
	long pages;
	int ret;

	for (round = 0; round < INFLIGHT_ROUNDS; round++) {
		ASSERT_EQ(0, ru_module_ensure_loaded());
		ASSERT_EQ(1, ru_state_get("hooked"));
		n = ru_gen_blocks(q, MAX_REQS, FILE_SIZE, ru_seed() + round);
		pages = ru_evict(self->fd, FILE_SIZE);
		ASSERT_EQ(0, pages);

		/* the first QD reads are submitted, then rmmod, then reaped */
		self->unload_ret = 1;
		ret = ru_run(&self->r, self->fd, &o, q, n, FILE_SEED,
			     FILE_SIZE, &res);
		ASSERT_EQ(0, self->unload_ret)
			TH_LOG("round %u: rmmod with reads in flight: %s",
			       round, strerror(-self->unload_ret));
		ASSERT_FALSE(ru_module_loaded());
		ASSERT_LE(0, ret) TH_LOG("round %u: io_uring: %s", round,
					 strerror(-ret));
		ASSERT_EQ(0, ret)
			TH_LOG("round %u: %u of %u reads bad (seed 0x%llx); first: %s",
			       round, res.nbad, n,
			       (unsigned long long)ru_seed() + round, res.msg);
	}
}

TEST_HARNESS_MAIN
