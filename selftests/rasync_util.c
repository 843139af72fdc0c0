// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the rasync selftests (see rasync_util.h).
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rasync_util.h"

#define POISON		0xA5
/* bytes past the requested length that must stay untouched */
#define GUARD		256

static pid_t ru_main_pid;

/* The main process remembers itself; test children inherit the value. */
static void __attribute__((constructor)) ru_init(void)
{
	ru_main_pid = getpid();
}

/* The main process removes the files its tests created. */
static void __attribute__((destructor)) ru_fini(void)
{
	char suffix[32], path[PATH_MAX];
	struct dirent *de;
	size_t n, sl;
	DIR *d;

	if (getpid() != ru_main_pid)
		return;
	d = opendir(ru_scratch_dir());
	if (!d)
		return;
	snprintf(suffix, sizeof(suffix), "-%d.dat", (int)ru_main_pid);
	sl = strlen(suffix);
	while ((de = readdir(d))) {
		n = strlen(de->d_name);
		if (strncmp(de->d_name, "rasync-", 7) || n < sl ||
		    strcmp(de->d_name + n - sl, suffix))
			continue;
		snprintf(path, sizeof(path), "%s/%s", ru_scratch_dir(),
			 de->d_name);
		unlink(path);
	}
	closedir(d);
}

/* --- environment ------------------------------------------------------ */

const char *ru_scratch_dir(void)
{
	const char *s = getenv("RASYNC_SCRATCH");

	return s && *s ? s : "/mnt/scratch";
}

bool ru_host_dryrun(void)
{
	const char *s = getenv("RASYNC_HOST_DRYRUN");

	return s && !strcmp(s, "1");
}

uint64_t ru_seed(void)
{
	const char *s = getenv("RASYNC_SEED");

	return s && *s ? strtoull(s, NULL, 0) : 0x5eed;
}

double ru_time_budget(double def)
{
	const char *s = getenv("RASYNC_STRESS_TIME");

	return s && *s ? strtod(s, NULL) : def;
}

double ru_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int ru_scratch_fs_ok(unsigned long *magic)
{
	struct statfs sfs;

	if (statfs(ru_scratch_dir(), &sfs))
		return -errno;
	*magic = (unsigned long)sfs.f_type;
	switch (*magic) {
	case EXT4_SUPER_MAGIC:
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case F2FS_SUPER_MAGIC:
		return 0;
	}
	return -EOPNOTSUPP;
}

const char *ru_fs_name(unsigned long magic)
{
	switch (magic) {
	case EXT4_SUPER_MAGIC:
		return "ext4";
	case XFS_SUPER_MAGIC:
		return "xfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case F2FS_SUPER_MAGIC:
		return "f2fs";
	}
	return "?";
}

/* --- file content ----------------------------------------------------- */

static inline uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* 8-byte word number @w of the file; byte k of it sits at offset 8w + k. */
static inline uint64_t pattern_word(uint64_t seed, uint64_t w)
{
	return splitmix64(seed ^ (w * 0xD1B54A32D192ED03ULL));
}

static inline uint8_t pattern_byte(uint64_t seed, uint64_t off)
{
	return pattern_word(seed, off >> 3) >> (8 * (off & 7));
}

void ru_pattern_fill(void *buf, uint64_t seed, uint64_t off, size_t len)
{
	unsigned char *p = buf;
	uint64_t le;

	while (len && (off & 7)) {
		*p++ = pattern_byte(seed, off++);
		len--;
	}
	while (len >= 8) {
		le = htole64(pattern_word(seed, off >> 3));
		memcpy(p, &le, 8);
		p += 8;
		off += 8;
		len -= 8;
	}
	while (len--)
		*p++ = pattern_byte(seed, off++);
}

ssize_t ru_pattern_check(const void *buf, uint64_t seed, uint64_t off,
			 size_t len)
{
	const unsigned char *p = buf;
	size_t i = 0;
	uint64_t le;

	while (i < len && ((off + i) & 7)) {
		if (p[i] != pattern_byte(seed, off + i))
			return i;
		i++;
	}
	while (len - i >= 8) {
		le = htole64(pattern_word(seed, (off + i) >> 3));
		if (memcmp(p + i, &le, 8))
			break;
		i += 8;
	}
	for (; i < len; i++)
		if (p[i] != pattern_byte(seed, off + i))
			return i;
	return -1;
}

static int create_file(const char *path, uint64_t size, uint64_t seed)
{
	const size_t chunk = 1 << 20;
	uint64_t off = 0;
	int fd, ret = 0;
	ssize_t n;
	void *buf;

	buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	while (off < size) {
		size_t len = size - off < chunk ? size - off : chunk;

		ru_pattern_fill(buf, seed, off, len);
		n = pwrite(fd, buf, len, off);
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0) {
			ret = -EIO;
			break;
		}
		off += n;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
out:
	free(buf);
	return ret;
}

