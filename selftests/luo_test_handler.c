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
 *
 * LUO_TEST_CORRUPT (CAP_SYS_ADMIN) arms a corruption of the outgoing LUO
 * state, written by a reboot notifier at kexec: see "The corruption knob"
 * below.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/kexec.h>
#include <linux/kho/abi/block.h>
#include <linux/kho/abi/kexec_handover.h>
#include <linux/kho/abi/luo.h>
#include <linux/kho/abi/memfd.h>
#include <linux/libfdt.h>
#include <linux/liveupdate.h>
#include <linux/memblock.h>
#include <linux/miscdevice.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/reboot.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
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
static long luo_test_arm(const void __user *arg);

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
	case LUO_TEST_CORRUPT:
		return luo_test_arm((const void __user *)arg);
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

/*
 * The corruption knob (notes/handover-validation.md, section 3).
 *
 * LUO_TEST_CORRUPT arms one corruption of the outgoing LUO state (up to
 * LUO_TEST_CORRUPT_MAX at once; LUO_CORRUPT_NONE disarms them all).  A
 * reboot notifier writes them at kexec: kernel_kexec() has run
 * liveupdate_reboot(), so every session, file and FLB is serialized, and has
 * set kexec_in_progress; kernel_restart_prepare() then calls the reboot
 * notifiers, before device_shutdown() and machine_kexec().  Normal reboots,
 * and kexecs with nothing armed, are left alone.
 *
 * The notifier finds the state as the next kernel will: kexec_image->kho.fdt
 * is the physical address of KHO's outgoing FDT (set by kho_fill_kimage(),
 * so only for kexec_file_load), whose subnode LUO_KHO_ENTRY_NAME ("LUO")
 * holds the address (KHO_SUB_TREE_PROP_NAME, "preserved-data") and size
 * (KHO_SUB_TREE_SIZE_PROP_NAME, "blob-size") of struct luo_ser, both u64 in
 * native byte order.  From there: luo_ser.sessions_pa -> the session block
 * chain (struct kho_block_header_ser, then struct luo_session_ser entries)
 * -> each file_set_ser.files -> the file block chain (struct luo_file_ser
 * entries) -> for "memfd-v2", data -> struct memfd_luo_ser -> folios.first
 * -> struct kho_vmalloc_chunk -> phys[] -> the pages of the folio array; and
 * luo_ser.flbs_pa -> struct luo_flb_header_ser, then struct luo_flb_ser
 * entries.  Every one of these is in the direct map.
 *
 * The session is found by name (@session of the request) and the file by
 * token (@token) within it, never by position, except where a mode says
 * "first".  Every target is found first, on the state as LUO wrote it; then
 * the writes are made in the order they were armed, so that one corruption
 * cannot lead the search for the next one astray (with K4, K5 or K8 armed,
 * a session mode still writes into the chain LUO wrote).  Each armed mode
 * prints one line, "corrupted K<n> (<what>) at <pa of the bytes written>",
 * some with a detail after the address, or "cannot corrupt K<n>: <why>".
 *
 *  K   needs                  writes
 *  1   -                      luo_ser.compatible[5] = '4' ("luo-v4")
 *  3   -                      FDT LUO/blob-size = 8 (native, as KHO writes it;
 *                             fdt_setprop_inplace_u64() would write big-endian)
 *  4   -                      luo_ser.sessions_pa = a page allocated here and
 *                             not preserved, holding a block {next 0, count 1}
 *                             with one session "ghost" without files
 *  5   -                      luo_ser.sessions_pa = (max_pfn << PAGE_SHIFT)
 *                             + 64 GiB: no RAM there
 *  6   -                      first session block: count = 0
 *  7   -                      first session block: count = entries per block
 *                             + 1 (52 with 4 KiB pages)
 *  8   -                      first session block: next = its own pa
 *  9   session (>= 2 files)   first session block: next = the session's
 *                             file chain head
 *  10  session                its file_set_ser = that of the first other
 *                             session that has files (one shared file chain)
 *  11  session                its name = the name of the first other session
 *  12  session                its name: every byte from its NUL to the end
 *                             of name[] = 'x' (no terminator)
 *  13  session                its name[0] = 0
 *  14  session                its file_set_ser.count += 1
 *  15  session                its file_set_ser.files = 0 (count kept)
 *  16  session (with files)   its first file block: count = entries per
 *                             block + 1 (64 with 4 KiB pages)
 *  17  file                   its compatible: the NUL and every byte after it
 *                             = 'A' (no terminator in the 48 bytes)
 *  18  file (and another)     its token = the token of the first other file
 *                             of the session
 *  19  memfd file             luo_file_ser.data = 0
 *  20  memfd with folios      memfd_luo_ser.nr_folios = capacity + 1, where
 *                             capacity = folios.total_pages * PAGE_SIZE / 16
 *  21  memfd with folios      folio entry 0: pfn = a page allocated here and
 *                             not preserved
 *  22  memfd, >= 2 folios     folio entry 1: index = entry 0's index
 *  23  memfd with folios      last folio entry: index += size / PAGE_SIZE + 10
 *  25  memfd file             memfd_luo_ser.size = 1 << 63
 *  26  FLB page               FLB header: count = 1000
 *  27  FLB page               FLB header: pgcnt = 7
 *  28  an FLB entry           first FLB entry: count = 0 (its name is logged)
 *  29  -                      luo_ser.flbs_pa = (max_pfn << PAGE_SHIFT) + 64 GiB
 *
 * The pages of K4 and K21 are never freed: the old kernel must not reuse
 * them before the jump.  They are unmovable (GFP_KERNEL), so they lie
 * outside KHO's scratch areas, where the next kernel is loaded and boots.
 */
