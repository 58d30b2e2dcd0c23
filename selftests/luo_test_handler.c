// SPDX-License-Identifier: GPL-2.0
/*
 * luo_test_handler: a LUO file handler and FLB for tests, built into both
 * test kernels (the C reference and the Rust LUO) as
 * lib/tests/luo_test_handler.c with CONFIG_LIVEUPDATE_TEST, and registered
 * only when the command line has "luo_test_handler" (the upstream 7.3 LUO
 * exports nothing to modules, so a test handler has to be built in).
 *
 * Opening /dev/luo_test gives a file that this handler preserves.  Each file
 * holds a 64-bit value, set and read with ioctls; the value is handed over
 * at freeze (so a value set after PRESERVE_FD still reaches the next kernel)
 * and a retrieved file comes back with it.  A file can be told to fail its
 * freeze, which aborts the reboot that froze it.
 *
 * Every callback appends an event to a log that read() on any /dev/luo_test
 * file returns (LUO_TEST_CLEAR empties it), one word per event:
 *
 *   P<v>   preserve          F<v>   freeze        F<v>!  freeze, failed
 *   U<v>   unfreeze          X<v>   unpreserve    R<v>   retrieve
 *   D<v>   finish (done)     N<v>   finish of a file never retrieved
 *
 * and flb-preserve, flb-unpreserve, flb-retrieve and flb-finish for the
 * handler's FLB, which nothing here asks for
 * (liveupdate_flb_get_incoming()): in the next kernel LUO must retrieve and
 * finish it on its own when the last of its files finishes.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/liveupdate.h>
#include <linux/miscdevice.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/stdarg.h>

#include "luo_test_handler.h"

struct luo_test_file {
	u64 value;
	bool fail_freeze;
};

static DEFINE_MUTEX(log_lock);
static char log_buf[4096];
static size_t log_len;
static bool log_full;

static __printf(1, 2) void log_event(const char *fmt, ...)
{
	char ev[40];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vscnprintf(ev, sizeof(ev), fmt, ap);
	va_end(ap);
	guard(mutex)(&log_lock);
	if (log_len + n + 1 >= sizeof(log_buf)) {
		log_full = true;
		return;
	}
	if (log_len)
		log_buf[log_len++] = ' ';
	memcpy(log_buf + log_len, ev, n);
	log_len += n;
	log_buf[log_len] = '\0';
}

static const struct file_operations luo_test_fops;

static struct luo_test_file *test_file(struct file *file)
{
	return file->private_data;
}

static int luo_test_open(struct inode *inode, struct file *file)
{
	struct luo_test_file *tf = kzalloc(sizeof(*tf), GFP_KERNEL);

	if (!tf)
		return -ENOMEM;
	/* misc_open() set private_data to the miscdevice; the file is ours. */
	file->private_data = tf;
	return 0;
}

static int luo_test_release(struct inode *inode, struct file *file)
{
	kfree(test_file(file));
	return 0;
}

static ssize_t luo_test_read(struct file *file, char __user *buf, size_t len,
			     loff_t *pos)
{
	guard(mutex)(&log_lock);
	if (log_full)
		return -EOVERFLOW;
	return simple_read_from_buffer(buf, len, pos, log_buf, log_len);
}

static long luo_test_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	struct luo_test_file *tf = test_file(file);
	struct luo_test_set set;

	switch (cmd) {
	case LUO_TEST_SET:
		if (copy_from_user(&set, (void __user *)arg, sizeof(set)))
			return -EFAULT;
		tf->value = set.value;
		tf->fail_freeze = set.fail_freeze;
		return 0;
	case LUO_TEST_GET:
		return put_user(tf->value, (u64 __user *)arg);
	case LUO_TEST_CLEAR: {
		guard(mutex)(&log_lock);
		log_len = 0;
		log_buf[0] = '\0';
		log_full = false;
		return 0;
	}
	}
	return -ENOTTY;
}

static const struct file_operations luo_test_fops = {
	.owner		= THIS_MODULE,
	.open		= luo_test_open,
	.release	= luo_test_release,
	.read		= luo_test_read,
	.unlocked_ioctl	= luo_test_ioctl,
	.llseek		= default_llseek,
};

static struct miscdevice luo_test_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "luo_test",
	.fops	= &luo_test_fops,
	.mode	= 0666,
};

static bool luo_test_can_preserve(struct liveupdate_file_handler *fh,
				  struct file *file)
{
	return file->f_op == &luo_test_fops;
}