int ru_open_test_file(const char *tag, uint64_t size, uint64_t seed,
		      char *path, size_t pathlen)
{
	return ru_open_test_file_flags(tag, size, seed, path, pathlen,
				       O_RDONLY);
}

int ru_open_test_file_flags(const char *tag, uint64_t size, uint64_t seed,
			    char *path, size_t pathlen, int flags)
{
	char tmp[PATH_MAX];
	struct stat st;
	int fd, ret;

	snprintf(path, pathlen, "%s/rasync-%s-%d.dat", ru_scratch_dir(), tag,
		 (int)ru_main_pid);
	if (!stat(path, &st) && (uint64_t)st.st_size == size)
		goto open;
	/* Create under a temporary name: the final name is always complete. */
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	ret = create_file(tmp, size, seed);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
open:
	fd = open(path, flags);
	return fd < 0 ? -errno : fd;
}

/* --- page cache ------------------------------------------------------- */

/* Append "a" or "a-b" (page indexes) to the list in @buf. */
static void add_range(char *buf, size_t len, size_t *pos, size_t a, size_t b)
{
	if (*pos >= len)
		return;
	if (a == b)
		*pos += snprintf(buf + *pos, len - *pos, "%s%zu",
				 *pos ? " " : "", a);
	else
		*pos += snprintf(buf + *pos, len - *pos, "%s%zu-%zu",
				 *pos ? " " : "", a, b);
}

long ru_resident_ranges(int fd, uint64_t size, char *buf, size_t len)
{
	size_t pg = sysconf(_SC_PAGESIZE), npages = (size + pg - 1) / pg, i, j;
	size_t pos = 0;
	unsigned char *vec;
	long n = 0;
	void *map;

	if (buf && len)
		buf[0] = '\0';
	if (!size)
		return 0;
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	vec = malloc(npages);
	if (!vec) {
		munmap(map, size);
		return -ENOMEM;
	}
	if (mincore(map, size, vec)) {
		n = -errno;
	} else {
		/* each run of resident pages [i, j); page j is not */
		for (i = 0; i < npages; i = j + 1) {
			for (j = i; j < npages && (vec[j] & 1); j++)
				;
			n += j - i;
			if (buf && j > i)
				add_range(buf, len, &pos, i, j - 1);
		}
	}
	free(vec);
	munmap(map, size);
	return n;
}

long ru_resident_pages(int fd, uint64_t size)
{
	return ru_resident_ranges(fd, size, NULL, 0);
}

long ru_drop_pages(int fd, uint64_t size, unsigned int tries)
{
	long pages = 0;
	unsigned int i;
	int ret;

	if (fdatasync(fd))
		return -errno;
	for (i = 0; i < tries; i++) {
		if (i)
			usleep(20000);
		ret = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (ret)
			return -ret;
		pages = ru_resident_pages(fd, size);
		if (pages <= 0)
			break;
	}
	return pages;
}

long ru_evict(int fd, uint64_t size)
{
	long pages = ru_drop_pages(fd, size, 1);
	int ret;

	if (pages < 0 || ru_host_dryrun())
		return pages;
	/* also what DONTNEED leaves: the block mapping, dentries and inodes */
	sync();
	ret = ru_write_str(DROP_CACHES, "3");
	if (ret)
		return ret;
	return ru_resident_pages(fd, size);
}

void ru_pick_blocks(uint64_t *rng, uint64_t *offs, unsigned int n,
		    uint64_t nr_blks, uint64_t blk)
{
	unsigned int i, j;

	for (i = 0; i < n; i++) {
again:
		offs[i] = (ru_xorshift64(rng) % nr_blks) * blk;
		for (j = 0; j < i; j++)
			if (offs[j] == offs[i])
				goto again;
	}
}

void *ru_evictor_thread(void *evictor)
{
	struct ru_evictor *e = evictor;
	uint64_t r, off, len;
	unsigned int f;
	int ret;

	while (!atomic_load(e->stop)) {
		r = ru_xorshift64(&e->rng);
		f = (r >> 40) % e->nfiles;
		off = 0;
		len = 0;	/* to the end */
		if (e->ranges && r % 3) {
			off = ru_xorshift64(&e->rng) % e->sizes[f];
			off &= ~(uint64_t)(RU_PAGE - 1);
			len = RU_PAGE * (1 + (r >> 8) % 256);
		}
		ret = posix_fadvise(e->fds[f], off, len, POSIX_FADV_DONTNEED);
		if (ret) {
			e->err = ret;
			break;
		}
		e->passes++;
		usleep((r >> 16) % e->pause_us);
	}
	return NULL;
}

long ru_pin(int fd, uint64_t off, uint64_t len, uint64_t size,
	    struct ru_pin *pin)
{
	void *map;

	ru_unpin(pin);
	if (!len)
		return ru_resident_pages(fd, size);
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);
	if (map == MAP_FAILED)
		return -errno;
	if (mlock(map, len)) {
		munmap(map, len);
		return -errno;
	}
	pin->map = map;
	pin->len = len;
	return ru_resident_pages(fd, size);
}

