/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The checks every rasync selftest makes the same way, as kselftest
 * harness statements (SKIP, ASSERT, TH_LOG): include after
 * kselftest_harness.h and rasync_util.h, use inside FIXTURE_SETUP or a
 * TEST.  rasync_util.h stays free of the harness.
 */
#ifndef RASYNC_HARNESS_H
#define RASYNC_HARNESS_H

#include <string.h>

/*
 * SKIP unless the scratch directory is on a file system that opts into
 * async buffered reads, its magic left in *@magic; fail if it cannot be
 * examined.
 */
#define RU_REQUIRE_ASYNC_FS_MAGIC(magic) do {				\
	int __ret = ru_scratch_fs_ok(magic);				\
									\
	if (__ret == -EOPNOTSUPP)					\
		SKIP(return, "%s is on fs magic 0x%lx, which has no async buffered reads (use ext4, xfs, btrfs or f2fs)", \
		     ru_scratch_dir(), *(magic));			\
	ASSERT_EQ(0, __ret) TH_LOG("%s: %s", ru_scratch_dir(),	\
				   strerror(-__ret));			\
} while (0)

#define RU_REQUIRE_ASYNC_FS() do {					\
	unsigned long __magic;						\
									\
	RU_REQUIRE_ASYNC_FS_MAGIC(&__magic);				\
} while (0)

/* SKIP unless the module is loaded and its parameters may be written. */
#define RU_REQUIRE_MODULE_KNOBS() do {					\
	if (ru_host_dryrun())						\
		SKIP(return, "RASYNC_HOST_DRYRUN=1: module parameters are not written on the host"); \
	if (!ru_module_loaded())					\
		SKIP(return, "rasync module not loaded");		\
} while (0)

/*
 * Keep `enabled` in @saved (for the teardown to restore), then set it to
 * @on; with Y the hook must be registered.
 */
#define RU_MODULE_SAVE_AND_SET(saved, on) do {				\
	(saved) = ru_module_enabled();					\
	ASSERT_LE(0, (saved)) TH_LOG("reading %s: %s",			\
				     RASYNC_PARAM_ENABLED,		\
				     strerror(-(saved)));		\
	ASSERT_EQ(0, ru_set_module_enabled(on));			\
	ASSERT_EQ(!!(on), ru_state_get("hooked"));			\
} while (0)

/*
 * Log what rasync counted since @st0 (read when the case began, if
 * @have); if @served (the module was enabled) it must have served some
 * read.
 */
#define RU_LOG_STATS_SINCE(have, st0, served) do {				\
	struct ru_stats __now, __d;					\
	char __buf[1024];						\
									\
	if ((have) && ru_stats_read(&__now) == 0) {			\
		ru_stats_delta((st0), &__now, &__d);			\
		ru_stats_format(&__d, __buf, sizeof(__buf));		\
		TH_LOG("stats delta: %s", __buf);			\
		if (served)						\
			EXPECT_LT(0, ru_stat(&__d, "reads"))		\
				TH_LOG("rasync served no reads: is the hook off?"); \
	}								\
} while (0)

/*
 * Evict the test file @fd (@path, @size bytes), read it cold through the
 * io_uring reader @r with @o and the requests @q[@n], and fail the case
 * unless every read returned the bytes of @seed; @res gets the result.
 */
#define RU_COLD_READ(r, fd, path, o, q, n, seed, size, what, res) do {	\
	long __pages = ru_evict((fd), (size));				\
	int __ret;							\
									\
	ASSERT_EQ(0, __pages)						\
		TH_LOG("evicting %s: %ld pages still cached (or -errno)", \
		       (path), __pages);				\
	__ret = ru_run((r), (fd), (o), (q), (n), (seed), (size), (res)); \
	ASSERT_LE(0, __ret)						\
		TH_LOG("%s: io_uring: %s", (what), strerror(-__ret));	\
	ASSERT_EQ(0, __ret)						\
		TH_LOG("%s: %u of %u reads bad (seed 0x%llx); first: %s", \
		       (what), (res)->nbad, (n),			\
		       (unsigned long long)ru_seed(), (res)->msg);	\
} while (0)

#endif /* RASYNC_HARNESS_H */
