/* SPDX-License-Identifier: GPL-2.0 */
/* The ioctls of /dev/luo_test (luo_test_handler.c), for the module and its tests. */
#ifndef LUO_TEST_HANDLER_H
#define LUO_TEST_HANDLER_H

#include <linux/ioctl.h>
#include <linux/types.h>

struct luo_test_set {
	__u64 value;
	__u32 fail_freeze;	/* nonzero: the next freeze of this file fails (EBUSY) */
	__u32 reserved;
};

#define LUO_TEST_SET	_IOW(0xb7, 1, struct luo_test_set)
#define LUO_TEST_GET	_IOR(0xb7, 2, __u64)
#define LUO_TEST_CLEAR	_IO(0xb7, 3)

#endif