void ru_unpin(struct ru_pin *pin)
{
	if (pin->map)
		munmap(pin->map, pin->len);
	pin->map = NULL;
	pin->len = 0;
}

/* --- sysfs, procfs, debugfs ------------------------------------------- */

ssize_t ru_read_str(const char *path, char *buf, size_t len)
{
	ssize_t n, total = 0;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while ((size_t)total < len - 1) {
		n = read(fd, buf + total, len - 1 - total);
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (!n)
			break;
		total += n;
	}
	close(fd);
	buf[total] = 0;
	while (total && buf[total - 1] == '\n')
		buf[--total] = 0;
	return total;
}

static int write_str(const char *path, const char *s, int flags)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | flags);
	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0)
		n = -errno;
	else if ((size_t)n != len)
		n = -EIO;
	else
		n = 0;
	close(fd);
	return n;
}

int ru_write_str(const char *path, const char *s)
{
	return write_str(path, s, O_TRUNC);
}

int ru_append_str(const char *path, const char *s)
{
	return write_str(path, s, O_APPEND);
}

int ru_sysctl_get(const char *path)
{
	char buf[32];
	ssize_t n;

	n = ru_read_str(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	return atoi(buf);
}

int ru_sysctl_set(const char *path, int val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d\n", val);
	return ru_write_str(path, buf);
}

bool ru_module_loaded(void)
{
	return !access(RASYNC_SYSFS, F_OK);
}

int ru_module_enabled(void)
{
	char buf[16];
	ssize_t n;

	n = ru_read_str(RASYNC_PARAM_ENABLED, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (!strcmp(buf, "Y"))
		return 1;
	if (!strcmp(buf, "N"))
		return 0;
	return -EPROTO;
}

int ru_set_module_enabled(bool on)
{
	return ru_write_str(RASYNC_PARAM_ENABLED, on ? "Y\n" : "N\n");
}

int ru_enable_module(double timeout_s)
{
	double t0 = ru_now_s();
	int ret;

	while ((ret = ru_set_module_enabled(true)) == -EBUSY &&
	       ru_now_s() - t0 < timeout_s)
		usleep(10000);
	return ret;
}

int ru_state_get(const char *key)
{
	char buf[512], *line, *save = NULL;
	size_t kl = strlen(key);
	ssize_t n;

	n = ru_read_str(RASYNC_STATE, buf, sizeof(buf));
	if (n < 0)
		return n;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, key, kl) && line[kl] == ' ') {
			if (!strcmp(line + kl + 1, "1"))
				return 1;
			if (!strcmp(line + kl + 1, "0"))
				return 0;
			return -EPROTO;
		}
	}
	return -EPROTO;
}

int ru_stats_read(struct ru_stats *s)
{
	char buf[4096], *line, *save = NULL;
	unsigned long long v;
	ssize_t n;

	memset(s, 0, sizeof(*s));
	n = ru_read_str(RASYNC_STATS, buf, sizeof(buf));
	if (n < 0)
		return n;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (s->n == RU_MAX_STATS ||
		    sscanf(line, "%31s %llu", s->name[s->n], &v) != 2)
			return -EPROTO;
		s->v[s->n++] = v;
	}
	return s->n ? 0 : -EPROTO;
}

static const uint64_t *stat_find(const struct ru_stats *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return &s->v[i];
	return NULL;
}

uint64_t ru_stat(const struct ru_stats *s, const char *name)
{
	const uint64_t *v = stat_find(s, name);

	if (v)
		return *v;
	fprintf(stderr, "# %s has no counter '%s'\n", RASYNC_STATS, name);
	exit(1);
}

int ru_stats_reset(void)
{
	return ru_write_str(RASYNC_STATS, "reset\n");
}

/* Per name of @after; a counter @before lacks counts from 0. */
void ru_stats_delta(const struct ru_stats *before, const struct ru_stats *after,
		    struct ru_stats *delta)
{
	const uint64_t *b;
	unsigned int i;

	*delta = *after;
	for (i = 0; i < after->n; i++) {
		b = stat_find(before, after->name[i]);
		delta->v[i] = after->v[i] - (b ? *b : 0);
	}
}

void ru_stats_format(const struct ru_stats *s, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i;

	buf[0] = 0;
	for (i = 0; i < s->n && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s=%" PRIu64,
				i ? " " : "", s->name[i], s->v[i]);
}

/* --- failures ------------------------------------------------------------ */

void ru_fail_first(unsigned int *nbad, char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!(*nbad)++) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
}

/* --- the checking stream reader ---------------------------------------- */

struct sslot {
	unsigned int file;
	uint64_t off;
	uint32_t len;
};

