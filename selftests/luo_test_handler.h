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

/*
 * The corruption knob (notes/handover-validation.md, section 3): each
 * LUO_TEST_CORRUPT arms one corruption of the outgoing LUO state, which a
 * reboot notifier writes at kexec, after LUO has serialized everything and
 * before the jump.  Up to LUO_TEST_CORRUPT_MAX can be armed at once;
 * LUO_CORRUPT_NONE disarms them all.  The values are the K numbers of the
 * notes (K2 and K24 are not implemented).  Needs CAP_SYS_ADMIN.
 */
enum luo_test_corrupt_mode {
	LUO_CORRUPT_NONE		= 0,	/* disarm every armed corruption */
	LUO_CORRUPT_COMPATIBLE		= 1,	/* luo_ser.compatible[5] = '4' */
	LUO_CORRUPT_BLOB_SIZE		= 3,	/* FDT LUO/blob-size = 8 */
	LUO_CORRUPT_SESSIONS_UNPRESERVED = 4,	/* sessions_pa = a page not preserved */
	LUO_CORRUPT_SESSIONS_NOT_RAM	= 5,	/* sessions_pa = past the end of RAM */
	LUO_CORRUPT_SBLOCK_COUNT_0	= 6,	/* first session block: count = 0 */
	LUO_CORRUPT_SBLOCK_COUNT_BIG	= 7,	/* first session block: count = capacity + 1 */
	LUO_CORRUPT_SBLOCK_NEXT_SELF	= 8,	/* first session block: next = itself */
	LUO_CORRUPT_SBLOCK_NEXT_FILES	= 9,	/* first session block: next = files of @session */
	LUO_CORRUPT_SHARED_FILES	= 10,	/* @session: the file chain of another session */
	LUO_CORRUPT_DUP_NAME		= 11,	/* @session: the name of another session */
	LUO_CORRUPT_NAME_UNTERMINATED	= 12,	/* @session: name padded with 'x', no NUL */
	LUO_CORRUPT_NAME_EMPTY		= 13,	/* @session: name[0] = 0 */
	LUO_CORRUPT_FILE_COUNT		= 14,	/* @session: file_set_ser.count += 1 */
	LUO_CORRUPT_FILES_0		= 15,	/* @session: file_set_ser.files = 0 */
	LUO_CORRUPT_FBLOCK_COUNT_BIG	= 16,	/* @session's first file block: count = capacity + 1 */
	LUO_CORRUPT_FILE_COMPAT_UNTERM	= 17,	/* file @token: compatible padded with 'A', no NUL */
	LUO_CORRUPT_DUP_TOKEN		= 18,	/* file @token: the token of another file */
	LUO_CORRUPT_MEMFD_DATA_0	= 19,	/* memfd @token: luo_file_ser.data = 0 */
	LUO_CORRUPT_MEMFD_NR_FOLIOS	= 20,	/* memfd @token: nr_folios = capacity + 1 */
	LUO_CORRUPT_FOLIO_UNPRESERVED	= 21,	/* memfd @token: folio 0's pfn not preserved */
	LUO_CORRUPT_FOLIO_DUP_INDEX	= 22,	/* memfd @token: folio 1's index = folio 0's */
	LUO_CORRUPT_FOLIO_PAST_EOF	= 23,	/* memfd @token: last folio's index past EOF */
	LUO_CORRUPT_MEMFD_SIZE		= 25,	/* memfd @token: size = 1 << 63 */
	LUO_CORRUPT_FLB_COUNT		= 26,	/* FLB header: count = 1000 */
	LUO_CORRUPT_FLB_PGCNT		= 27,	/* FLB header: pgcnt = 7 */
	LUO_CORRUPT_FLB_ENTRY_COUNT_0	= 28,	/* first FLB entry: count = 0 */
	LUO_CORRUPT_FLBS_NOT_RAM	= 29,	/* flbs_pa = past the end of RAM */
	LUO_CORRUPT_FOLIO_IS_ARRAY	= 30,	/* memfd @token: folio 0's pfn = its array's first chunk */
	LUO_CORRUPT_DATA_IS_FLB		= 31,	/* file @token: data = flbs_pa (LUO's FLB page) */
	LUO_CORRUPT_MAX			= LUO_CORRUPT_DATA_IS_FLB,
};

#define LUO_TEST_CORRUPT_MAX	16

struct luo_test_corrupt {
	__u32 mode;		/* enum luo_test_corrupt_mode; LUO_CORRUPT_NONE disarms all */
	__u32 reserved;		/* must be 0 */
	__u64 token;		/* the file, for file and memfd modes (K17-K25) */
	char session[64];	/* the session, by name (NUL-terminated), for K9-K25 */
};

#define LUO_TEST_CORRUPT	_IOW(0xb7, 4, struct luo_test_corrupt)

#endif
