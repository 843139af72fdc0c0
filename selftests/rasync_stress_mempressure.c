// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: QD32 io_uring reads under memory pressure.
 *
 * A helper process (the "hog") mlock()s most of RAM: MemAvailable minus
 * LEAVE_MB (RASYNC_STRESS_LEAVE_MB overrides), in chunks, with
 * oom_score_adj 1000 so that it, not a reader, is the OOM killer's first
 * choice.  Then READERS reader processes (one io_uring each, QD32 random
 * reads of 4 KiB..256 KiB, checked byte by byte) read a file larger than
 * the memory that is left, so the page cache is reclaimed all the time:
 * folios are dropped between a read's -EIOCBQUEUED and its retry,
 * readahead is cut short, and allocations of new folios enter direct
 * reclaim from the reading task.
 *
 * Every read must return exactly min(len, size - off) bytes of the
 * generator, nothing written past them; a read not completed within
 * HANG_SECONDS fails the case.  A reader killed (by the OOM killer or
 * otherwise) fails the case; if the OOM killer takes the hog instead, the
 * case still ends normally and says so (the pressure then ended early).
 * /proc/vmstat shows how much was reclaimed (pgsteal_*, or, without
 * CONFIG_VM_EVENT_COUNTERS, workingset_refault_file: file pages read
 * again after reclaim dropped them); some reclaim is required (otherwise
 * there was no pressure and the case proved nothing).  OOM kills are
 * found in the kernel log ("Killed process <pid>").
 *
 * Bounded by TIME_BUDGET seconds of reading (RASYNC_STRESS_TIME
 * overrides); prints "# <case>: <reads> iterations in <s> s".  Never runs
 * on a development host (RASYNC_HOST_DRYRUN=1): it would lock the host's
 * memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SEED	0x6d656d70ULL		/* "memp" */
#define MIN_FILE_MB	256
#define LEAVE_MB	200
#define HOG_CHUNK	(32UL << 20)
#define QD		32
#define READERS		3
#define MAX_LEN		(256 * 1024)
#define MAX_READS	10000000
#define TIME_BUDGET	30
#define HANG_SECONDS	60
#define HOG_SECONDS	180
#define TEST_TIMEOUT	290

/* --- /proc ---------------------------------------------------------------- */

/* A "Key: N kB" line of /proc/meminfo, in bytes; -errno if missing. */
static long long meminfo(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long long v = -ENOENT;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtoll(line + kl + 1, NULL, 10) * 1024;
			break;
		}
	}
	fclose(f);
	return v;
}

enum { VM_PGSTEAL_KSWAPD, VM_PGSTEAL_DIRECT, VM_REFAULT_FILE, VM_NR };

static const char *const vm_keys[VM_NR] = {
	"pgsteal_kswapd", "pgsteal_direct", "workingset_refault_file",
};

/* -1 for a counter the kernel does not have (!CONFIG_VM_EVENT_COUNTERS) */
static void vmstat(long long *v)
{
	char line[256], key[128];
	long long n;
	FILE *f = fopen("/proc/vmstat", "r");
	int i;

	for (i = 0; i < VM_NR; i++)
		v[i] = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %lld", key, &n) != 2)
			continue;
		for (i = 0; i < VM_NR; i++)
			if (!strcmp(key, vm_keys[i]))
				v[i] = n;
	}
	fclose(f);
}

/* after - before of counter @i, -1 if the kernel does not count it */
static long long vm_delta(const long long *v0, const long long *v1, int i)
{
	return v0[i] < 0 || v1[i] < 0 ? -1 : v1[i] - v0[i];
}

/* Lines of the kernel log containing @needle; -errno if unreadable. */
static long klog_count(const char *needle)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf, *p;
	long n = 0;

	if (len <= 0)
		return -errno;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	if (len < 0) {
		free(buf);
		return -errno;
	}
	buf[len] = 0;
	for (p = buf; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(buf);
	return n;
}

/* Did the kernel log an OOM kill of @pid? */
static bool oom_killed(pid_t pid)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "Killed process %d ", (int)pid);
	return klog_count(needle) > 0;
}

/* --- the hog ------------------------------------------------------------- */

/*
 * mlock all but @leave bytes of MemAvailable; writes the bytes locked to
 * @report, then sleeps until killed.
 */