/* One read: a file, an offset up to two pages past its end, a length. */
static void sr_pick(struct ru_sreader *sr, struct sslot *s)
{
	/* by eighths: small unaligned, page runs, any length, aligned 4K */
	static const unsigned char mix[2][8] = {
		{ 0, 0, 0, 1, 1, 2, 3, 3 },
		{ 0, 0, 1, 1, 1, 2, 2, 3 },	/* large: more and longer runs */
	};
	uint64_t r = ru_xorshift64(&sr->rng), size;

	s->file = (r >> 40) % sr->nfiles;
	size = sr->sizes[s->file];
	s->off = ru_xorshift64(&sr->rng) % (size + 2 * RU_PAGE);
	switch (mix[sr->large][r % 8]) {
	case 0:
		s->len = 1 + (r >> 8) % (2 * RU_PAGE);
		break;
	case 1:
		s->len = RU_PAGE * (1 + (r >> 8) % (sr->large ? 64 : 16));
		break;
	case 2:
		s->len = 1 + (r >> 8) % sr->max_len;
		break;
	default:
		s->off &= ~(uint64_t)(RU_PAGE - 1);
		s->len = RU_PAGE;
		break;
	}
}

static void sr_check(struct ru_sreader *sr, const struct sslot *s, int res,
			  const unsigned char *buf)
{
	uint32_t want = ru_expected_len(s->off, s->len, sr->sizes[s->file]);
	uint64_t seed = sr->seeds[s->file];
	ssize_t bad;
	uint32_t i;

	sr->reads++;
	if (res != (int)want) {
		RU_FAIL(sr, "file %u off %" PRIu64 " len %u: res %d%s%s, want %u",
			     s->file, s->off, s->len, res,
			     res < 0 ? " " : "", res < 0 ? strerror(-res) : "",
			     want);
		return;
	}
	sr->bytes += res;
	bad = ru_pattern_check(buf, seed, s->off, res);
	if (bad >= 0) {
		unsigned char want_b;

		ru_pattern_fill(&want_b, seed, s->off + bad, 1);
		RU_FAIL(sr, "file %u off %" PRIu64 " len %u: byte at file offset %" PRIu64 " is 0x%02x, want 0x%02x",
			     s->file, s->off, s->len, s->off + bad, buf[bad],
			     want_b);
		return;
	}
	for (i = res; i < s->len + GUARD; i++) {
		if (buf[i] != POISON) {
			RU_FAIL(sr, "file %u off %" PRIu64 " len %u: buffer byte %u written past the result",
				     s->file, s->off, s->len, i);
			return;
		}
	}
}

void ru_sreader_run(struct ru_sreader *sr)
{
	struct __kernel_timespec ts = { .tv_sec = sr->hang_seconds };
	struct sslot *slots;
	unsigned int inflight = 0, slot;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct ru_reader r;
	unsigned char *buf;
	int ret;

	slots = calloc(sr->qd, sizeof(*slots));
	ret = slots ? ru_reader_init(&r, sr->qd, sr->max_len + GUARD, false, 0) : -ENOMEM;
	if (ret) {
		free(slots);
		sr->err = ret;
		snprintf(sr->msg, sizeof(sr->msg), "io_uring set-up: %s",
			 strerror(-ret));
		return;
	}
	for (;;) {
		bool stopping = ru_now_s() >= sr->deadline ||
				sr->reads + inflight >= sr->max_reads ||
				(sr->stop && atomic_load(sr->stop));

		while (!stopping && r.nfree) {
			sqe = io_uring_get_sqe(&r.ring);
			if (!sqe)
				break;
			slot = r.free_slots[--r.nfree];
			sr_pick(sr, &slots[slot]);
			buf = r.arena + (size_t)slot * r.slot_size;
			memset(buf, POISON, slots[slot].len + GUARD);
			io_uring_prep_read(sqe, sr->fds[slots[slot].file], buf,
					   slots[slot].len, slots[slot].off);
			io_uring_sqe_set_data64(sqe, slot);
			inflight++;
		}
		ret = io_uring_submit(&r.ring);
		if (ret < 0) {
			sr->err = ret;
			snprintf(sr->msg, sizeof(sr->msg), "io_uring_submit: %s",
				 strerror(-ret));
			break;
		}
		if (!inflight)
			break;
		do {
			ret = io_uring_wait_cqe_timeout(&r.ring, &cqe, &ts);
		} while (ret == -EINTR);
		if (ret < 0) {
			sr->err = ret;
			if (ret == -ETIME)
				snprintf(sr->msg, sizeof(sr->msg),
					 "hang: no read completed in %d s with %u in flight",
					 sr->hang_seconds, inflight);
			else
				snprintf(sr->msg, sizeof(sr->msg),
					 "io_uring_wait_cqe: %s",
					 strerror(-ret));
			/* a stuck ring is left alone: closing it would not help */
			free(slots);
			return;
		}
		while (!io_uring_peek_cqe(&r.ring, &cqe)) {
			slot = io_uring_cqe_get_data64(cqe);
			ret = cqe->res;
			io_uring_cqe_seen(&r.ring, cqe);
			if (slot >= sr->qd) {
				sr->err = -EPROTO;
				snprintf(sr->msg, sizeof(sr->msg),
					 "bad user_data %u", slot);
				free(slots);
				return;
			}
			sr_check(sr, &slots[slot], ret,
				      r.arena + (size_t)slot * r.slot_size);
			r.free_slots[r.nfree++] = slot;
			inflight--;
		}
	}
	ru_reader_exit(&r);
	free(slots);
}