static const char *const corrupt_names[LUO_CORRUPT_MAX + 1] = {
	[LUO_CORRUPT_COMPATIBLE]		= "luo_ser compatible luo-v4",
	[LUO_CORRUPT_BLOB_SIZE]			= "LUO blob-size 8",
	[LUO_CORRUPT_SESSIONS_UNPRESERVED]	= "sessions_pa unpreserved page",
	[LUO_CORRUPT_SESSIONS_NOT_RAM]		= "sessions_pa not RAM",
	[LUO_CORRUPT_SBLOCK_COUNT_0]		= "session block count 0",
	[LUO_CORRUPT_SBLOCK_COUNT_BIG]		= "session block count over capacity",
	[LUO_CORRUPT_SBLOCK_NEXT_SELF]		= "session block next self",
	[LUO_CORRUPT_SBLOCK_NEXT_FILES]		= "session block next file chain",
	[LUO_CORRUPT_SHARED_FILES]		= "shared file chain",
	[LUO_CORRUPT_DUP_NAME]			= "duplicate session name",
	[LUO_CORRUPT_NAME_UNTERMINATED]		= "session name unterminated",
	[LUO_CORRUPT_NAME_EMPTY]		= "session name empty",
	[LUO_CORRUPT_FILE_COUNT]		= "file count plus one",
	[LUO_CORRUPT_FILES_0]			= "file chain 0 with count kept",
	[LUO_CORRUPT_FBLOCK_COUNT_BIG]		= "file block count over capacity",
	[LUO_CORRUPT_FILE_COMPAT_UNTERM]	= "file compatible unterminated",
	[LUO_CORRUPT_DUP_TOKEN]			= "duplicate token",
	[LUO_CORRUPT_MEMFD_DATA_0]		= "memfd data 0",
	[LUO_CORRUPT_MEMFD_NR_FOLIOS]		= "memfd nr_folios over capacity",
	[LUO_CORRUPT_FOLIO_UNPRESERVED]		= "folio pfn unpreserved",
	[LUO_CORRUPT_FOLIO_DUP_INDEX]		= "folio index duplicate",
	[LUO_CORRUPT_FOLIO_PAST_EOF]		= "folio index past EOF",
	[LUO_CORRUPT_MEMFD_SIZE]		= "memfd size 2^63",
	[LUO_CORRUPT_FLB_COUNT]			= "FLB count 1000",
	[LUO_CORRUPT_FLB_PGCNT]			= "FLB pgcnt 7",
	[LUO_CORRUPT_FLB_ENTRY_COUNT_0]		= "FLB entry count 0",
	[LUO_CORRUPT_FLBS_NOT_RAM]		= "flbs_pa not RAM",
	[LUO_CORRUPT_FOLIO_IS_ARRAY]		= "folio pfn = its array's chunk",
	[LUO_CORRUPT_DATA_IS_FLB]		= "file data = FLB page",
};

