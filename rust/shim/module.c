// SPDX-License-Identifier: GPL-2.0
/*
 * rasync: the parts of the module that the kernel crate has no abstractions
 * for: runtime-writable module parameters with set callbacks (7.3's
 * module_param gives load-time, sysfs-invisible ones), per-CPU counters
 * (per_cpu() is a macro) and the debugfs files that show them (6.12 has
 * no Rust debugfs; 7.3's gives its files no owner, so an open file would
 * not keep the module loaded).
 */
#define pr_fmt(fmt) "rasync: " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/stringify.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "rasync_shim.h"

static bool rasync_enabled = true;
static bool rasync_selftest_at_load;
/*
 * Set while the module is up.  Parameters parsed before that (insmod
 * arguments) are only recorded; rasync_shim_start() acts on them.  Written
 * under kernel_param_lock(), which also serialises every parameter write, so
 * a write racing with load or unload can never leave the hook registered.
 */
static bool rasync_live;

static int rasync_bool_param(const char *val, const struct kernel_param *kp,
			     bool *out)
{
	if (kstrtobool(val, out)) {
		/* sysfs writes end in '\n': keep the message on one line */
		pr_err("invalid value '%.*s' for parameter '%s'\n",
		       (int)strcspn(val, "\n"), val, kp->name);
		return -EINVAL;
	}
	return 0;
}

/*
 * An enabled=N write whose wait for the readers of the unregistered hook a
 * fatal signal cut short leaves its module reference to this work, which
 * finishes the wait and then drops it: until those readers have left,
 * rmmod fails at once (the module is in use) instead of sleeping in module
 * exit.  Module exit flushes the work, so its code outlives the
 * module_put().
 */
static void rasync_drain_fn(struct work_struct *work)
{
	filemap_read_hook_synchronize(false);
	module_put(THIS_MODULE);
}
static DECLARE_WORK(rasync_drain_work, rasync_drain_fn);

/*
 * Waits for the readers still inside the hook that enabled_set() just
 * unregistered.  One may sit in a fault on its destination (userfaultfd)
 * for as long as user space likes, so wait killably and without the
 * parameter lock, which every read of our parameter files takes; the
 * module holds a reference on itself for as long as the readers may run.
 */
static int rasync_wait_for_readers(void)
	__releases(&THIS_MODULE->param_lock)
	__acquires(&THIS_MODULE->param_lock)
{
	int ret;

	__module_get(THIS_MODULE);
	kernel_param_unlock(THIS_MODULE);
	ret = filemap_read_hook_synchronize(true);
	kernel_param_lock(THIS_MODULE);
	/*
	 * Not live: module exit has begun, and its own wait covers these
	 * readers.  A queued run of the work drops one reference; if a run
	 * is still pending, that one is ours to drop.
	 */
	if (ret != -EINTR || !rasync_live ||
	    !queue_work(RASYNC_UNBOUND_WQ, &rasync_drain_work))
		module_put(THIS_MODULE);
	return ret;
}

static int enabled_set(const char *val, const struct kernel_param *kp)
{
	bool on;
	int ret = rasync_bool_param(val, kp, &on);

	if (ret)
		return ret;
	if (rasync_live) {
		ret = rasync_set_enabled(on);
		if (ret)
			return ret;
	}
	rasync_enabled = on;
	/* rasync_live stays true until module exit, which waits itself. */
	if (rasync_live && !on)
		ret = rasync_wait_for_readers();
	return ret;
}

static const struct kernel_param_ops enabled_ops = {
	.set = enabled_set,
	.get = param_get_bool,
};
module_param_cb(enabled, &enabled_ops, &rasync_enabled, 0644);
MODULE_PARM_DESC(enabled, "serve buffered reads from rasync (Y) or the stock path (N)");

static int selftest_set(const char *val, const struct kernel_param *kp)
{
	bool run;
	int ret = rasync_bool_param(val, kp, &run);

	if (ret || !run)
		return ret;
	if (!rasync_live) {
		rasync_selftest_at_load = true;
		return 0;
	}
	return rasync_run_selftest();
}

static const struct kernel_param_ops selftest_ops = {
	.set = selftest_set,
	.get = param_get_bool,
};
module_param_cb(selftest, &selftest_ops, &rasync_selftest_at_load, 0644);
MODULE_PARM_DESC(selftest, "write 1 to run the in-kernel self-test of the async folio primitives (KTAP in dmesg)");

/* Registers the read hook if enabled; called from Rust's module init. */
int rasync_shim_start(void)
{
	int ret = 0;

	kernel_param_lock(THIS_MODULE);
	if (rasync_enabled)
		ret = rasync_set_enabled(true);
	if (!ret)
		rasync_live = true;
	kernel_param_unlock(THIS_MODULE);
	if (!ret && rasync_selftest_at_load)
		ret = rasync_run_selftest();
	return ret;
}

/* Unregisters the hook for good; called from Rust's module exit. */
void rasync_shim_stop(void)
{
	kernel_param_lock(THIS_MODULE);
	rasync_live = false;
	rasync_set_enabled(false);
	kernel_param_unlock(THIS_MODULE);
	/*
	 * The module's code may go only once no reader runs it.  A reader
	 * blocked in a fault keeps rmmod waiting, idle (not a hung task),
	 * until user space resolves the fault.
	 */
	filemap_read_hook_synchronize(false);
	flush_work(&rasync_drain_work);
}

