// SPDX-License-Identifier: GPL-2.0
/*
 * luo_early_test: uses the LUO API from an early_initcall that runs before
 * LUO's own, as a C subsystem may (C's LUO locks are static).
 *
 * It runs only when the command line has "luo_early_test".  It registers a
 * file handler and an FLB, asks for the FLB's incoming object (there is
 * none yet: LUO has not read the previous kernel's state), registers the
 * FLB a second time (EEXIST) and unregisters both, then prints what each
 * call returned.  Linked before luo_core.o, so its initcall comes first.
 */

#define pr_fmt(fmt) "luo_early_test: " fmt

#include <linux/errno.h>
#include <linux/init.h>
#include <linux/liveupdate.h>
#include <linux/module.h>

static bool luo_early_test_on __initdata;

static int __init luo_early_test_param(char *unused)
{
	luo_early_test_on = true;
	return 0;
}
early_param("luo_early_test", luo_early_test_param);

static bool early_can_preserve(struct liveupdate_file_handler *fh,
			       struct file *file)
{
	return false;
}

static int early_preserve(struct liveupdate_file_op_args *args)
{
	return -EOPNOTSUPP;
}

static void early_unpreserve(struct liveupdate_file_op_args *args)
{
}

static int early_retrieve(struct liveupdate_file_op_args *args)
{
	return -EOPNOTSUPP;
}

static void early_finish(struct liveupdate_file_op_args *args)
{
}

static const struct liveupdate_file_ops early_file_ops = {
	.can_preserve	= early_can_preserve,
	.preserve	= early_preserve,
	.unpreserve	= early_unpreserve,
	.retrieve	= early_retrieve,
	.finish		= early_finish,
	.owner		= THIS_MODULE,
};

static struct liveupdate_file_handler early_handler = {
	.ops		= &early_file_ops,
	.compatible	= "luo-early-test-v1",
};

static int early_flb_preserve(struct liveupdate_flb_op_args *args)
{
	return 0;
}

static void early_flb_unpreserve(struct liveupdate_flb_op_args *args)
{
}

static int early_flb_retrieve(struct liveupdate_flb_op_args *args)
{
	return -EOPNOTSUPP;
}

static void early_flb_finish(struct liveupdate_flb_op_args *args)
{
}

static const struct liveupdate_flb_ops early_flb_ops = {
	.preserve	= early_flb_preserve,
	.unpreserve	= early_flb_unpreserve,
	.retrieve	= early_flb_retrieve,
	.finish		= early_flb_finish,
	.owner		= THIS_MODULE,
};

static struct liveupdate_flb early_flb = {
	.ops		= &early_flb_ops,
	.compatible	= "luo-early-test-flb-v1",
};

static int __init luo_early_test_init(void)
{
	int fh_err, flb_err, in_err, again_err;
	void *obj;

	if (!luo_early_test_on)
		return 0;

	fh_err = liveupdate_register_file_handler(&early_handler);
	flb_err = liveupdate_register_flb(&early_handler, &early_flb);
	in_err = liveupdate_flb_get_incoming(&early_flb, &obj);
	if (!in_err)
		liveupdate_flb_put_incoming(&early_flb);
	again_err = liveupdate_register_flb(&early_handler, &early_flb);
	liveupdate_unregister_flb(&early_handler, &early_flb);
	liveupdate_unregister_file_handler(&early_handler);

	pr_info("before LUO's initcall: handler %d, FLB %d, FLB incoming %d, FLB again %d\n",
		fh_err, flb_err, in_err, again_err);
	return 0;
}
early_initcall(luo_early_test_init);