/* One planned write: @len bytes of @val at @dst (direct map), or why not. */
struct corrupt_write {
	void *dst;		/* NULL: the target was not found */
	unsigned int len;
	u8 val[LIVEUPDATE_SESSION_NAME_LENGTH];
	char msg[112];		/* the reason when @dst is NULL, else a detail or "" */
};

static DEFINE_MUTEX(corrupt_lock);
static struct luo_test_corrupt corrupt_req[LUO_TEST_CORRUPT_MAX];
static struct corrupt_write corrupt_plan_w[LUO_TEST_CORRUPT_MAX];
static unsigned int corrupt_nr;

static long luo_test_arm(const void __user *arg)
{
	struct luo_test_corrupt req;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;

	guard(mutex)(&corrupt_lock);
	if (req.mode == LUO_CORRUPT_NONE) {
		corrupt_nr = 0;
		pr_info("corruptions disarmed\n");
		return 0;
	}
	if (req.mode > LUO_CORRUPT_MAX || !corrupt_names[req.mode] || req.reserved ||
	    !memchr(req.session, '\0', sizeof(req.session)))
		return -EINVAL;
	if (corrupt_nr == LUO_TEST_CORRUPT_MAX)
		return -ENOSPC;
	corrupt_req[corrupt_nr++] = req;
	pr_info("armed K%u (%s): session \"%s\" token %llu\n", req.mode,
		corrupt_names[req.mode], req.session, req.token);
	return 0;
}

/* Where LUO found the state to corrupt. */
struct corrupt_ctx {
	void *fdt;		/* KHO's outgoing FDT */
	int node;		/* offset of its LUO node */
	struct luo_ser *ser;
};

/* Entries that fit after the header of a block. */
#define ENTRIES_PER_BLOCK(size) \
	((KHO_BLOCK_SIZE - sizeof(struct kho_block_header_ser)) / (size))
/* kho_block.c's KHO_MAX_BLOCKS: bounds a walk, should the state be wrong. */
#define CORRUPT_MAX_BLOCKS	10000

/* A page-aligned address of RAM, as every LUO allocation is. */
static bool corrupt_pa_ok(u64 pa)
{
	return pa && PAGE_ALIGNED(pa) && pfn_valid(PHYS_PFN(pa));
}

/* An address in the direct-map range with no RAM behind it (K5, K29). */
static u64 corrupt_not_ram(void)
{
	return ((u64)max_pfn << PAGE_SHIFT) + SZ_64G;
}

/* Walks the entries of a block chain, as kho_block_set_it_read_entry(). */
struct corrupt_chain_it {
	struct kho_block_header_ser *block;
	size_t entry_size;
	u64 i;
	unsigned int nblocks;
};

static void corrupt_chain_init(struct corrupt_chain_it *it, u64 head_pa, size_t entry_size)
{
	it->block = corrupt_pa_ok(head_pa) ? phys_to_virt(head_pa) : NULL;
	it->entry_size = entry_size;
	it->i = 0;
	it->nblocks = 0;
}

static void *corrupt_chain_next(struct corrupt_chain_it *it)
{
	while (it->block) {
		u64 count = min_t(u64, it->block->count, ENTRIES_PER_BLOCK(it->entry_size));

		if (it->i < count)
			return (void *)(it->block + 1) + it->entry_size * it->i++;
		if (!corrupt_pa_ok(it->block->next) || ++it->nblocks >= CORRUPT_MAX_BLOCKS)
			it->block = NULL;
		else
			it->block = phys_to_virt(it->block->next);
		it->i = 0;
	}
	return NULL;
}

static struct luo_session_ser *corrupt_find_session(struct corrupt_ctx *c, const char *name)
{
	struct corrupt_chain_it it;
	struct luo_session_ser *s;