/*
 * hook_only: the hook stays registered but every read goes straight to
 * filemap_read_stock(), so a benchmark can measure what the hook alone
 * costs (the reader's SRCU section or percpu_ref, the indirect call) apart
 * from the Rust read path.
 */
bool rasync_hook_only;
module_param_named(hook_only, rasync_hook_only, bool, 0644);
MODULE_PARM_DESC(hook_only, "pass every hooked read to the stock path (measures the hook's cost)");

/* Per-CPU so the read path never bounces a shared cache line. */
static DEFINE_PER_CPU(u64 [RASYNC_NR_STATS], rasync_stats);

/* In the order of enum rasync_stat, from the same list. */
static const char *const rasync_stat_names[RASYNC_NR_STATS] = {
#define RASYNC_STAT(name) __stringify(name),
#include "stats_list.h"
#undef RASYNC_STAT
};

/* A counter's name, for the trace events that give a reason. */
const char *rasync_stat_name(unsigned int idx)
{
	return idx < RASYNC_NR_STATS ? rasync_stat_names[idx] : "?";
}

/* this_cpu_inc() is a macro: Rust calls it through here. */
void rasync_stat_inc(unsigned int idx)
{
	if (!WARN_ON_ONCE(idx >= RASYNC_NR_STATS))
		this_cpu_inc(rasync_stats[idx]);
}

/* The one counter of every read, without the bounds check. */
void rasync_stat_read(void)
{
	this_cpu_inc(rasync_stats[RASYNC_STAT_reads]);
}

unsigned int rasync_nr_stats(void)
{
	return RASYNC_NR_STATS;
}

/*
 * How long reads sat at -EIOCBQUEUED before io_uring retried them, in log2
 * buckets of nanoseconds: bucket b counts times in [2^(b-1), 2^b), the
 * last one everything above.
 */
#define RASYNC_HIST_BUCKETS 64
static DEFINE_PER_CPU(u64 [RASYNC_HIST_BUCKETS], rasync_queued_hist);

void rasync_queued_hist_add(u64 ns)
{
	this_cpu_inc(rasync_queued_hist[min(fls64(ns), RASYNC_HIST_BUCKETS - 1)]);
}

/* What debugfs shows of a per-CPU counter: its sum over all CPUs. */
static u64 rasync_sum_cpus(const u64 __percpu *counter)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *per_cpu_ptr(counter, cpu);
	return sum;
}

/* Lines "<from_ns> <to_ns> <count>" for the non-empty buckets. */
static int queued_hist_show(struct seq_file *m, void *v)
{
	unsigned int b;

	for (b = 0; b < RASYNC_HIST_BUCKETS; b++) {
		u64 sum = rasync_sum_cpus(&rasync_queued_hist[b]);

		if (sum)
			seq_printf(m, "%llu %llu %llu\n", b ? 1ULL << (b - 1) : 0,
				   (1ULL << b) - 1, sum);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(queued_hist);

static int stats_show(struct seq_file *m, void *v)
{
	unsigned int i;

	for (i = 0; i < RASYNC_NR_STATS; i++)
		seq_printf(m, "%s %llu\n", rasync_stat_names[i],
			   rasync_sum_cpus(&rasync_stats[i]));
	return 0;
}

static int stats_open(struct inode *inode, struct file *file)
{
	return single_open(file, stats_show, NULL);
}

/* Only "reset" is accepted: anything else is a typo worth reporting. */
static ssize_t stats_write(struct file *file, const char __user *ubuf,
			   size_t len, loff_t *ppos)
{
	char buf[16];
	unsigned int i;
	int cpu;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (strcmp(strim(buf), "reset"))
		return -EINVAL;
	for_each_possible_cpu(cpu) {
		for (i = 0; i < RASYNC_NR_STATS; i++)
			per_cpu(rasync_stats[i], cpu) = 0;
		for (i = 0; i < RASYNC_HIST_BUCKETS; i++)
			per_cpu(rasync_queued_hist[i], cpu) = 0;
	}
	return len;
}

static const struct file_operations stats_fops = {
	.owner = THIS_MODULE,
	.open = stats_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
	.write = stats_write,
};

static int state_show(struct seq_file *m, void *v)
{
	seq_printf(m, "hooked %d\nenabled %d\nhook_only %d\n", rasync_hooked(),
		   READ_ONCE(rasync_enabled), READ_ONCE(rasync_hook_only));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(state);

static struct dentry *rasync_debugfs;

void rasync_debugfs_init(void)
{
	rasync_debugfs = debugfs_create_dir("rasync", NULL);
	debugfs_create_file("stats", 0644, rasync_debugfs, NULL, &stats_fops);
	debugfs_create_file("state", 0444, rasync_debugfs, NULL, &state_fops);
	debugfs_create_file("queued_hist", 0444, rasync_debugfs, NULL,
			    &queued_hist_fops);
}

void rasync_debugfs_exit(void)
{
	debugfs_remove_recursive(rasync_debugfs);
}