void *ru_sreader_thread(void *arg)
{
	ru_sreader_run(arg);
	return NULL;
}

/* --- tracefs event counting -------------------------------------------- */

const char *ru_tracefs_root(void)
{
	static const char *const roots[] = {
		"/sys/kernel/tracing",
		"/sys/kernel/debug/tracing",
	};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/events", roots[i]);
		if (!access(path, F_OK))
			return roots[i];
	}
	return NULL;
}

int ru_evcount_probe(const char *system, const char *event)
{
	const char *root = ru_tracefs_root();
	char path[PATH_MAX];

	if (!root)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/events/%s/%s/trigger", root, system,
		 event);
	if (access(path, W_OK))
		return -errno;
	return 0;
}

int ru_evcount_start(struct ru_evcount *c, const char *system,
		     const char *event)
{
	const char *root = ru_tracefs_root();
	char path[PATH_MAX + 64];
	int ret;

	memset(c, 0, sizeof(*c));
	if (!root)
		return -ENOENT;
	snprintf(c->sysev, sizeof(c->sysev), "%s/%s", system, event);
	snprintf(c->event_dir, sizeof(c->event_dir), "%s/events/%s", root,
		 c->sysev);
	snprintf(path, sizeof(path), "%s/hist", c->event_dir);
	if (!access(path, F_OK)) {
		/* CONFIG_HIST_TRIGGERS: an exact count, nothing recorded */
		c->hist = true;
		snprintf(c->spec, sizeof(c->spec), "hist:keys=common_pid");
		snprintf(path, sizeof(path), "%s/trigger", c->event_dir);
		/* a trigger left by a killed run would make ours -EEXIST */
		ru_append_str(path, "!hist:keys=common_pid");
		ret = ru_append_str(path, c->spec);
		if (ret)
			return ret;
		c->active = true;
		return 0;
	}
	/* otherwise: enable the event in a private instance and count it */
	snprintf(c->inst_dir, sizeof(c->inst_dir), "%s/instances/rasync-%d",
		 root, (int)getpid());
	if (mkdir(c->inst_dir, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/events/%s/enable", c->inst_dir,
		 c->sysev);
	ret = ru_write_str(path, "1");
	if (ret) {
		rmdir(c->inst_dir);
		return ret;
	}
	c->active = true;
	return 0;
}

static long long find_count(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	if (!p)
		return -EPROTO;
	return strtoll(p + strlen(key), NULL, 10);
}

long long ru_evcount_read(struct ru_evcount *c)
{
	char path[PATH_MAX + 64], *buf, *p;
	size_t len = 1 << 20;
	long long n;
	ssize_t got;

	if (!c->active)
		return -EINVAL;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	if (c->hist) {
		snprintf(path, sizeof(path), "%s/hist", c->event_dir);
		got = ru_read_str(path, buf, len);
		/* ours, if someone else has a histogram on the event too */
		p = got < 0 ? NULL : strstr(buf, "trigger info: hist:keys=common_pid:");
		n = got < 0 ? got : find_count(p ? p : buf, "Hits: ");
	} else {
		/* "# entries-in-buffer/entries-written: 3/7   #P:2" */
		long long in_buf, written;

		snprintf(path, sizeof(path), "%s/trace", c->inst_dir);
		got = ru_read_str(path, buf, 64 << 10);
		p = got < 0 ? NULL : strstr(buf, "entries-written: ");
		if (got < 0)
			n = got;
		else if (!p || sscanf(p + 17, "%lld/%lld", &in_buf, &written) != 2)
			n = -EPROTO;
		else
			n = written;
	}
	free(buf);
	return n;
}

void ru_evcount_stop(struct ru_evcount *c)
{
	char path[PATH_MAX + 64];

	if (!c->active)
		return;
	if (c->hist) {
		snprintf(path, sizeof(path), "%s/trigger", c->event_dir);
		ru_append_str(path, "!hist:keys=common_pid");
	} else {
		snprintf(path, sizeof(path), "%s/events/%s/enable", c->inst_dir,
			 c->sysev);
		ru_write_str(path, "0");
		rmdir(c->inst_dir);
	}
	c->active = false;
}

/* --- requests and the checking reader ---------------------------------- */

const char *ru_op_name(enum ru_op op)
{
	switch (op) {
	case RU_READ:
		return "READ";
	case RU_READV:
		return "READV";
	case RU_READ_FIXED:
		return "READ_FIXED";
	case RU_PREAD:
		return "pread";
	}
	return "?";
}

uint32_t ru_expected_len(uint64_t off, uint32_t len, uint64_t size)
{
	if (off >= size)
		return 0;
	return size - off < len ? size - off : len;
}

bool ru_wait_flag(const int *flag, double end)
{
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (ru_now_s() > end)
			return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
		usleep(1000);
	}
	return true;
}