	corrupt_chain_init(&it, c->ser->sessions_pa, sizeof(*s));
	while ((s = corrupt_chain_next(&it)))
		if (!strncmp(s->name, name, sizeof(s->name)))
			return s;
	return NULL;
}

static struct luo_file_ser *corrupt_find_file(struct luo_session_ser *s, u64 token)
{
	struct corrupt_chain_it it;
	struct luo_file_ser *f;

	corrupt_chain_init(&it, s->file_set_ser.files, sizeof(*f));
	while ((f = corrupt_chain_next(&it)))
		if (f->token == token)
			return f;
	return NULL;
}

/*
 * Entry @i of a memfd's folio array, through the direct map: the array is
 * a vmalloc area preserved by kho_preserve_vmalloc(), whose pages are
 * listed, in order, in the phys[] of a chain of struct kho_vmalloc_chunk,
 * each phys[] element the address of 1 << folios.order contiguous pages
 * (kho_restore_vmalloc()).  Entries are 16 bytes, so none spans two pages.
 */
static struct memfd_luo_folio_ser *corrupt_memfd_folio(struct memfd_luo_ser *m, u64 i)
{
	u64 off = i * sizeof(struct memfd_luo_folio_ser);
	unsigned long pgno = off >> PAGE_SHIFT;
	unsigned int order = m->folios.order;
	struct kho_vmalloc_chunk *chunk = NULL;
	unsigned int nchunks = 0;
	unsigned long slot;
	u64 pa;

	if (i >= m->nr_folios || pgno >= m->folios.total_pages || order >= BITS_PER_LONG)
		return NULL;
	slot = pgno >> order;
	if (corrupt_pa_ok(m->folios.first.phys))
		chunk = phys_to_virt(m->folios.first.phys);
	while (chunk && slot >= ARRAY_SIZE(chunk->phys)) {
		slot -= ARRAY_SIZE(chunk->phys);
		if (!corrupt_pa_ok(chunk->hdr.next.phys) || ++nchunks >= CORRUPT_MAX_BLOCKS)
			chunk = NULL;
		else
			chunk = phys_to_virt(chunk->hdr.next.phys);
	}
	if (!chunk || !corrupt_pa_ok(chunk->phys[slot]))
		return NULL;
	pa = chunk->phys[slot] + ((pgno & ((1UL << order) - 1)) << PAGE_SHIFT) +
	     offset_in_page(off);
	return phys_to_virt(pa);
}

static void corrupt_set(struct corrupt_write *w, void *dst, const void *val, size_t len)
{
	if (WARN_ON(len > sizeof(w->val)))
		return;
	w->dst = dst;
	w->len = len;
	memcpy(w->val, val, len);
}

static void corrupt_set_u64(struct corrupt_write *w, void *dst, u64 val)
{
	corrupt_set(w, dst, &val, sizeof(val));
}

static __printf(2, 3) int corrupt_why(struct corrupt_write *w, const char *fmt, ...)
{
	va_list ap;

	w->dst = NULL;
	va_start(ap, fmt);
	vscnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	return -ENOENT;
}

static bool corrupt_memfd_mode(u32 mode)
{
	return (mode >= LUO_CORRUPT_MEMFD_DATA_0 && mode <= LUO_CORRUPT_MEMFD_SIZE) ||
	       mode == LUO_CORRUPT_FOLIO_IS_ARRAY;
}

static bool corrupt_file_mode(u32 mode)
{
	return (mode >= LUO_CORRUPT_FILE_COMPAT_UNTERM && mode <= LUO_CORRUPT_MEMFD_SIZE) ||
	       corrupt_memfd_mode(mode) || mode == LUO_CORRUPT_DATA_IS_FLB;
}

static bool corrupt_session_mode(u32 mode)
{
	return (mode >= LUO_CORRUPT_SBLOCK_NEXT_FILES && mode <= LUO_CORRUPT_MEMFD_SIZE) ||
	       corrupt_file_mode(mode);
}

