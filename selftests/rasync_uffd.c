// SPDX-License-Identifier: GPL-2.0
/*
 * A read that blocks inside rasync does not hang the module's parameters.
 *
 * The destination of a read(2) of a cached ext4 file is a userfaultfd-
 * registered anonymous page, so the copy to user space inside rasync's
 * read path faults and sleeps until this test resolves the fault.  While
 * it sleeps:
 *
 *  - disable_waits_for_blocked_reader: writing enabled=N unhooks at once
 *    (new reads take the stock path, debugfs says hooked 0), the write
 *    itself waits for the blocked reader, every parameter file stays
 *    readable meanwhile, and once the fault is resolved the read returns
 *    the right bytes and the write completes;
 *  - disable_wait_is_killable: a process blocked in that write dies of
 *    SIGKILL at once; the reader is unaffected and returns the right bytes
 *    once its fault is resolved;
 *  - unload_waits_idle: rmmod (delete_module, O_NONBLOCK, in a child)
 *    waits for the reader without bound but idle: with the hung-task
 *    timeout at HUNG_TIMEOUT_S seconds the child is still waiting
 *    HUNG_WAIT_S later, in state 'I' of /proc/PID/stat (TASK_IDLE: no
 *    hung-task report, no load), never 'D'; once the fault is resolved the
 *    read returns the right bytes, the unload completes with 0 and
 *    /sys/module/rasync is gone.  A "blocked for more than" report in
 *    dmesg fails the entry (run_entry.sh's splat scan);
 *  - unload_refused_after_killed_disable: a writer of enabled=N is
 *    SIGKILLed in its wait for the blocked reader; rmmod then fails at once
 *    (EWOULDBLOCK or EBUSY: the module holds a reference on itself while
 *    readers of the unregistered hook are inside), where it must not sleep
 *    in module exit; once the fault is resolved the reference goes
 *    (/sys/module/rasync/refcnt 0) and rmmod succeeds.
 * Both unloading cases load the module again (RASYNC_KO) for later tests,
 * whatever happened; every wait is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rasync_util.h"
#include "rasync_harness.h"

#define FILE_SIZE	(256 * 1024)
#define FILE_SEED	0x75666664ULL		/* "uffd" */
#define READ_OFF	8192
/* how long a step that should block is watched before we call it blocked */
#define BLOCKED_MS	300
/* how long a step that should finish may take */
#define DONE_MS		10000
/* how long the last reader's generation may take to drain once it left */
#define DRAIN_S		(DONE_MS / 1000.0)
/* the hung-task timeout while rmmod waits, and how long we watch rmmod */
#define HUNG_TIMEOUT_S	2
#define HUNG_WAIT_S	(4 * HUNG_TIMEOUT_S)
#define HUNG_TIMEOUT	"/proc/sys/kernel/hung_task_timeout_secs"
#define HUNG_INTERVAL	"/proc/sys/kernel/hung_task_check_interval_secs"
/* rmmod's state is sampled every 250 ms; the first second is not judged */
#define SETTLE_SAMPLES	4
/* how long a refused rmmod may take to say so */
#define REFUSE_S	5.0
/* how long rmmod may take once no reader is inside */
#define UNLOAD_S	30.0
#define UNLOAD_TIMEOUT	150
#define RASYNC_REFCNT	RASYNC_SYSFS "/refcnt"

static const char *const param_files[] = {
	RASYNC_SYSFS "/parameters/enabled",
	RASYNC_SYSFS "/parameters/hook_only",
	RASYNC_SYSFS "/parameters/selftest",
	RASYNC_STATE,
	RASYNC_STATS,
};