int ru_wait_until(pid_t pid, int *status, double end)
{
	pid_t ret;

	for (;;) {
		ret = waitpid(pid, status, WNOHANG);
		if (ret == pid)
			return 1;
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ru_now_s() > end)
			return 0;
		usleep(2000);
	}
}

uint64_t ru_xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void add_req(struct ru_req *q, unsigned int *n, unsigned int max,
		    uint64_t off, uint64_t len)
{
	if (*n >= max)
		return;
	q[*n].off = off;
	q[*n].len = len;
	q[*n].res = 0;
	q[*n].hash = 0;
	(*n)++;
}

unsigned int ru_gen_mixed(struct ru_req *q, unsigned int max, uint64_t size,
			  uint32_t maxlen, uint64_t seed, unsigned int nrand)
{
	uint64_t s = splitmix64(seed) | 1, off, r;
	uint64_t pgend = size & ~(uint64_t)(RU_PAGE - 1);
	unsigned int n = 0, i;
	uint32_t len;

	/* zero length, at the start, in the middle, at and past EOF */
	add_req(q, &n, max, 0, 0);
	add_req(q, &n, max, size / 2 + 3, 0);
	add_req(q, &n, max, size, 0);
	/* single bytes and unaligned pieces crossing page boundaries */
	add_req(q, &n, max, 0, 1);
	add_req(q, &n, max, 1, RU_PAGE - 1);
	add_req(q, &n, max, RU_PAGE - 1, 2);
	add_req(q, &n, max, 2 * RU_PAGE - 7, RU_PAGE + 14);
	add_req(q, &n, max, 3, 3 * RU_PAGE + 5);
	add_req(q, &n, max, 2 * RU_PAGE, RU_PAGE);
	add_req(q, &n, max, (size / 2) & ~(uint64_t)(RU_PAGE - 1), 65536);
	add_req(q, &n, max, 12345, 131072 + 7);
	add_req(q, &n, max, 0, maxlen);
	/* around EOF: exactly up to it, across it (short), at it, past it */
	add_req(q, &n, max, size - 1, 1);
	add_req(q, &n, max, size - 100, 100);
	add_req(q, &n, max, size - 100, RU_PAGE);
	add_req(q, &n, max, pgend, RU_PAGE);
	add_req(q, &n, max, size - maxlen + 3, maxlen);
	add_req(q, &n, max, size, RU_PAGE);
	add_req(q, &n, max, size + 1, 10);
	add_req(q, &n, max, size + 5000, RU_PAGE);
	add_req(q, &n, max, pgend + 2 * RU_PAGE, 3 * RU_PAGE);
	add_req(q, &n, max, 1ULL << 40, RU_PAGE);
	/* an unaligned sequential sweep over the whole file and past EOF */
	for (off = 777; off < size + RU_PAGE; off += 65536 - 333)
		add_req(q, &n, max, off, 65536 - 333);
	/* random offsets (some past EOF) and lengths */
	for (i = 0; i < nrand; i++) {
		r = ru_xorshift64(&s);
		off = ru_xorshift64(&s) % (size + 4 * RU_PAGE);
		switch (r % 10) {
		case 0 ... 4:	/* small, unaligned */
			len = 1 + (r >> 8) % (2 * RU_PAGE);
			break;
		case 5 ... 7:	/* page multiples, unaligned offset */
			len = RU_PAGE * (1 + (r >> 8) % 16);
			break;
		case 8:		/* anything up to the largest buffer */
			len = 1 + (r >> 8) % maxlen;
			break;
		default:	/* aligned 4K */
			off &= ~(uint64_t)(RU_PAGE - 1);
			len = RU_PAGE;
			break;
		}
		add_req(q, &n, max, off, len);
	}
	return n;
}

unsigned int ru_gen_blocks(struct ru_req *q, unsigned int max, uint64_t size,
			   uint64_t seed)
{
	uint64_t s = splitmix64(seed) | 1;
	unsigned int n = 0, i, j;
	struct ru_req t;

	for (i = 0; i < size / RU_PAGE; i++)
		add_req(q, &n, max, (uint64_t)i * RU_PAGE, RU_PAGE);
	for (i = n; i > 1; i--) {	/* Fisher-Yates */
		j = ru_xorshift64(&s) % i;
		t = q[i - 1];
		q[i - 1] = q[j];
		q[j] = t;
	}
	return n;
}