/* Finds the target of @req in the state LUO wrote; fills @w, writes nothing. */
static int corrupt_plan(const struct luo_test_corrupt *req, struct corrupt_ctx *c,
			struct corrupt_write *w)
{
	struct luo_session_ser *s = NULL, *o;
	struct luo_file_ser *f = NULL, *g;
	struct memfd_luo_folio_ser *e, *e0, fe;
	struct kho_block_header_ser *head;
	struct luo_flb_header_ser *flbs;
	struct memfd_luo_ser *m = NULL;
	struct luo_ser *ser = c->ser;
	u8 pad[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct corrupt_chain_it it;
	struct page *page;
	void *prop;
	size_t n;
	int len;

	memset(w, 0, sizeof(*w));

	if (corrupt_session_mode(req->mode)) {
		s = corrupt_find_session(c, req->session);
		if (!s)
			return corrupt_why(w, "no session \"%s\"", req->session);
	}
	if (corrupt_file_mode(req->mode)) {
		f = corrupt_find_file(s, req->token);
		if (!f)
			return corrupt_why(w, "no file with token %llu in session \"%s\"",
					   req->token, req->session);
	}
	if (corrupt_memfd_mode(req->mode)) {
		if (strncmp(f->compatible, MEMFD_LUO_FH_COMPATIBLE, sizeof(f->compatible)))
			return corrupt_why(w, "file %llu of \"%s\" is \"%.*s\", not a memfd",
					   req->token, req->session,
					   (int)sizeof(f->compatible), f->compatible);
		if (req->mode != LUO_CORRUPT_MEMFD_DATA_0) {
			if (!corrupt_pa_ok(f->data))
				return corrupt_why(w, "memfd %llu has no memfd_luo_ser (%#llx)",
						   req->token, f->data);
			m = phys_to_virt(f->data);
		}
	}

	switch (req->mode) {
	case LUO_CORRUPT_COMPATIBLE:
		corrupt_set(w, &ser->compatible[5], "4", 1);
		return 0;

	case LUO_CORRUPT_BLOB_SIZE:
		/* In place, same length: what fdt_setprop_inplace() does. */
		prop = fdt_getprop_w(c->fdt, c->node, KHO_SUB_TREE_SIZE_PROP_NAME, &len);
		if (!prop || len != sizeof(u64))
			return corrupt_why(w, "the LUO node has no 8-byte %s",
					   KHO_SUB_TREE_SIZE_PROP_NAME);
		corrupt_set_u64(w, prop, 8);
		return 0;

	case LUO_CORRUPT_SESSIONS_UNPRESERVED:
		page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!page)
			return corrupt_why(w, "out of memory");
		head = page_address(page);
		head->next = 0;
		head->count = 1;
		o = (struct luo_session_ser *)(head + 1);
		strscpy(o->name, "ghost", sizeof(o->name));
		corrupt_set_u64(w, &ser->sessions_pa, page_to_phys(page));
		snprintf(w->msg, sizeof(w->msg), ": ghost block at %#llx",
			 (u64)page_to_phys(page));
		return 0;

	case LUO_CORRUPT_SESSIONS_NOT_RAM:
		corrupt_set_u64(w, &ser->sessions_pa, corrupt_not_ram());
		snprintf(w->msg, sizeof(w->msg), ": = %#llx", corrupt_not_ram());
		return 0;

	case LUO_CORRUPT_SBLOCK_COUNT_0:
	case LUO_CORRUPT_SBLOCK_COUNT_BIG:
	case LUO_CORRUPT_SBLOCK_NEXT_SELF:
	case LUO_CORRUPT_SBLOCK_NEXT_FILES:
		if (!corrupt_pa_ok(ser->sessions_pa))
			return corrupt_why(w, "no session block (sessions_pa %#llx)",
					   ser->sessions_pa);
		head = phys_to_virt(ser->sessions_pa);
		if (req->mode == LUO_CORRUPT_SBLOCK_COUNT_0) {
			corrupt_set_u64(w, &head->count, 0);
		} else if (req->mode == LUO_CORRUPT_SBLOCK_COUNT_BIG) {
			corrupt_set_u64(w, &head->count,
					ENTRIES_PER_BLOCK(sizeof(struct luo_session_ser)) + 1);
			snprintf(w->msg, sizeof(w->msg), ": = %llu",
				 (u64)ENTRIES_PER_BLOCK(sizeof(struct luo_session_ser)) + 1);
		} else if (req->mode == LUO_CORRUPT_SBLOCK_NEXT_SELF) {
			corrupt_set_u64(w, &head->next, ser->sessions_pa);
		} else {
			if (s->file_set_ser.count < 2 || !corrupt_pa_ok(s->file_set_ser.files))
				return corrupt_why(w, "session \"%s\" has %llu files, needs 2",
						   req->session, s->file_set_ser.count);
			corrupt_set_u64(w, &head->next, s->file_set_ser.files);
			snprintf(w->msg, sizeof(w->msg), ": = %#llx", s->file_set_ser.files);
		}
		return 0;

	case LUO_CORRUPT_SHARED_FILES:
	case LUO_CORRUPT_DUP_NAME:
		corrupt_chain_init(&it, ser->sessions_pa, sizeof(*o));
		while ((o = corrupt_chain_next(&it))) {
			if (o == s)
				continue;
			if (req->mode == LUO_CORRUPT_DUP_NAME) {
				corrupt_set(w, s->name, o->name, sizeof(s->name));
				snprintf(w->msg, sizeof(w->msg), ": name of \"%.*s\"",
					 (int)sizeof(o->name), o->name);
				return 0;
			}
			if (corrupt_pa_ok(o->file_set_ser.files)) {
				corrupt_set(w, &s->file_set_ser, &o->file_set_ser,
					    sizeof(s->file_set_ser));
				snprintf(w->msg, sizeof(w->msg), ": files of \"%.*s\" at %#llx",
					 (int)sizeof(o->name), o->name, o->file_set_ser.files);
				return 0;
			}
		}
		return corrupt_why(w, "no other session%s", req->mode == LUO_CORRUPT_DUP_NAME ?
				   "" : " with files");

	case LUO_CORRUPT_NAME_UNTERMINATED:
		n = strnlen(s->name, sizeof(s->name));
		if (n == sizeof(s->name))
			return corrupt_why(w, "the name of \"%s\" has no NUL already",
					   req->session);
		memset(pad, 'x', sizeof(s->name) - n);
		corrupt_set(w, &s->name[n], pad, sizeof(s->name) - n);
		return 0;

	case LUO_CORRUPT_NAME_EMPTY:
		corrupt_set(w, &s->name[0], "", 1);
		return 0;

	case LUO_CORRUPT_FILE_COUNT:
		corrupt_set_u64(w, &s->file_set_ser.count, s->file_set_ser.count + 1);
		return 0;

	case LUO_CORRUPT_FILES_0:
		corrupt_set_u64(w, &s->file_set_ser.files, 0);
		return 0;

	case LUO_CORRUPT_FBLOCK_COUNT_BIG:
		if (!corrupt_pa_ok(s->file_set_ser.files))
			return corrupt_why(w, "session \"%s\" has no file block", req->session);
		head = phys_to_virt(s->file_set_ser.files);
		corrupt_set_u64(w, &head->count,
				ENTRIES_PER_BLOCK(sizeof(struct luo_file_ser)) + 1);
		snprintf(w->msg, sizeof(w->msg), ": = %llu",
			 (u64)ENTRIES_PER_BLOCK(sizeof(struct luo_file_ser)) + 1);
		return 0;

	case LUO_CORRUPT_FILE_COMPAT_UNTERM:
		n = strnlen(f->compatible, sizeof(f->compatible));
		if (n == sizeof(f->compatible))
			return corrupt_why(w, "the compatible of file %llu has no NUL already",
					   req->token);
		memset(pad, 'A', sizeof(f->compatible) - n);
		corrupt_set(w, &f->compatible[n], pad, sizeof(f->compatible) - n);
		return 0;

	case LUO_CORRUPT_DUP_TOKEN:
		corrupt_chain_init(&it, s->file_set_ser.files, sizeof(*g));
		while ((g = corrupt_chain_next(&it))) {
			if (g == f)
				continue;
			corrupt_set_u64(w, &f->token, g->token);
			snprintf(w->msg, sizeof(w->msg), ": = %llu", g->token);
			return 0;
		}
		return corrupt_why(w, "session \"%s\" has no other file", req->session);

	case LUO_CORRUPT_MEMFD_DATA_0:
		corrupt_set_u64(w, &f->data, 0);
		return 0;

	case LUO_CORRUPT_MEMFD_NR_FOLIOS:
		if (!m->nr_folios || !m->folios.first.phys)
			return corrupt_why(w, "memfd %llu has no folio array", req->token);
		corrupt_set_u64(w, &m->nr_folios,
				(u64)m->folios.total_pages * PAGE_SIZE /
				sizeof(struct memfd_luo_folio_ser) + 1);
		snprintf(w->msg, sizeof(w->msg), ": %llu -> %llu", m->nr_folios,
			 (u64)m->folios.total_pages * PAGE_SIZE /
			 sizeof(struct memfd_luo_folio_ser) + 1);
		return 0;

	case LUO_CORRUPT_FOLIO_UNPRESERVED:
		e = corrupt_memfd_folio(m, 0);
		if (!e)
			return corrupt_why(w, "memfd %llu has no folio entry 0", req->token);
		page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!page)
			return corrupt_why(w, "out of memory");
		fe = *e;
		fe.pfn = page_to_pfn(page);
		corrupt_set(w, e, &fe, sizeof(fe));
		snprintf(w->msg, sizeof(w->msg), ": pfn %#llx -> %#lx", (u64)e->pfn,
			 page_to_pfn(page));
		return 0;