static int luo_test_preserve(struct liveupdate_file_op_args *args)
{
	struct luo_test_file *tf = test_file(args->file);

	args->serialized_data = tf->value;
	log_event("P%llu", tf->value);
	return 0;
}

static void luo_test_unpreserve(struct liveupdate_file_op_args *args)
{
	log_event("X%llu", test_file(args->file)->value);
}

static int luo_test_freeze(struct liveupdate_file_op_args *args)
{
	struct luo_test_file *tf = test_file(args->file);

	if (tf->fail_freeze) {
		log_event("F%llu!", tf->value);
		return -EBUSY;
	}
	args->serialized_data = tf->value;
	log_event("F%llu", tf->value);
	return 0;
}

static void luo_test_unfreeze(struct liveupdate_file_op_args *args)
{
	log_event("U%llu", test_file(args->file)->value);
}

static int luo_test_retrieve(struct liveupdate_file_op_args *args)
{
	struct luo_test_file *tf = kzalloc(sizeof(*tf), GFP_KERNEL);
	struct file *file;

	if (!tf)
		return -ENOMEM;
	tf->value = args->serialized_data;
	file = anon_inode_getfile("[luo_test]", &luo_test_fops, tf, O_RDWR);
	if (IS_ERR(file)) {
		kfree(tf);
		return PTR_ERR(file);
	}
	args->file = file;
	log_event("R%llu", tf->value);
	return 0;
}

static void luo_test_finish(struct liveupdate_file_op_args *args)
{
	if (args->file)
		log_event("D%llu", test_file(args->file)->value);
	else
		log_event("N%llu", args->serialized_data);
}

static const struct liveupdate_file_ops luo_test_ops = {
	.can_preserve	= luo_test_can_preserve,
	.preserve	= luo_test_preserve,
	.unpreserve	= luo_test_unpreserve,
	.freeze		= luo_test_freeze,
	.unfreeze	= luo_test_unfreeze,
	.retrieve	= luo_test_retrieve,
	.finish		= luo_test_finish,
	.owner		= THIS_MODULE,
};

static struct liveupdate_file_handler luo_test_handler = {
	.ops		= &luo_test_ops,
	.compatible	= "luo-test-handler-v1",
};

/*
 * An FLB of the handler that nobody asks for with
 * liveupdate_flb_get_incoming(): LUO alone must retrieve it and finish it
 * once, when the last of its files finishes.
 */
#define LUO_TEST_FLB_DATA 0x1f1b0c0ffee0ULL

static int luo_test_flb_preserve(struct liveupdate_flb_op_args *args)
{
	args->data = LUO_TEST_FLB_DATA;
	log_event("flb-preserve");
	return 0;
}

static void luo_test_flb_unpreserve(struct liveupdate_flb_op_args *args)
{
	log_event("flb-unpreserve");
}

static int luo_test_flb_retrieve(struct liveupdate_flb_op_args *args)
{
	if (args->data != LUO_TEST_FLB_DATA) {
		log_event("flb-retrieve-bad-data");
		return -EINVAL;
	}
	args->obj = &luo_test_handler;
	log_event("flb-retrieve");
	return 0;
}

static void luo_test_flb_finish(struct liveupdate_flb_op_args *args)
{
	log_event("%s", args->obj == &luo_test_handler ? "flb-finish" : "flb-finish-bad-obj");
}

static const struct liveupdate_flb_ops luo_test_flb_ops = {
	.preserve	= luo_test_flb_preserve,
	.unpreserve	= luo_test_flb_unpreserve,
	.retrieve	= luo_test_flb_retrieve,
	.finish		= luo_test_flb_finish,
	.owner		= THIS_MODULE,
};

static struct liveupdate_flb luo_test_flb = {
	.ops		= &luo_test_flb_ops,
	.compatible	= "luo-test-handler-flb-v1",
};

static bool luo_test_on __initdata;

static int __init luo_test_param(char *unused)
{
	luo_test_on = true;
	return 1;
}
__setup("luo_test_handler", luo_test_param);

static int __init luo_test_init(void)
{
	int err;

	if (!luo_test_on)
		return 0;
	err = liveupdate_register_file_handler(&luo_test_handler);
	if (err)
		goto out;
	err = liveupdate_register_flb(&luo_test_handler, &luo_test_flb);
	if (!err)
		err = misc_register(&luo_test_dev);
	if (err)
		liveupdate_unregister_file_handler(&luo_test_handler);
out:
	pr_info("registered: %d\n", err);
	return err;
}
late_initcall(luo_test_init);