unsigned int ru_gen_cover(struct ru_req *q, unsigned int max, uint64_t size,
			  unsigned int maxpages, uint64_t seed, bool shuffle)
{
	uint64_t s = splitmix64(seed) | 1, off, len;
	unsigned int n = 0, i, j;
	struct ru_req t;

	for (off = 0; off < size && n < max; off += len) {
		len = RU_PAGE * (1 + ru_xorshift64(&s) % maxpages);
		if (len > size - off)
			len = size - off;
		add_req(q, &n, max, off, len);
	}
	for (i = shuffle ? n : 0; i > 1; i--) {	/* Fisher-Yates */
		j = ru_xorshift64(&s) % i;
		t = q[i - 1];
		q[i - 1] = q[j];
		q[j] = t;
	}
	return n;
}

int ru_reader_init(struct ru_reader *r, unsigned int qd, size_t slot_size,
		   bool fixed, unsigned int ring_flags)
{
	struct iovec whole;
	unsigned int i;
	int ret;

	memset(r, 0, sizeof(*r));
	r->qd = qd;
	r->slot_size = slot_size;
	r->fixed = fixed;
	r->arena = mmap(NULL, qd * slot_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->arena == MAP_FAILED) {
		r->arena = NULL;
		return -errno;
	}
	r->iov = calloc(3 * qd, sizeof(*r->iov));
	r->free_slots = calloc(qd, sizeof(*r->free_slots));
	if (!r->iov || !r->free_slots) {
		ru_reader_exit(r);
		return -ENOMEM;
	}
	for (i = 0; i < qd; i++)
		r->free_slots[i] = qd - 1 - i;
	r->nfree = qd;
	ret = io_uring_queue_init(qd < 4 ? 4 : qd, &r->ring, ring_flags);
	if (ret) {
		ru_reader_exit(r);
		return ret;
	}
	r->ring_ok = true;
	if (fixed) {
		whole.iov_base = r->arena;
		whole.iov_len = qd * slot_size;
		ret = io_uring_register_buffers(&r->ring, &whole, 1);
		if (ret) {
			ru_reader_exit(r);
			return ret;
		}
	}
	return 0;
}

void ru_reader_exit(struct ru_reader *r)
{
	if (r->ring_ok)
		io_uring_queue_exit(&r->ring);
	r->ring_ok = false;
	if (r->arena)
		munmap(r->arena, r->qd * r->slot_size);
	r->arena = NULL;
	free(r->iov);
	r->iov = NULL;
	free(r->free_slots);
	r->free_slots = NULL;
}

void ru_reader_fixture_exit(struct ru_pin *pin, int fd, struct ru_reader *r,
			    struct ru_req *reqs, struct ru_req *ref)
{
	ru_unpin(pin);
	if (fd >= 0)
		close(fd);
	ru_reader_exit(r);
	free(reqs);
	free(ref);
}