	case LUO_CORRUPT_FOLIO_DUP_INDEX:
		e0 = corrupt_memfd_folio(m, 0);
		e = corrupt_memfd_folio(m, 1);
		if (!e0 || !e)
			return corrupt_why(w, "memfd %llu has %llu folios, needs 2", req->token,
					   m->nr_folios);
		corrupt_set_u64(w, &e->index, e0->index);
		snprintf(w->msg, sizeof(w->msg), ": %llu -> %llu", e->index, e0->index);
		return 0;

	case LUO_CORRUPT_FOLIO_PAST_EOF:
		e = m->nr_folios ? corrupt_memfd_folio(m, m->nr_folios - 1) : NULL;
		if (!e)
			return corrupt_why(w, "memfd %llu has no folio array", req->token);
		corrupt_set_u64(w, &e->index, e->index + m->size / PAGE_SIZE + 10);
		snprintf(w->msg, sizeof(w->msg), ": entry %llu index %llu -> %llu",
			 m->nr_folios - 1, e->index, e->index + m->size / PAGE_SIZE + 10);
		return 0;

	case LUO_CORRUPT_MEMFD_SIZE:
		corrupt_set_u64(w, &m->size, 1ULL << 63);
		return 0;

	case LUO_CORRUPT_FOLIO_IS_ARRAY:
		e = corrupt_memfd_folio(m, 0);
		if (!e || !corrupt_pa_ok(m->folios.first.phys))
			return corrupt_why(w, "memfd %llu has no folio entry 0", req->token);
		fe = *e;
		fe.pfn = PHYS_PFN(m->folios.first.phys);
		corrupt_set(w, e, &fe, sizeof(fe));
		snprintf(w->msg, sizeof(w->msg), ": pfn %#llx -> %#llx", (u64)e->pfn,
			 (u64)PHYS_PFN(m->folios.first.phys));
		return 0;