static void __attribute__((noreturn)) hog(long long leave, int report)
{
	long long avail = meminfo("MemAvailable"), target, locked = 0;
	void *p;

	ru_write_str("/proc/self/oom_score_adj", "1000");
	target = avail - leave;
	while (locked + (long long)HOG_CHUNK <= target) {
		p = mmap(NULL, HOG_CHUNK, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			break;
		if (mlock(p, HOG_CHUNK)) {
			munmap(p, HOG_CHUNK);
			break;
		}
		locked += HOG_CHUNK;
	}
	(void)!write(report, &locked, sizeof(locked));
	close(report);
	for (;;)
		pause();
}

/* --- the case ------------------------------------------------------------ */

FIXTURE(mem)
{
	int fd;
	char path[PATH_MAX];
	uint64_t size;
	pid_t hog;
	pid_t readers[READERS];
	struct ru_sreader *sr;	/* shared with the reader processes */
};

FIXTURE_SETUP(mem)
{
	struct statvfs sv;
	const char *s;
	long long leave;
	double t0;

	self->fd = -1;
	if (ru_host_dryrun())
		SKIP(return, "RASYNC_HOST_DRYRUN=1: would mlock most of the host's memory");
	RU_REQUIRE_ASYNC_FS();
	if (meminfo("MemAvailable") < 0)
		SKIP(return, "no MemAvailable in /proc/meminfo");
	s = getenv("RASYNC_STRESS_LEAVE_MB");
	leave = (s && *s ? strtoll(s, NULL, 0) : LEAVE_MB) << 20;
	/* larger than what is left to the page cache */
	self->size = (uint64_t)MIN_FILE_MB << 20;
	if (self->size < (uint64_t)leave + (64 << 20))
		self->size = leave + (64 << 20);
	self->size += 12345;
	ASSERT_EQ(0, statvfs(ru_scratch_dir(), &sv));
	if ((uint64_t)sv.f_bavail * sv.f_frsize < self->size + (32 << 20))
		SKIP(return, "%s has %llu MiB free, the test file needs %llu MiB",
		     ru_scratch_dir(),
		     (unsigned long long)sv.f_bavail * sv.f_frsize >> 20,
		     (unsigned long long)self->size >> 20);

	self->sr = mmap(NULL, READERS * sizeof(*self->sr),
			PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	ASSERT_NE(MAP_FAILED, self->sr);
	t0 = ru_now_s();
	self->fd = ru_open_test_file("mem", self->size, FILE_SEED, self->path,
				     sizeof(self->path));
	ASSERT_LE(0, self->fd) TH_LOG("test file in %s: %s", ru_scratch_dir(),
				      strerror(-self->fd));
	TH_LOG("%llu MiB test file ready in %.1f s",
	       (unsigned long long)self->size >> 20, ru_now_s() - t0);
	ASSERT_EQ(0, posix_fadvise(self->fd, 0, 0, POSIX_FADV_DONTNEED));
}

static void kill_reap(pid_t *pid, int *status)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGKILL);
	waitpid(*pid, status, 0);
	*pid = 0;
}

FIXTURE_TEARDOWN(mem)
{
	int status, i;

	for (i = 0; i < READERS; i++)
		kill_reap(&self->readers[i], &status);
	kill_reap(&self->hog, &status);
	if (self->fd >= 0)
		close(self->fd);
	if (self->sr && self->sr != MAP_FAILED)
		munmap(self->sr, READERS * sizeof(*self->sr));
}

/*
 * "some" stall time of /proc/pressure/memory in us (CONFIG_PSI), or -1:
 * refault reads, rasync's included, are accounted as memory stalls.
 */
