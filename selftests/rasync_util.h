/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the rasync selftests: the file content generator,
 * page-cache control, the module's sysfs/debugfs files, tracefs event
 * counting and an io_uring reader that checks every byte it reads.
 *
 * Nothing here calls the kselftest harness: functions return 0 or a
 * negative errno and the tests turn that into ASSERT/SKIP.
 */
#ifndef RASYNC_UTIL_H
#define RASYNC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <liburing.h>

#define RASYNC_SYSFS		"/sys/module/rasync"
#define RASYNC_PARAM_ENABLED	RASYNC_SYSFS "/parameters/enabled"
#define RASYNC_DEBUGFS		"/sys/kernel/debug/rasync"
#define RASYNC_STATE		RASYNC_DEBUGFS "/state"
#define RASYNC_STATS		RASYNC_DEBUGFS "/stats"
#define SYSCTL_ASYNC_BUF_READS	"/proc/sys/kernel/io_uring_async_buffered_reads"
#define DROP_CACHES		"/proc/sys/vm/drop_caches"

#define RU_PAGE		4096u

/* --- environment ------------------------------------------------------ */

/* $RASYNC_SCRATCH, default /mnt/scratch: where test files are created. */
const char *ru_scratch_dir(void);
/*
 * $RASYNC_HOST_DRYRUN=1: running on a development host.  No sysctl,
 * drop_caches or module parameter writes and no module (un)loading;
 * caches are still evicted with posix_fadvise(DONTNEED).
 */
bool ru_host_dryrun(void);
/* $RASYNC_SEED (decimal or 0x hex), default 0x5eed: request generator seed. */
uint64_t ru_seed(void);
/* $RASYNC_STRESS_TIME (seconds) if set, else @def: a stress case's budget. */
double ru_time_budget(double def);
/* "ext4", "xfs", "btrfs", "f2fs" for a statfs f_type, else "?". */
const char *ru_fs_name(unsigned long magic);
/* CLOCK_MONOTONIC in seconds. */
double ru_now_s(void);
/* xorshift64 step: the tests' seeded generator; *@s must not be 0. */
uint64_t ru_xorshift64(uint64_t *s);
/*
 * 0 if the scratch directory is on a file system that opts into async
 * buffered reads (ext4, xfs, btrfs, f2fs); else -EOPNOTSUPP and the
 * file system magic in @magic, or another -errno.
 */
int ru_scratch_fs_ok(unsigned long *magic);
/*
 * waitpid(@pid) until ru_now_s() passes @end: 1 if reaped (status in
 * @status), 0 on timeout, or -errno.
 */
int ru_wait_until(pid_t pid, int *status, double end);

/*
 * Poll *@flag (set by another thread with a release store) every ms until
 * ru_now_s() passes @end: true if it was set.
 */
bool ru_wait_flag(const int *flag, double end);

/* --- file content ----------------------------------------------------- */

/*
 * The byte at file offset @off of a file made with @seed.  The content is
 * a pure function of (seed, offset), so any read can be checked without
 * keeping a copy of the file: that is the "checksum" written at creation.
 */
void ru_pattern_fill(void *buf, uint64_t seed, uint64_t off, size_t len);
/* -1 if @buf holds the pattern for [off, off + len), else the bad index. */
ssize_t ru_pattern_check(const void *buf, uint64_t seed, uint64_t off,
			 size_t len);

/*
 * Open (creating it on first use) a test file "<scratch>/rasync-<tag>-<pid>.dat"
 * of @size bytes made with @seed; <pid> is the test program's main process,
 * so every test of one program shares the file and the main process
 * deletes it at exit.  Returns an O_RDONLY fd or -errno.
 */
int ru_open_test_file(const char *tag, uint64_t size, uint64_t seed,
		      char *path, size_t pathlen);
/* ru_open_test_file(), the file opened with open(2) @flags (e.g. O_RDWR). */
int ru_open_test_file_flags(const char *tag, uint64_t size, uint64_t seed,
			    char *path, size_t pathlen, int flags);

