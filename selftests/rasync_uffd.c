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
 *    once its fault is resolved.
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
	volatile int done;
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
	volatile int done;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	w->ret = ru_set_module_enabled(false);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Wait up to @ms for *@flag; true if it was set. */
static bool wait_flag(volatile int *flag, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (__atomic_load_n(flag, __ATOMIC_ACQUIRE))
			return true;
		usleep(1000);
	}
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

struct file_check {
	pthread_t thread;
	char msg[256];
	volatile int done;
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
	if (self->buf != MAP_FAILED)
		munmap(self->buf, RU_PAGE);
	if (self->uffd >= 0)
		close(self->uffd);
	if (self->fd >= 0)
		close(self->fd);
	if (ru_module_loaded())
		ru_set_module_enabled(true);
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
	ASSERT_FALSE(wait_flag(&self->r.done, BLOCKED_MS))
		TH_LOG("the read returned although its fault is unresolved");
}

static void check_reader_done(struct __test_metadata *_metadata,
			      FIXTURE_DATA(uffd) *self)
{
	ssize_t bad;

	ASSERT_EQ(0, resolve_fault(self)) TH_LOG("UFFDIO_ZEROPAGE failed");
	ASSERT_TRUE(wait_flag(&self->r.done, DONE_MS))
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
	ASSERT_TRUE(wait_flag(&c.done, DONE_MS))
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
	ASSERT_FALSE(wait_flag(&w.done, BLOCKED_MS))
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
	ASSERT_TRUE(wait_flag(&w.done, DONE_MS))
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
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(ru_set_module_enabled(false) ? 1 : 0);
	usleep(BLOCKED_MS * 1000);
	ASSERT_EQ(0, waitpid(pid, &status, WNOHANG))
		TH_LOG("enabled=N returned while a reader sleeps inside rasync");
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

TEST_HARNESS_MAIN