	case LUO_CORRUPT_DATA_IS_FLB:
		if (!corrupt_pa_ok(ser->flbs_pa))
			return corrupt_why(w, "no FLB page (flbs_pa %#llx)", ser->flbs_pa);
		corrupt_set_u64(w, &f->data, ser->flbs_pa);
		return 0;

	case LUO_CORRUPT_FLB_COUNT:
	case LUO_CORRUPT_FLB_PGCNT:
	case LUO_CORRUPT_FLB_ENTRY_COUNT_0:
		if (!corrupt_pa_ok(ser->flbs_pa))
			return corrupt_why(w, "no FLB page (flbs_pa %#llx)", ser->flbs_pa);
		flbs = phys_to_virt(ser->flbs_pa);
		if (req->mode == LUO_CORRUPT_FLB_COUNT) {
			corrupt_set_u64(w, &flbs->count, 1000);
		} else if (req->mode == LUO_CORRUPT_FLB_PGCNT) {
			corrupt_set_u64(w, &flbs->pgcnt, 7);
		} else {
			struct luo_flb_ser *fl = (struct luo_flb_ser *)(flbs + 1);

			if (!flbs->count)
				return corrupt_why(w, "no FLB was preserved");
			corrupt_set_u64(w, &fl->count, 0);
			snprintf(w->msg, sizeof(w->msg), ": \"%.*s\" count %llu -> 0",
				 (int)sizeof(fl->name), fl->name, fl->count);
		}
		return 0;