/* --- page cache ------------------------------------------------------- */

/* Pages of [0, size) resident in the page cache (mincore), or -errno. */
long ru_resident_pages(int fd, uint64_t size);
/*
 * ru_resident_pages(), and the resident pages' indexes as a list of runs
 * ("0-15 300 1020-1024") in @buf, cut at @len bytes.
 */
long ru_resident_ranges(int fd, uint64_t size, char *buf, size_t len);
/*
 * Drop the file's pages without drop_caches (its block mapping stays
 * cached in the inode): fdatasync + posix_fadvise(DONTNEED), up to @tries
 * times 20 ms apart while pages stay (folios under readahead I/O cannot
 * go).  Returns the pages still resident, or -errno.
 */
long ru_drop_pages(int fd, uint64_t size, unsigned int tries);
/*
 * Evict the file cold: ru_drop_pages() once and, unless dry-run, sync +
 * drop_caches=3.  Returns the pages still resident, or -errno.
 */
long ru_evict(int fd, uint64_t size);
/* @n distinct offsets of blocks of @blk bytes in [0, @nr_blks * @blk). */
void ru_pick_blocks(uint64_t *rng, uint64_t *offs, unsigned int n,
		    uint64_t nr_blks, uint64_t blk);

/*
 * A thread that evicts pages while readers read: posix_fadvise(DONTNEED)
 * of a whole file or (with @ranges) of a random page range of one of
 * @nfiles files, a random pause below @pause_us between passes, until
 * *@stop.  @passes counts them; @err is a posix_fadvise error that ended
 * the thread.
 */
struct ru_evictor {
	const int *fds;
	const uint64_t *sizes;
	unsigned int nfiles;
	bool ranges;
	unsigned int pause_us;
	uint64_t rng;
	_Atomic bool *stop;
	unsigned long passes;
	int err;
};

void *ru_evictor_thread(void *evictor);
/*
 * Keep [off, off + len) of the file cached: mmap + mlock (which reads in
 * whatever is missing), so memory pressure cannot evict it until
 * ru_unpin().  Returns the pages of the whole file (of @size bytes) then
 * resident, or -errno.
 */
struct ru_pin {
	void *map;
	size_t len;
};

long ru_pin(int fd, uint64_t off, uint64_t len, uint64_t size,
	    struct ru_pin *pin);
void ru_unpin(struct ru_pin *pin);

/* --- sysfs, procfs, debugfs ------------------------------------------- */

/* Read a small file, trailing newline removed; length or -errno. */
ssize_t ru_read_str(const char *path, char *buf, size_t len);
/* Write @s with one write(2); 0 or -errno (the write's errno). */
int ru_write_str(const char *path, const char *s);
/* Same with O_APPEND (tracefs trigger files). */
int ru_append_str(const char *path, const char *s);
/* Integer sysctl; value >= 0 or -errno. */
int ru_sysctl_get(const char *path);
int ru_sysctl_set(const char *path, int val);

bool ru_module_loaded(void);
/* Module parameter "enabled": 1, 0 or -errno. */
int ru_module_enabled(void);
int ru_set_module_enabled(bool on);
/*
 * enabled=Y, retried for up to @timeout_s while the kernel says -EBUSY:
 * after an enabled=N write that a signal cut short, the readers of the
 * last registration drain in the background, and on 7.3 the hook sees
 * them gone a grace period after they left.  0 or -errno.
 */
int ru_enable_module(double timeout_s);
/* debugfs state "hooked"/"enabled" line: 1, 0 or -errno. */
int ru_state_get(const char *key);

/*
 * The counters of debugfs rasync/stats, by name: the module defines the
 * list (RASYNC_STATS in rust/rasync_shim.h), the tests look names up.
 */
#define RU_MAX_STATS	32