static uint64_t hash_bytes(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

/* Bytes of a buffer poisoned before a request and checked after it. */
static size_t poison_len(const struct ru_req *q, size_t slot_size)
{
	return q->len + GUARD < slot_size ? q->len + GUARD : slot_size;
}

static void check_one(const struct ru_opts *o, struct ru_req *q,
		      unsigned int idx, const unsigned char *buf,
		      size_t slot_size, uint64_t seed, uint64_t size,
		      struct ru_result *out)
{
	uint32_t want = ru_expected_len(q->off, q->len, size);
	ssize_t bad;
	size_t i;

	q->hash = 0;
	if (q->res < 0) {
		if (!(o->allow_eagain && q->res == -EAGAIN))
			RU_FAIL(out, "%s req %u off %" PRIu64 " len %u: res %d (%s), want %u",
			     ru_op_name(o->op), idx, q->off, q->len, q->res,
			     strerror(-q->res), want);
		return;
	}
	if ((uint32_t)q->res != want &&
	    !(o->allow_short && q->res > 0 && (uint32_t)q->res < want)) {
		RU_FAIL(out, "%s req %u off %" PRIu64 " len %u: res %d, want %u",
		     ru_op_name(o->op), idx, q->off, q->len, q->res, want);
		return;
	}
	out->bytes += q->res;
	bad = ru_pattern_check(buf, seed, q->off, q->res);
	if (bad >= 0) {
		RU_FAIL(out, "%s req %u off %" PRIu64 " len %u res %d: byte at file offset %" PRIu64 " is 0x%02x, want 0x%02x",
		     ru_op_name(o->op), idx, q->off, q->len, q->res,
		     q->off + bad, buf[bad], pattern_byte(seed, q->off + bad));
		return;
	}
	for (i = q->res; i < poison_len(q, slot_size); i++) {
		if (buf[i] != POISON) {
			RU_FAIL(out, "%s req %u off %" PRIu64 " len %u res %d: buffer byte %zu written past the result",
			     ru_op_name(o->op), idx, q->off, q->len, q->res, i);
			return;
		}
	}
	q->hash = hash_bytes(buf, q->res);
}

static int run_pread(struct ru_reader *r, int fd, const struct ru_opts *o,
		     struct ru_req *q, unsigned int n, uint64_t seed,
		     uint64_t size, struct ru_result *out)
{
	unsigned int i;
	ssize_t ret;

	for (i = 0; i < n; i++) {
		memset(r->arena, POISON, poison_len(&q[i], r->slot_size));
		ret = pread(fd, r->arena, q[i].len, q[i].off);
		q[i].res = ret < 0 ? -errno : ret;
		check_one(o, &q[i], i, r->arena, r->slot_size, seed, size, out);
	}
	return out->nbad;
}

int ru_run(struct ru_reader *r, int fd, const struct ru_opts *o,
	   struct ru_req *q, unsigned int n, uint64_t seed, uint64_t size,
	   struct ru_result *out)
{
	unsigned int next = 0, inflight = 0, done = 0, slot, i;
	bool called = false;
	unsigned int *slot_of;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	unsigned char *buf;
	struct iovec *iov;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		if (q[i].len > r->slot_size)
			return -EINVAL;
	}
	if (o->op == RU_PREAD)
		return run_pread(r, fd, o, q, n, seed, size, out);
	if (o->op == RU_READ_FIXED && !r->fixed)
		return -EINVAL;
	slot_of = calloc(n ? n : 1, sizeof(*slot_of));
	if (!slot_of)
		return -ENOMEM;

	while (done < n) {
		while (next < n && r->nfree) {
			sqe = io_uring_get_sqe(&r->ring);
			if (!sqe)
				break;
			slot = r->free_slots[--r->nfree];
			slot_of[next] = slot;
			buf = r->arena + (size_t)slot * r->slot_size;
			memset(buf, POISON, poison_len(&q[next], r->slot_size));
			switch (o->op) {
			case RU_READ:
				io_uring_prep_read(sqe, fd, buf, q[next].len,
						   q[next].off);
				break;
			case RU_READV:
				/* three segments, the middle one empty */
				iov = &r->iov[3 * slot];
				iov[0].iov_base = buf;
				iov[0].iov_len = q[next].len / 3;
				iov[1].iov_base = buf + iov[0].iov_len;
				iov[1].iov_len = 0;
				iov[2].iov_base = buf + iov[0].iov_len;
				iov[2].iov_len = q[next].len - iov[0].iov_len;
				io_uring_prep_readv(sqe, fd, iov, 3,
						    q[next].off);
				break;
			case RU_READ_FIXED:
				io_uring_prep_read_fixed(sqe, fd, buf,
							 q[next].len,
							 q[next].off, 0);
				break;
			default:
				ret = -EINVAL;
				goto out;
			}
			sqe->rw_flags = o->rw_flags;
			sqe->flags |= o->sqe_flags;
			io_uring_sqe_set_data64(sqe, next);
			next++;
			inflight++;
		}
		ret = io_uring_submit(&r->ring);
		if (ret < 0)
			goto out;
		if (o->after_submit && !called) {
			called = true;
			o->after_submit(o->arg);
		}
		ret = io_uring_wait_cqe(&r->ring, &cqe);
		if (ret < 0)
			goto out;
		while (!io_uring_peek_cqe(&r->ring, &cqe)) {
			i = io_uring_cqe_get_data64(cqe);
			if (i >= n) {
				ret = -EPROTO;
				goto out;
			}
			q[i].res = cqe->res;
			io_uring_cqe_seen(&r->ring, cqe);
			slot = slot_of[i];
			check_one(o, &q[i], i,
				  r->arena + (size_t)slot * r->slot_size,
				  r->slot_size, seed, size, out);
			r->free_slots[r->nfree++] = slot;
			inflight--;
			done++;
		}
	}
	ret = out->nbad;
out:
	free(slot_of);
	return ret;
}

int ru_compare(const struct ru_req *a, const struct ru_req *b, unsigned int n,
	       char *msg, size_t len)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (a[i].res != b[i].res || a[i].hash != b[i].hash) {
			snprintf(msg, len,
				 "req %u off %" PRIu64 " len %u: res %d hash %016" PRIx64 " vs res %d hash %016" PRIx64,
				 i, a[i].off, a[i].len, a[i].res, a[i].hash,
				 b[i].res, b[i].hash);
			return i;
		}
	}
	msg[0] = 0;
	return -1;
}

/* --- modules ----------------------------------------------------------- */

const char *ru_module_path(void)
{
	const char *s = getenv("RASYNC_KO");

	return s && *s ? s : "/rasync/rasync.ko";
}

int ru_module_ensure_loaded(void)
{
	int ret;

	if (ru_module_loaded())
		return 0;
	ret = ru_module_load(ru_module_path(), "");
	return ret == -EEXIST ? 0 : ret;
}

int ru_module_load(const char *path, const char *params)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

int ru_module_unload(void)
{
	return syscall(SYS_delete_module, "rasync", O_NONBLOCK) ? -errno : 0;
}