static long long psi_memory_some_us(void)
{
	char buf[512], *p;

	if (ru_read_str("/proc/pressure/memory", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "total=");
	return p ? strtoll(p + 6, NULL, 10) : -1;
}

TEST_F_TIMEOUT(mem, readers_under_mlock_pressure, TEST_TIMEOUT)
{
	long long psi0 = psi_memory_some_us(), psi1;
	double t0, budget = ru_time_budget(TIME_BUDGET), end;
	long long v0[VM_NR], v1[VM_NR], locked = -1, leave, steal, refaults;
	long ooms0, ooms;
	unsigned long reads = 0;
	uint64_t bytes = 0;
	int report[2], status, ret, i, killed = 0;
	bool hog_oom = false;
	struct pollfd pfd;
	const char *s;
	pid_t pid;

	s = getenv("RASYNC_STRESS_LEAVE_MB");
	leave = (s && *s ? strtoll(s, NULL, 0) : LEAVE_MB) << 20;

	/* the hog */
	t0 = ru_now_s();
	ASSERT_EQ(0, pipe(report));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(report[0]);
		hog(leave, report[1]);
	}
	self->hog = pid;
	close(report[1]);
	pfd.fd = report[0];
	pfd.events = POLLIN;
	ret = poll(&pfd, 1, HOG_SECONDS * 1000);
	if (ret != 1 || read(report[0], &locked, sizeof(locked)) != sizeof(locked))
		locked = -1;
	close(report[0]);
	ASSERT_LT(0, locked)
		TH_LOG("the hog did not report within %d s%s: no memory pressure",
		       HOG_SECONDS,
		       oom_killed(self->hog) ? " (the OOM killer took it)" : "");
	TH_LOG("hog: %lld MiB mlocked in %.1f s; MemAvailable now %lld MiB, MemFree %lld MiB, file %llu MiB",
	       locked >> 20, ru_now_s() - t0, meminfo("MemAvailable") >> 20,
	       meminfo("MemFree") >> 20,
	       (unsigned long long)self->size >> 20);

	/* the readers */
	vmstat(v0);
	ooms0 = klog_count("Killed process");
	t0 = ru_now_s();
	for (i = 0; i < READERS; i++) {
		struct ru_sreader *sr = &self->sr[i];

		memset(sr, 0, sizeof(*sr));
		sr->sizes = &self->size;
		sr->nfiles = 1;
		sr->qd = QD;
		sr->max_len = MAX_LEN;
		sr->large = true;
		sr->hang_seconds = HANG_SECONDS;
		sr->rng = (ru_seed() + 1) * 0x9E3779B97F4A7C15ULL + i;
		sr->deadline = t0 + budget;
		sr->max_reads = MAX_READS;
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			static const uint64_t seed = FILE_SEED;
			/* its own struct file: its own readahead state */
			int fd = open(self->path, O_RDONLY);

			if (fd < 0) {
				sr->err = -errno;
				snprintf(sr->msg, sizeof(sr->msg),
					 "opening the test file: %s",
					 strerror(errno));
				_exit(1);
			}
			sr->fds = &fd;
			sr->seeds = &seed;
			ru_sreader_run(sr);
			_exit(0);
		}
		self->readers[i] = pid;
	}
	end = t0 + budget + HANG_SECONDS + 30;
	for (i = 0; i < READERS; i++) {
		ret = ru_wait_until(self->readers[i], &status, end);
		if (ret != 1) {
			TH_LOG("reader %d did not finish in %.0f s: hang", i,
			       end - t0);
			kill_reap(&self->readers[i], &status);
			killed++;
			continue;
		}
		if (WIFSIGNALED(status)) {
			TH_LOG("reader %d was killed by signal %d%s", i,
			       WTERMSIG(status),
			       oom_killed(self->readers[i]) ? " by the OOM killer" : "");
			killed++;
		} else if (WEXITSTATUS(status)) {
			TH_LOG("reader %d exited with %d: %s", i,
			       WEXITSTATUS(status), self->sr[i].msg);
			killed++;
		}
		self->readers[i] = 0;
	}
	vmstat(v1);
	ooms = klog_count("Killed process");
	for (i = 0; i < READERS; i++) {
		reads += self->sr[i].reads;
		bytes += self->sr[i].bytes;
	}
	/* did the hog survive? */
	ret = waitpid(self->hog, &status, WNOHANG);
	if (ret == self->hog) {
		hog_oom = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		TH_LOG("the hog died during the reads (%s%s): the memory pressure ended early",
		       hog_oom ? "SIGKILL" : "exit",
		       oom_killed(self->hog) ? ", the OOM killer" : "");
		self->hog = 0;
	}
	kill_reap(&self->hog, &status);

	steal = vm_delta(v0, v1, VM_PGSTEAL_KSWAPD);
	if (steal >= 0)
		steal += vm_delta(v0, v1, VM_PGSTEAL_DIRECT);
	refaults = vm_delta(v0, v1, VM_REFAULT_FILE);
	fprintf(stderr, "# mem.%s: %lu iterations in %.1f s (iterations = reads checked, %" PRIu64 " MiB; %d readers; %lld MiB mlocked; reclaim: pgsteal %lld, file refaults %lld; OOM kills %ld)\n",
		_metadata->name, reads, ru_now_s() - t0, bytes >> 20, READERS,
		locked >> 20, steal, refaults,
		ooms0 >= 0 && ooms >= 0 ? ooms - ooms0 : -1);
	psi1 = psi_memory_some_us();
	if (psi0 >= 0 && psi1 >= 0)
		TH_LOG("/proc/pressure/memory some total: %lld us before, %lld us after (+%lld us of memory stalls)",
		       psi0, psi1, psi1 - psi0);
	else
		TH_LOG("/proc/pressure/memory: not available (kernel without CONFIG_PSI)");
	if (ooms0 >= 0 && ooms > ooms0)
		TH_LOG("the OOM killer killed %ld task(s) during the reads%s",
		       ooms - ooms0, hog_oom ? " (the hog)" : "");

	for (i = 0; i < READERS; i++) {
		EXPECT_EQ(0, self->sr[i].err)
			TH_LOG("reader %d: %s (seed 0x%llx)", i,
			       self->sr[i].msg, (unsigned long long)ru_seed());
		EXPECT_EQ(0, self->sr[i].nbad)
			TH_LOG("reader %d: %u of %lu reads bad (seed 0x%llx); first: %s",
			       i, self->sr[i].nbad, self->sr[i].reads,
			       (unsigned long long)ru_seed(), self->sr[i].msg);
	}
	ASSERT_EQ(0, killed) TH_LOG("%d reader(s) did not finish normally",
				    killed);
	ASSERT_LT(0, reads);
	/* pages reclaimed (pgsteal), or read again after reclaim (refaults) */
	EXPECT_LT(0, steal > 0 ? steal : refaults)
		TH_LOG("nothing was reclaimed: no memory pressure");
}

TEST_HARNESS_MAIN