struct ru_stats {
	unsigned int n;
	char name[RU_MAX_STATS][32];
	uint64_t v[RU_MAX_STATS];
};

/* The counter @name; a name the module does not have fails the test. */
uint64_t ru_stat(const struct ru_stats *s, const char *name);
/* 0, -ENOENT without the module, -EPROTO if the file is malformed. */
int ru_stats_read(struct ru_stats *s);
int ru_stats_reset(void);
/* after - before, per counter */
void ru_stats_delta(const struct ru_stats *before, const struct ru_stats *after,
		    struct ru_stats *delta);
void ru_stats_format(const struct ru_stats *s, char *buf, size_t len);

/* --- failures ------------------------------------------------------------ */

/* Counts a failure in *@nbad; the first one's message goes to @msg. */
void ru_fail_first(unsigned int *nbad, char *msg, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* ru_fail_first() on the nbad and msg[] members of *@obj. */
#define RU_FAIL(obj, ...) \
	ru_fail_first(&(obj)->nbad, (obj)->msg, sizeof((obj)->msg), __VA_ARGS__)

/* --- the checking stream reader ---------------------------------------- */

/*
 * One io_uring ring with @qd reads in flight, of random ranges of random
 * lengths (some past EOF) of @nfiles files whose contents are
 * ru_pattern_fill(seeds[i]) of sizes[i] bytes.  Every read must return
 * exactly ru_expected_len() bytes, all right, with nothing written past
 * them; a read not completed in @hang_seconds is a hang.  Runs until
 * @deadline (ru_now_s()), @max_reads reads or *@stop.
 */
struct ru_sreader {
	/* set by the caller */
	const int *fds;
	const uint64_t *sizes;
	const uint64_t *seeds;
	unsigned int nfiles;
	unsigned int qd;
	uint32_t max_len;		/* largest read */
	bool large;			/* more and longer page runs */
	unsigned int hang_seconds;
	uint64_t rng;
	double deadline;		/* stop submitting at this time */
	unsigned long max_reads;	/* or after this many */
	_Atomic bool *stop;		/* or when this turns true */
	/* results */
	unsigned long reads;
	uint64_t bytes;
	unsigned int nbad;		/* wrong reads; msg says the first */
	int err;			/* ring failure, -ETIME on a hang */
	char msg[512];
};

void ru_sreader_run(struct ru_sreader *sr);
/* ru_sreader_run() as a pthread start routine. */
void *ru_sreader_thread(void *sr);

/* --- tracefs event counting -------------------------------------------- */

struct ru_evcount {
	bool hist;		/* hist trigger (exact Hits) or instance */
	bool active;
	char sysev[128];	/* <system>/<event> */
	char event_dir[256];	/* <tracefs>/events/<system>/<event> */
	char inst_dir[256];	/* instance used when there is no hist */
	char spec[64];
};

/*
 * 0 if the event can be counted, -ENOENT if tracefs or the event is not
 * there, or another -errno.
 */
/* The tracefs mount (/sys/kernel/tracing or under debugfs), or NULL. */
const char *ru_tracefs_root(void);
int ru_evcount_probe(const char *system, const char *event);
/* Start counting @system:@event from zero. */
int ru_evcount_start(struct ru_evcount *c, const char *system,
		     const char *event);
/* Events seen since start (system wide), or -errno. */
long long ru_evcount_read(struct ru_evcount *c);
void ru_evcount_stop(struct ru_evcount *c);

/* --- requests and the checking reader ---------------------------------- */

struct ru_req {
	uint64_t off;
	uint32_t len;
	int32_t res;		/* bytes read or -errno */
	uint64_t hash;		/* of the bytes read */
};

enum ru_op {
	RU_READ,
	RU_READV,
	RU_READ_FIXED,
	RU_PREAD,
};

const char *ru_op_name(enum ru_op op);

/* min(len, size - off), 0 at or past EOF */
uint32_t ru_expected_len(uint64_t off, uint32_t len, uint64_t size);

/*
 * Edge cases (zero length, unaligned, crossing pages, at/past EOF),
 * an unaligned sequential sweep and @nrand random requests of up to
 * @maxlen bytes.  Returns the number of requests (at most @max).
 */
unsigned int ru_gen_mixed(struct ru_req *q, unsigned int max, uint64_t size,
			  uint32_t maxlen, uint64_t seed, unsigned int nrand);
/* Every whole 4K block of the file once, in random order. */
unsigned int ru_gen_blocks(struct ru_req *q, unsigned int max, uint64_t size,
			   uint64_t seed);
/*
 * The whole file once, in pieces of 1 to @maxpages pages (the last one
 * ends at EOF, mid-page if the size is): in file order, or in random order
 * if @shuffle.
 */
unsigned int ru_gen_cover(struct ru_req *q, unsigned int max, uint64_t size,
			  unsigned int maxpages, uint64_t seed, bool shuffle);

struct ru_reader {
	struct io_uring ring;
	bool ring_ok;
	bool fixed;
	unsigned int qd;
	size_t slot_size;
	unsigned char *arena;	/* qd slots of slot_size bytes */
	struct iovec *iov;	/* 3 per slot, for READV */
	unsigned int *free_slots;
	unsigned int nfree;
};

/*
 * @qd: requests in flight at most; @slot_size: largest request;
 * @fixed: register the buffers (READ_FIXED); @ring_flags: io_uring setup
 * flags.  0 or -errno.
 */
int ru_reader_init(struct ru_reader *r, unsigned int qd, size_t slot_size,
		   bool fixed, unsigned int ring_flags);
void ru_reader_exit(struct ru_reader *r);
/*
 * The teardown of a fixture that checks a file with a reader: unpin @pin,
 * close @fd (if >= 0), ru_reader_exit(@r), free the request lists.
 */
void ru_reader_fixture_exit(struct ru_pin *pin, int fd, struct ru_reader *r,
			    struct ru_req *reqs, struct ru_req *ref);

struct ru_opts {
	enum ru_op op;
	unsigned int rw_flags;		/* sqe->rw_flags, e.g. RWF_NOWAIT */
	unsigned int sqe_flags;		/* e.g. IOSQE_ASYNC */
	bool allow_eagain;		/* res == -EAGAIN is not an error */
	bool allow_short;		/* 0 < res < expected is not an error */
	/* called once, right after the first batch is submitted */
	void (*after_submit)(void *arg);
	void *arg;
};

struct ru_result {
	unsigned int nbad;		/* requests that failed a check */
	uint64_t bytes;			/* bytes read in total */
	char msg[512];			/* the first failure */
};

/*
 * Read every request of @q, with at most r->qd in flight, and check it:
 * res is the expected length (or -EAGAIN/short when allowed), the bytes
 * match the generator, and nothing was written past res into the buffer.
 * Stores res and hash in @q.  Returns the number of bad requests, or
 * -errno if the ring itself failed.
 */
int ru_run(struct ru_reader *r, int fd, const struct ru_opts *o,
	   struct ru_req *q, unsigned int n, uint64_t seed, uint64_t size,
	   struct ru_result *out);

/*
 * -1 if @a and @b have the same res and hash for every request, else the
 * first differing index (described in @msg).
 */
int ru_compare(const struct ru_req *a, const struct ru_req *b, unsigned int n,
	       char *msg, size_t len);

/* --- modules ----------------------------------------------------------- */

/* $RASYNC_KO, default /rasync/rasync.ko */
const char *ru_module_path(void);
/* finit_module(@path, @params); 0 or -errno */
int ru_module_load(const char *path, const char *params);
/* Loads ru_module_path() unless rasync is loaded; 0 or -errno. */
int ru_module_ensure_loaded(void);
/* delete_module("rasync", O_NONBLOCK); 0 or -errno */
int ru_module_unload(void);

#endif /* RASYNC_UTIL_H */