	case LUO_CORRUPT_FLBS_NOT_RAM:
		corrupt_set_u64(w, &ser->flbs_pa, corrupt_not_ram());
		snprintf(w->msg, sizeof(w->msg), ": = %#llx", corrupt_not_ram());
		return 0;
	}
	return corrupt_why(w, "unknown mode");
}

/* The outgoing LUO state, as the next kernel will find it. */
static const char *corrupt_find_luo(struct corrupt_ctx *c)
{
	const void *prop;
	u64 pa;
	int len;

	if (!kexec_image || !kexec_image->kho.fdt)
		return "no KHO FDT in the kexec image (kexec_load, or KHO off)";
	c->fdt = phys_to_virt(kexec_image->kho.fdt);
	if (fdt_check_header(c->fdt))
		return "the KHO FDT has a bad header";
	c->node = fdt_subnode_offset(c->fdt, 0, LUO_KHO_ENTRY_NAME);
	if (c->node < 0)
		return "no " LUO_KHO_ENTRY_NAME " node in the KHO FDT";
	prop = fdt_getprop(c->fdt, c->node, KHO_SUB_TREE_PROP_NAME, &len);
	if (!prop || len != sizeof(u64))
		return "no 8-byte " KHO_SUB_TREE_PROP_NAME " in the " LUO_KHO_ENTRY_NAME " node";
	pa = get_unaligned((const u64 *)prop);
	if (!corrupt_pa_ok(pa))
		return "the address of luo_ser is not a page of RAM";
	c->ser = phys_to_virt(pa);
	return NULL;
}

static int luo_test_reboot(struct notifier_block *nb, unsigned long action, void *cmd)
{
	struct corrupt_ctx c = {};
	const char *why;
	unsigned int i;

	if (action != SYS_RESTART || !kexec_in_progress)
		return NOTIFY_DONE;

	guard(mutex)(&corrupt_lock);
	if (!corrupt_nr)
		return NOTIFY_DONE;

	why = corrupt_find_luo(&c);
	for (i = 0; i < corrupt_nr; i++) {
		if (why)
			corrupt_why(&corrupt_plan_w[i], "%s", why);
		else
			corrupt_plan(&corrupt_req[i], &c, &corrupt_plan_w[i]);
	}

	for (i = 0; i < corrupt_nr; i++) {
		struct corrupt_write *w = &corrupt_plan_w[i];
		u32 mode = corrupt_req[i].mode;
		phys_addr_t pa;

		if (!w->dst) {
			pr_info("cannot corrupt K%u: %s\n", mode, w->msg);
			continue;
		}
		memcpy(w->dst, w->val, w->len);
		pa = virt_to_phys(w->dst);
		pr_info("corrupted K%u (%s) at %pa%s\n", mode, corrupt_names[mode], &pa, w->msg);
	}
	corrupt_nr = 0;
	return NOTIFY_DONE;
}

static struct notifier_block luo_test_reboot_nb = {
	.notifier_call = luo_test_reboot,
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
	else
		register_reboot_notifier(&luo_test_reboot_nb);
out:
	pr_info("registered: %d\n", err);
	return err;
}
late_initcall(luo_test_init);