struct reader {
	pthread_t thread;
	int fd;
	void *buf;
	ssize_t ret;
	int err;
	int done;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	r->ret = pread(r->fd, r->buf, RU_PAGE, READ_OFF);
	r->err = errno;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct writer {
	pthread_t thread;
	int ret;
	int done;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	w->ret = ru_set_module_enabled(false);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct file_check {
	pthread_t thread;
	char msg[256];
	int done;
};

/* Read every parameter and debugfs file once: none may block. */
static void *files_main(void *arg)
{
	struct file_check *c = arg;
	char buf[2048];

	for (size_t i = 0; i < sizeof(param_files) / sizeof(param_files[0]); i++) {
		ssize_t n = ru_read_str(param_files[i], buf, sizeof(buf));

		if (n < 0 && !c->msg[0])
			snprintf(c->msg, sizeof(c->msg), "%s: %s", param_files[i],
				 strerror(-n));
	}
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

FIXTURE(uffd)
{
	int fd;
	int uffd;
	char path[PATH_MAX];
	void *buf;
	struct reader r;
	bool reader_started;
	pid_t rm_pid;		/* a child in delete_module(), not reaped */
	int hung_timeout0;	/* the hung-task sysctls to put back, or -1 */
	int hung_interval0;
};

FIXTURE_SETUP(uffd)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	long pages;

	self->fd = -1;
	self->uffd = -1;
	self->buf = MAP_FAILED;
	self->reader_started = false;
	self->rm_pid = 0;
	self->hung_timeout0 = -1;
	self->hung_interval0 = -1;
	if (!ru_module_loaded())
		SKIP(return, "rasync is not loaded");
	RU_REQUIRE_ASYNC_FS();
	self->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (self->uffd < 0 && errno == ENOSYS)
		SKIP(return, "kernel without CONFIG_USERFAULTFD");
	ASSERT_LE(0, self->uffd) TH_LOG("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(self->uffd, UFFDIO_API, &api))
		TH_LOG("UFFDIO_API: %s", strerror(errno));

	self->fd = ru_open_test_file("uffd", FILE_SIZE, FILE_SEED, self->path,
				     sizeof(self->path));
	ASSERT_LE(0, self->fd) TH_LOG("test file in %s: %s", ru_scratch_dir(),
				      strerror(-self->fd));
	/* cached, so the read goes straight to the copy that faults */
	ASSERT_EQ(0, posix_fadvise(self->fd, 0, FILE_SIZE, POSIX_FADV_WILLNEED));
	for (int i = 0; i < 100; i++) {
		char tmp[RU_PAGE];

		ASSERT_EQ(RU_PAGE, pread(self->fd, tmp, RU_PAGE, READ_OFF));
		pages = ru_resident_pages(self->fd, FILE_SIZE);
		if (pages == FILE_SIZE / RU_PAGE)
			break;
		usleep(10000);
	}

	self->buf = mmap(NULL, RU_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	reg.range.start = (unsigned long)self->buf;
	reg.range.len = RU_PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(self->uffd, UFFDIO_REGISTER, &reg))
		TH_LOG("UFFDIO_REGISTER: %s", strerror(errno));
	ASSERT_EQ(1, ru_module_enabled()) TH_LOG("rasync is not enabled");
}

/* Resolve the reader's fault with a zero page, which the copy overwrites. */
static int resolve_fault(FIXTURE_DATA(uffd) *self)
{
	struct uffdio_zeropage zp = {
		.range = { .start = (unsigned long)self->buf, .len = RU_PAGE },
	};

	if (ioctl(self->uffd, UFFDIO_ZEROPAGE, &zp) && errno != EEXIST)
		return -errno;
	return 0;
}

FIXTURE_TEARDOWN(uffd)
{
	if (self->reader_started) {
		/* never leave a reader asleep behind us */
		resolve_fault(self);
		pthread_join(self->r.thread, NULL);
	}
	if (self->hung_timeout0 >= 0)
		ru_sysctl_set(HUNG_TIMEOUT, self->hung_timeout0);
	if (self->hung_interval0 >= 0)
		ru_sysctl_set(HUNG_INTERVAL, self->hung_interval0);
	if (self->rm_pid > 0) {
		/* its reader is gone: the unload ends, or was refused */
		int status;

		if (ru_wait_until(self->rm_pid, &status, ru_now_s() + UNLOAD_S) != 1)
			TH_LOG("rmmod child %d still blocked at teardown",
			       (int)self->rm_pid);
	}
	/* later tests need the module */
	if (self->rm_pid && ru_module_ensure_loaded())
		TH_LOG("reloading %s failed", ru_module_path());
	if (self->buf != MAP_FAILED)
		munmap(self->buf, RU_PAGE);
	if (self->uffd >= 0)
		close(self->uffd);
	if (self->fd >= 0)
		close(self->fd);
	/* the reader has left; its generation may still be draining */
	if (ru_module_loaded() && ru_enable_module(DRAIN_S))
		TH_LOG("enabled=Y at teardown failed");
}

/* Start the reader and return once it sleeps in the fault, inside rasync. */
static void start_blocked_reader(struct __test_metadata *_metadata,
				 FIXTURE_DATA(uffd) *self)
{
	struct pollfd p = { .fd = self->uffd, .events = POLLIN };
	struct uffd_msg msg;

	self->r.fd = self->fd;
	self->r.buf = self->buf;
	self->r.done = 0;
	ASSERT_EQ(0, pthread_create(&self->r.thread, NULL, reader_main, &self->r));
	self->reader_started = true;
	ASSERT_EQ(1, poll(&p, 1, DONE_MS)) TH_LOG("the read never faulted on its destination");
	ASSERT_EQ(sizeof(msg), read(self->uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	ASSERT_FALSE(ru_wait_flag(&self->r.done, ru_now_s() + BLOCKED_MS / 1000.0))
		TH_LOG("the read returned although its fault is unresolved");
}

/* A child writing enabled=N, seen waiting for the blocked reader. */
static pid_t start_blocked_disable(struct __test_metadata *_metadata)
{
	int status;
	pid_t pid = fork();

	/* ASSERT_* longjmp()s out of here: no caller sees a failed fork. */
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(ru_set_module_enabled(false) ? 1 : 0);
	usleep(BLOCKED_MS * 1000);
	ASSERT_EQ(0, waitpid(pid, &status, WNOHANG))
		TH_LOG("enabled=N returned while a reader sleeps inside rasync");
	return pid;
}

static void check_reader_done(struct __test_metadata *_metadata,
			      FIXTURE_DATA(uffd) *self)
{
	ssize_t bad;

	ASSERT_EQ(0, resolve_fault(self)) TH_LOG("UFFDIO_ZEROPAGE failed");
	ASSERT_TRUE(ru_wait_flag(&self->r.done, ru_now_s() + DONE_MS / 1000.0))
		TH_LOG("the read did not return once its fault was resolved");
	pthread_join(self->r.thread, NULL);
	self->reader_started = false;
	ASSERT_EQ(RU_PAGE, self->r.ret) TH_LOG("pread: %zd (%s)", self->r.ret,
					       strerror(self->r.err));
	bad = ru_pattern_check(self->buf, FILE_SEED, READ_OFF, RU_PAGE);
	ASSERT_EQ(-1, bad) TH_LOG("wrong byte at offset %zd of the read", bad);
}

static void check_files_readable(struct __test_metadata *_metadata)
{
	struct file_check c = { .done = 0 };

	ASSERT_EQ(0, pthread_create(&c.thread, NULL, files_main, &c));
	ASSERT_TRUE(ru_wait_flag(&c.done, ru_now_s() + DONE_MS / 1000.0))
		TH_LOG("reading the parameter and debugfs files blocked");
	pthread_join(c.thread, NULL);
	ASSERT_EQ(0, c.msg[0]) TH_LOG("%s", c.msg);
}

TEST_F(uffd, disable_waits_for_blocked_reader)
{
	struct ru_stats before, after, d;
	struct writer w = { .done = 0 };
	char tmp[RU_PAGE];

	ASSERT_EQ(0, ru_stats_read(&before));
	start_blocked_reader(_metadata, self);

	ASSERT_EQ(0, pthread_create(&w.thread, NULL, writer_main, &w));
	ASSERT_FALSE(ru_wait_flag(&w.done, ru_now_s() + BLOCKED_MS / 1000.0))
		TH_LOG("enabled=N returned (%d) while a reader sleeps inside rasync", w.ret);
	check_files_readable(_metadata);
	EXPECT_EQ(0, ru_state_get("hooked")) TH_LOG("still hooked while enabled=N waits");
	/* a new read takes the stock path meanwhile */
	ASSERT_EQ(RU_PAGE, pread(self->fd, tmp, RU_PAGE, 0));
	EXPECT_EQ(-1, ru_pattern_check(tmp, FILE_SEED, 0, RU_PAGE));
	ASSERT_EQ(0, ru_stats_read(&after));
	ru_stats_delta(&before, &after, &d);
	EXPECT_EQ(0, ru_stat(&d, "reads")) TH_LOG("%llu reads served by rasync while unhooked",
					   (unsigned long long)ru_stat(&d, "reads"));

	check_reader_done(_metadata, self);
	ASSERT_TRUE(ru_wait_flag(&w.done, ru_now_s() + DONE_MS / 1000.0))
		TH_LOG("enabled=N did not complete once the reader left");
	pthread_join(w.thread, NULL);
	ASSERT_EQ(0, w.ret) TH_LOG("enabled=N: %s", strerror(-w.ret));
	EXPECT_EQ(0, ru_module_enabled());
	/* the blocked read was rasync's: counted when it returned */
	ASSERT_EQ(0, ru_stats_read(&after));
	ru_stats_delta(&before, &after, &d);
	EXPECT_EQ(1, ru_stat(&d, "reads")) TH_LOG("rasync served %llu reads, want the blocked one",
					   (unsigned long long)ru_stat(&d, "reads"));
}

TEST_F(uffd, disable_wait_is_killable)
{
	struct timespec t0, t1;
	pid_t pid;
	int status;
	long ms;

	start_blocked_reader(_metadata, self);
	pid = start_blocked_disable(_metadata);
	check_files_readable(_metadata);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("the writer was not killed (status 0x%x)", status);
	TH_LOG("writer killed after %ld ms", ms);
	EXPECT_GT(2000, ms) TH_LOG("SIGKILL took %ld ms to end the wait", ms);
	EXPECT_FALSE(__atomic_load_n(&self->r.done, __ATOMIC_ACQUIRE));
	check_files_readable(_metadata);

	check_reader_done(_metadata, self);
	EXPECT_EQ(0, ru_state_get("hooked"));
}

/* The state letter of /proc/@pid/stat ('R', 'S', 'D', 'I', ...), or '?'. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (ru_read_str(path, buf, sizeof(buf)) < 0)
		return '?';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p[2] : '?';
}

/* /sys/module/rasync/refcnt, or -errno. */
static int module_refcnt(void)
{
	char buf[32];
	ssize_t n = ru_read_str(RASYNC_REFCNT, buf, sizeof(buf));

	return n < 0 ? (int)n : atoi(buf);
}

/*
 * Wait up to DONE_MS for refcnt 0 (an earlier case's killed writer may
 * still hold a reference for its readers); the last value read.
 */
static int wait_refcnt_zero(void)
{
	double t0 = ru_now_s();
	int refcnt;

	while ((refcnt = module_refcnt()) > 0 && ru_now_s() - t0 < DONE_MS / 1000)
		usleep(10000);
	return refcnt;
}

/* A child that calls delete_module("rasync", O_NONBLOCK): exit 0 or errno. */
static pid_t start_unload(struct __test_metadata *_metadata,
			  FIXTURE_DATA(uffd) *self)
{
	pid_t pid = fork();

	if (pid == 0) {
		int ret = ru_module_unload();

		_exit(ret ? (-ret & 0xff) : 0);
	}
	if (pid > 0)
		self->rm_pid = pid;
	return pid;
}

/*
 * Reap the unload child within @secs: its errno (0: unloaded), or -ETIME
 * if it is still inside delete_module().
 */
static int finish_unload(FIXTURE_DATA(uffd) *self, double secs)
{
	int status, ret;

	ret = ru_wait_until(self->rm_pid, &status, ru_now_s() + secs);
	if (ret != 1)
		return -ETIME;
	self->rm_pid = -1;	/* reaped; teardown still reloads */
	if (!WIFEXITED(status))
		return -ECHILD;
	return WEXITSTATUS(status);
}

/* Load the module again; it must come up hooked. */
static void reload(struct __test_metadata *_metadata)
{
	int ret;

	ASSERT_FALSE(ru_module_loaded()) TH_LOG("rmmod returned 0 but %s is there",
						RASYNC_SYSFS);
	ret = ru_module_load(ru_module_path(), "");
	ASSERT_EQ(0, ret) TH_LOG("insmod %s: %s", ru_module_path(), strerror(-ret));
	ASSERT_EQ(1, ru_state_get("hooked"));
}

/* SKIP unless the module may be unloaded and loaded again. */
#define REQUIRE_UNLOADABLE() do {					\
	if (ru_host_dryrun())						\
		SKIP(return, "RASYNC_HOST_DRYRUN=1: the module is never unloaded on the host"); \
	if (access(ru_module_path(), R_OK))				\
		SKIP(return, "%s is not readable (set RASYNC_KO): could not load rasync again", \
		     ru_module_path());					\
} while (0)

TEST_F_TIMEOUT(uffd, unload_waits_idle, UNLOAD_TIMEOUT)
{
	char states[HUNG_WAIT_S * 4 + 1] = "";
	unsigned int ns = 0;
	double t0;
	int ret;

	REQUIRE_UNLOADABLE();
	ASSERT_EQ(0, wait_refcnt_zero()) TH_LOG("rasync is in use before the case");
	start_blocked_reader(_metadata, self);

	/* a hung-task report within seconds, if rmmod sleeps in 'D' */
	self->hung_timeout0 = ru_sysctl_get(HUNG_TIMEOUT);
	if (self->hung_timeout0 >= 0) {
		ASSERT_EQ(0, ru_sysctl_set(HUNG_TIMEOUT, HUNG_TIMEOUT_S));
		self->hung_interval0 = ru_sysctl_get(HUNG_INTERVAL);
		if (self->hung_interval0 >= 0)
			ASSERT_EQ(0, ru_sysctl_set(HUNG_INTERVAL, HUNG_TIMEOUT_S));
	} else {
		TH_LOG("no %s (CONFIG_DETECT_HUNG_TASK=n): checking the task state only",
		       HUNG_TIMEOUT);
	}

	ASSERT_LT(0, start_unload(_metadata, self));
	t0 = ru_now_s();
	/* every 250 ms: still inside delete_module(), and in which state */
	while (ru_now_s() - t0 < HUNG_WAIT_S && ns < sizeof(states) - 1) {
		usleep(250000);
		states[ns++] = proc_state(self->rm_pid);
		ASSERT_EQ(-ETIME, finish_unload(self, 0))
			TH_LOG("rmmod returned while a reader sleeps inside rasync");
	}
	states[ns] = 0;
	TH_LOG("rmmod's state every 250 ms for %d s: %s", HUNG_WAIT_S, states);

	/* put the hung-task timeout back before anything else can wait */
	if (self->hung_timeout0 >= 0)
		ru_sysctl_set(HUNG_TIMEOUT, self->hung_timeout0);
	if (self->hung_interval0 >= 0)
		ru_sysctl_set(HUNG_INTERVAL, self->hung_interval0);
	self->hung_timeout0 = self->hung_interval0 = -1;

	/* from SETTLE_SAMPLES on: module exit may take a mutex on its way in */
	EXPECT_TRUE(strchr(states + SETTLE_SAMPLES, 'D') == NULL)
		TH_LOG("rmmod slept in 'D' (uninterruptible, hung-task reports) while waiting for the reader");
	EXPECT_EQ('I', states[ns - 1])
		TH_LOG("rmmod is in state '%c', want 'I' (TASK_IDLE)", states[ns - 1]);

	check_reader_done(_metadata, self);
	ret = finish_unload(self, UNLOAD_S);
	ASSERT_EQ(0, ret) TH_LOG("rmmod once the reader left: %s",
				 ret == -ETIME ? "still blocked" : strerror(ret));
	reload(_metadata);
}

TEST_F_TIMEOUT(uffd, unload_refused_after_killed_disable, UNLOAD_TIMEOUT)
{
	const bool rmmod_slept_in_module_exit = true;
	const bool rmmod_unloaded_with_a_reader_inside = true;
	double t0, t1;
	int status, ret, refcnt;
	pid_t pid;

	REQUIRE_UNLOADABLE();
	ASSERT_EQ(0, wait_refcnt_zero()) TH_LOG("rasync is in use before the case");
	start_blocked_reader(_metadata, self);

	/* enabled=N, killed while it waits for the reader */
	pid = start_blocked_disable(_metadata);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(1, ru_wait_until(pid, &status, ru_now_s() + DONE_MS / 1000))
		TH_LOG("the enabled=N writer did not die of SIGKILL");
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ASSERT_EQ(0, ru_state_get("hooked"));
	refcnt = module_refcnt();
	TH_LOG("refcnt with the killed writer's reader inside: %d", refcnt);

	/* rmmod must say "in use" at once, never sleep in module exit */
	ASSERT_LT(0, start_unload(_metadata, self));
	t0 = ru_now_s();
	ret = finish_unload(self, REFUSE_S);
	t1 = ru_now_s();
	if (ret == -ETIME) {
		char st = proc_state(self->rm_pid);

		TH_LOG("rmmod still inside delete_module() after %.0f s (state '%c') with a reader of the unregistered hook inside: it must fail at once",
		       REFUSE_S, st);
		/* it cannot be killed: let it finish, then load the module again */
		check_reader_done(_metadata, self);
		ret = finish_unload(self, UNLOAD_S);
		TH_LOG("after the fault was resolved rmmod returned %s",
		       ret == -ETIME ? "nothing (still blocked)" : strerror(ret));
		if (ret == 0)
			reload(_metadata);
		ASSERT_FALSE(rmmod_slept_in_module_exit);
	}
	if (ret == 0) {
		TH_LOG("rmmod succeeded while a reader sleeps inside rasync");
		check_reader_done(_metadata, self);
		reload(_metadata);
		ASSERT_FALSE(rmmod_unloaded_with_a_reader_inside);
	}
	TH_LOG("rmmod: %s after %.0f ms", strerror(ret), (t1 - t0) * 1000);
	EXPECT_TRUE(ret == EWOULDBLOCK || ret == EBUSY)
		TH_LOG("rmmod: %s, want EWOULDBLOCK or EBUSY", strerror(ret));
	ASSERT_TRUE(ru_module_loaded());
	EXPECT_LT(0, module_refcnt()) TH_LOG("refused, but refcnt is %d", module_refcnt());

	/* the reader leaves: the module's reference goes, rmmod succeeds */
	check_reader_done(_metadata, self);
	refcnt = wait_refcnt_zero();
	ASSERT_EQ(0, refcnt) TH_LOG("refcnt %d %d s after the reader left",
				    refcnt, DONE_MS / 1000);
	ASSERT_LT(0, start_unload(_metadata, self));
	ret = finish_unload(self, UNLOAD_S);
	ASSERT_EQ(0, ret) TH_LOG("rmmod once the reader left: %s",
				 ret == -ETIME ? "still blocked" : strerror(ret));
	reload(_metadata);
}

TEST_HARNESS_MAIN
