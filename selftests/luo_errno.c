// SPDX-License-Identifier: GPL-2.0
/**
 * DOC: luo_errno - the result of every /dev/liveupdate and session ioctl path
 *
 * luo_errno drives the Live Update Orchestrator uAPI through its error paths
 * (and the successful paths next to them) and prints, for each case, what the
 * kernel returned next to what the C implementation (kernel/liveupdate/
 * luo_core.c, luo_session.c, luo_file.c and mm/memfd_luo.c of Linux 7.3.4)
 * returns.  It is run on the C kernel and on the Rust kernel, and the two
 * outputs are diffed, so the output holds no pointers, fd numbers or timings.
 *
 * The single-boot cases must run on a freshly booted kernel (no incoming
 * sessions) with liveupdate=on, CONFIG_LIVEUPDATE_MEMFD=y, /proc mounted
 * and, for a few cases, a tmpfs on /tmp, with nothing else holding
 * /dev/liveupdate open.
 *
 * Usage:
 *
 *   luo_errno [-v]                 the single-boot cases
 *   luo_errno [-v] -s 1 -n N       the same, then (N > 1) prepare stage 2
 *   luo_errno [-v] -s S -n N       (S >= 2) the incoming-session cases, then
 *                                  (S < N) prepare stage S + 1
 *
 * Preparing the next stage (luo_init.c kexecs into it when we exit 0)
 * creates the sessions and memfds of s2_files[] below, reported as the case
 * "prepare_next_stage", and keeps the session fds open across the kexec in
 * a child process that pauses forever (closing an outgoing session fd
 * unpreserves it).  The incoming-session cases (names "s2_...") need exactly
 * that state: a kernel kexec'd from one where "-s S-1 -n N" exited 0.
 *
 * Output, one line per case, in a fixed order:
 *
 *   LUO-ERRNO: <case-name> <result> expected <expected>
 *
 * <result> and <expected> are "0" for success or the symbolic errno name
 * (EINVAL, E2BIG, ...; "E<number>" when the table below lacks it).  A result
 * may also be one of these, all of which count as unexpected:
 *
 *   SETUP_<errno>  a step preparing the case (not the one tested) failed
 *   BADNAME        GET_NAME did not return the session's name
 *   BADFD          the fd returned in the ioctl argument is not open
 *   NOCLOEXEC      a new session fd or retrieved memfd fd lacks FD_CLOEXEC
 *   CANARY         the kernel wrote past the size given in the argument
 *   BADDATA        memfd contents (or size, seals, file position) differ
 *                  from what was written
 *   OTHERFILE      a retrieved fd is not the file expected (st_dev, st_ino)
 *
 * A case that cannot run here (e.g. hugetlb memfds without HUGETLBFS) prints
 * "LUO-ERRNO-SKIP: <case-name> <reason>" instead; that is deterministic for a
 * given configuration.  The last line is
 *
 *   LUO-ERRNO: done <N> cases, <M> unexpected
 *
 * and the exit status is 0 when M is 0, else 1 (2 on a fatal setup error,
 * reported as "LUO-ERRNO-FATAL: ...").
 *
 * While the cases run the console loglevel is lowered to 4 (KERN_ERR and
 * worse), so that kernel info messages printed from inside the ioctls do not
 * split output lines on a serial console; "luo_errno -v" leaves it alone.
 *
 * Every group of cases opens /dev/liveupdate and closes every fd it created
 * (sessions outlive the /dev/liveupdate fd, and closing an outgoing session
 * unpreserves its files), so groups do not depend on each other.  Within a
 * group, cases may build on the state left by the previous case.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/liveupdate.h>

#define LUO_DEV		"/dev/liveupdate"
#define NAME_LEN	LIVEUPDATE_SESSION_NAME_LENGTH
#define TMPFS_MAGIC_NR	0x01021994

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL	0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC	0x0010U
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB	0x0004U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC	0x0020
#endif
#ifndef __NR_memfd_secret
#define __NR_memfd_secret 447
#endif

/* Results that are not an errno; see the DOC comment. */
#define R_BADNAME	(-1)
#define R_BADFD		(-2)
#define R_NOCLOEXEC	(-3)
#define R_CANARY	(-4)
#define R_BADDATA	(-5)
#define R_OTHERFILE	(-6)
#define R_SETUP		(-1000)		/* R_SETUP - errno */

#define CREATE_SZ	((unsigned int)sizeof(struct liveupdate_ioctl_create_session))
#define RETRIEVE_SZ	((unsigned int)sizeof(struct liveupdate_ioctl_retrieve_session))
#define PRESERVE_SZ	((unsigned int)sizeof(struct liveupdate_session_preserve_fd))
#define RFD_SZ		((unsigned int)sizeof(struct liveupdate_session_retrieve_fd))
#define FINISH_SZ	((unsigned int)sizeof(struct liveupdate_session_finish))
#define GETNAME_SZ	((unsigned int)sizeof(struct liveupdate_session_get_name))

#define MAX_CASES	512
#define MANY_SESSIONS	120	/* 51 sessions per serialization block */
#define MANY_FILES	130	/* 63 files per serialization block */

#define SYSLOG_ACTION_CONSOLE_LEVEL	8
#define QUIET_CONSOLE_LEVEL		4	/* KERN_ERR and worse only */

static const char *case_names[MAX_CASES];
static int saved_console_level = -1;
static int nr_cases, nr_unexpected;
static long page;
static unsigned char *gpage;	/* a read-write page, then a PROT_NONE page */
static unsigned char *ropage;	/* a page that is read-only while in use */

static const struct {
	int err;
	const char *name;
} errno_names[] = {
#define E(x) { x, #x }
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
	E(ENOEXEC), E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES),
	E(EFAULT), E(ENOTBLK), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV),
	E(ENOTDIR), E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY),
	E(ETXTBSY), E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK),
	E(EPIPE), E(EDOM), E(ERANGE), E(EDEADLK), E(ENAMETOOLONG), E(ENOLCK),
	E(ENOSYS), E(ENOTEMPTY), E(ELOOP), E(ENOMSG), E(EIDRM), E(ENOSTR),
	E(ENODATA), E(ETIME), E(ENOSR), E(ENOLINK), E(EPROTO), E(EBADMSG),
	E(EOVERFLOW), E(EBADFD), E(EILSEQ), E(ENOTSOCK), E(EMSGSIZE),
	E(EPROTOTYPE), E(ENOPROTOOPT), E(EOPNOTSUPP), E(EADDRINUSE),
	E(ENOBUFS), E(ETIMEDOUT), E(EALREADY), E(EINPROGRESS), E(ESTALE),
	E(EDQUOT), E(ECANCELED), E(EOWNERDEAD), E(ENOTRECOVERABLE),
	E(ERFKILL), E(EHWPOISON),
#undef E
	/* Kernel-internal codes that must never reach userspace. */
	{ 512, "ERESTARTSYS" }, { 513, "ERESTARTNOINTR" },
	{ 515, "ENOIOCTLCMD" }, { 524, "ENOTSUPP" },
};

static const char *errno_name(int err, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (errno_names[i].err == err)
			return errno_names[i].name;
	snprintf(buf, len, "E%d", err);
	return buf;
}

static const char *result_name(int res, char *buf, size_t len)
{
	char ebuf[32];

	switch (res) {
	case 0:
		return "0";
	case R_BADNAME:
		return "BADNAME";
	case R_BADFD:
		return "BADFD";
	case R_NOCLOEXEC:
		return "NOCLOEXEC";
	case R_CANARY:
		return "CANARY";
	case R_BADDATA:
		return "BADDATA";
	case R_OTHERFILE:
		return "OTHERFILE";
	}
	if (res > 0)
		return errno_name(res, buf, len);
	if (res <= R_SETUP) {
		snprintf(buf, len, "SETUP_%s",
			 errno_name(R_SETUP - res, ebuf, sizeof(ebuf)));
		return buf;
	}
	snprintf(buf, len, "R%d", res);
	return buf;
}

/*
 * The kernel prints info messages on the console from inside some of the
 * ioctls (the CONFIG_LIVEUPDATE_TEST FLBs on every first preserve and last
 * unpreserve).  On a serial console they can land in the middle of one of
 * our lines, so keep them off the console while the cases run.
 */
static void quiet_console(void)
{
	FILE *f = fopen("/proc/sys/kernel/printk", "re");
	int level;

	if (!f)
		return;
	if (fscanf(f, "%d", &level) == 1 && level > QUIET_CONSOLE_LEVEL &&
	    !klogctl(SYSLOG_ACTION_CONSOLE_LEVEL, NULL, QUIET_CONSOLE_LEVEL))
		saved_console_level = level;
	fclose(f);
}

static void restore_console(void)
{
	if (saved_console_level >= 0)
		klogctl(SYSLOG_ACTION_CONSOLE_LEVEL, NULL, saved_console_level);
	saved_console_level = -1;
}

static void fatal(const char *what, int err)
{
	char ebuf[32];

	restore_console();
	printf("LUO-ERRNO-FATAL: %s: %s\n", what, errno_name(err, ebuf, sizeof(ebuf)));
	fflush(stdout);
	exit(2);
}

static void note_case(const char *name)
{
	const char *p;
	int i;

	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			fatal(name, EINVAL);
	for (i = 0; i < nr_cases; i++)
		if (!strcmp(case_names[i], name))
			fatal(name, EEXIST);
	if (nr_cases == MAX_CASES)
		fatal("too many cases", ENOSPC);
	case_names[nr_cases++] = name;
}

/* Print one case.  @res: 0, an errno, or one of the R_* results. */
static void report(const char *name, int res, int expected)
{
	char rbuf[48], ebuf[32];

	note_case(name);
	if (res != expected)
		nr_unexpected++;
	printf("LUO-ERRNO: %s %s expected %s\n", name,
	       result_name(res, rbuf, sizeof(rbuf)),
	       result_name(expected, ebuf, sizeof(ebuf)));
}

static void skip(const char *name, const char *why, int err)
{
	char ebuf[32];

	printf("LUO-ERRNO-SKIP: %s %s %s\n", name, why,
	       errno_name(err, ebuf, sizeof(ebuf)));
}

/* Helpers ------------------------------------------------------------------ */

static int do_ioctl(int fd, unsigned int cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? errno : 0;
}

static int sys_res(long ret)
{
	return ret < 0 ? errno : 0;
}

static void xclose(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int luo_open(void)
{
	int fd = open(LUO_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fatal("open " LUO_DEV, errno);
	return fd;
}

/* The read-write page, zeroed, and a pointer @n bytes before its end. */
static void *gpage_tail(size_t n)
{
	memset(gpage, 0, page);
	return gpage + page - n;
}

/* The read-only page holding a copy of @src. */
static void *ro_copy(const void *src, size_t n)
{
	if (mprotect(ropage, page, PROT_READ | PROT_WRITE))
		fatal("mprotect rw", errno);
	memset(ropage, 0, page);
	memcpy(ropage, src, n);
	if (mprotect(ropage, page, PROT_READ))
		fatal("mprotect ro", errno);
	return ropage;
}

static int name_is(const void *name, const char *want)
{
	size_t n = strnlen(name, NAME_LEN);

	return n < NAME_LEN && n == strlen(want) && !memcmp(name, want, n);
}

static int get_name_is(int sfd, const char *want)
{
	struct liveupdate_session_get_name a;

	memset(&a, 0, sizeof(a));
	a.size = GETNAME_SZ;
	if (ioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, &a) < 0)
		return errno;
	return name_is(a.name, want) ? 0 : R_BADNAME;
}

/*
 * Check a session fd handed out by CREATE_SESSION or RETRIEVE_SESSION: open,
 * close-on-exec and named @want.
 */
static int session_fd_ok(int fd, const char *want)
{
	int fl, res;

	if (fd < 0)
		return R_BADFD;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		return R_BADFD;
	res = get_name_is(fd, want);
	if (!res && !(fl & FD_CLOEXEC))
		res = R_NOCLOEXEC;
	return res;
}

/* The same, and close it. */
static int check_new_session(int fd, const char *want)
{
	int res = session_fd_ok(fd, want);

	if (res != R_BADFD)
		close(fd);
	return res;
}

static void create_arg(struct liveupdate_ioctl_create_session *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->size = CREATE_SZ;
	a->fd = -1;
	snprintf((char *)a->name, sizeof(a->name), "%s", name);
}

/*
 * CREATE_SESSION with the argument at @arg (a struct
 * liveupdate_ioctl_create_session laid out by the caller, fd field -1).  On
 * success the new session is checked to be named @want and closed.
 */
static int create_raw(int luo, void *arg, const char *want)
{
	int fd, res;

	res = do_ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, arg);
	if (res)
		return res;
	memcpy(&fd, (unsigned char *)arg + 4, sizeof(fd));
	return check_new_session(fd, want);
}

/* A new session named @name: its fd, or -errno. */
static int session_new(int luo, const char *name)
{
	struct liveupdate_ioctl_create_session a;

	create_arg(&a, name);
	if (ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &a) < 0)
		return -errno;
	return a.fd;
}

static int preserve(int sfd, int fd, __u64 token)
{
	struct liveupdate_session_preserve_fd a;

	memset(&a, 0, sizeof(a));
	a.size = PRESERVE_SZ;
	a.fd = fd;
	a.token = token;
	return do_ioctl(sfd, LIVEUPDATE_SESSION_PRESERVE_FD, &a);
}

/* Byte @off of a test file with pattern @seed. */
static unsigned char pattern_byte(size_t off, unsigned int seed)
{
	return (unsigned char)(((off * 7 + 3) ^ seed) & 0xff);
}

/* Bytes [off, off + len) of a test file: a function of the offset and seed. */
static int fill_seeded(int fd, size_t off, size_t len, unsigned int seed)
{
	unsigned char buf[4096];
	size_t i, n;

	while (len) {
		n = len < sizeof(buf) ? len : sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern_byte(off + i, seed);
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

static int fill(int fd, size_t off, size_t len)
{
	return fill_seeded(fd, off, len, 0);
}

/* A memfd with @size bytes of data: its fd, or -errno. */
static int memfd_new(const char *name, unsigned int flags, size_t size)
{
	int fd;

	/* Explicit exec mode: no "called without MFD_EXEC" console warning. */
	if (!(flags & MFD_NOEXEC_SEAL))
		flags |= MFD_EXEC;
	fd = memfd_create(name, flags);

	if (fd < 0)
		return -errno;
	if (size && fill(fd, 0, size)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/*
 * Run @cmd on @fd with RLIMIT_NOFILE at 0, so that get_unused_fd_flags()
 * fails.  If it unexpectedly succeeds, the fd in the argument is closed.
 */
static int ioctl_no_fds(int fd, unsigned int cmd, void *arg)
{
	struct rlimit old, none;
	int res, nfd;

	if (getrlimit(RLIMIT_NOFILE, &old))
		return R_SETUP - errno;
	none = old;
	none.rlim_cur = 0;
	if (setrlimit(RLIMIT_NOFILE, &none))
		return R_SETUP - errno;
	res = do_ioctl(fd, cmd, arg);
	if (setrlimit(RLIMIT_NOFILE, &old))
		fatal("setrlimit restore", errno);
	if (!res) {
		memcpy(&nfd, (unsigned char *)arg + 4, sizeof(nfd));
		if (nfd >= 0)
			close(nfd);
	}
	return res;
}

/* Is /tmp a tmpfs?  Needed for the tmpfs file cases. */
static int tmp_is_tmpfs(void)
{
	struct statfs sf;

	return !statfs("/tmp", &sf) && sf.f_type == TMPFS_MAGIC_NR;
}

/*
 * Group: opening /dev/liveupdate.
 * luo_core.c luo_open(): atomic_cmpxchg(&in_use, 0, 1) fails -> -EBUSY; the
 * open mode is not checked.  luo_release() clears in_use on the last fput of
 * the file, so a dup() keeps the device busy.
 */
static void group_open(void)
{
	int fd1, fd2, dupfd, sfd;

	fd1 = open(LUO_DEV, O_RDWR | O_CLOEXEC);
	report("open_first", fd1 < 0 ? errno : 0, 0);
	if (fd1 < 0)
		fatal("open " LUO_DEV, errno);

	fd2 = open(LUO_DEV, O_RDWR | O_CLOEXEC);
	report("open_second_while_open", fd2 < 0 ? errno : 0, EBUSY);
	xclose(&fd2);

	fd2 = open(LUO_DEV, O_RDONLY | O_CLOEXEC);
	report("open_second_rdonly_while_open", fd2 < 0 ? errno : 0, EBUSY);
	xclose(&fd2);

	dupfd = dup(fd1);
	if (dupfd < 0)
		fatal("dup", errno);
	xclose(&fd1);
	fd2 = open(LUO_DEV, O_RDWR | O_CLOEXEC);
	report("open_while_dup_still_open", fd2 < 0 ? errno : 0, EBUSY);
	xclose(&fd2);
	xclose(&dupfd);

	fd1 = open(LUO_DEV, O_RDWR | O_CLOEXEC);
	report("open_after_close", fd1 < 0 ? errno : 0, 0);
	xclose(&fd1);

	fd1 = open(LUO_DEV, O_RDONLY | O_CLOEXEC);
	report("open_rdonly", fd1 < 0 ? errno : 0, 0);
	if (fd1 < 0)
		return;
	/* luo_ioctl() does not look at the open mode either. */
	sfd = session_new(fd1, "create_session_via_rdonly_fd");
	report("create_session_via_rdonly_fd", sfd < 0 ? -sfd : 0, 0);
	xclose(&sfd);
	xclose(&fd1);
}

/*
 * Group: /dev/liveupdate ioctl dispatch, luo_core.c luo_ioctl(), in order:
 *   1. _IOC_NR(cmd) >= ARRAY_SIZE(luo_ioctl_ops) (2)    -> -EINVAL
 *   2. get_user(size) faults                            -> -EFAULT
 *   3. luo_ioctl_ops[nr].ioctl_num != cmd -> -ENOIOCTLCMD, which vfs_ioctl()
 *      turns into -ENOTTY
 *   4. size < min_size                                  -> -EINVAL
 *   5. copy_struct_from_user()                          -> -E2BIG / -EFAULT
 * The type and direction bits are ignored until step 3.  FIONREAD reaches the
 * driver because do_vfs_ioctl() passes it on for non-regular files.
 */
enum { ARG_CREATE, ARG_NULL, ARG_8, ARG_SIZE0, ARG_SIZE_CUT };

static const struct {
	const char *name;
	unsigned int cmd;
	int arg;
	int expected;
} luo_dispatch[] = {
	{ "luo_ioctl_nr_02", _IO(0xBA, 0x02), ARG_CREATE, EINVAL },
	{ "luo_ioctl_nr_3f", _IO(0xBA, 0x3f), ARG_CREATE, EINVAL },
	{ "luo_ioctl_nr_40_session_cmd", LIVEUPDATE_SESSION_PRESERVE_FD, ARG_CREATE, EINVAL },
	{ "luo_ioctl_nr_43_session_cmd", LIVEUPDATE_SESSION_GET_NAME, ARG_CREATE, EINVAL },
	{ "luo_ioctl_nr_ff", _IO(0xBA, 0xff), ARG_CREATE, EINVAL },
	{ "luo_ioctl_nr_02_null_arg", _IO(0xBA, 0x02), ARG_NULL, EINVAL },
	{ "luo_ioctl_fionread", FIONREAD, ARG_CREATE, EINVAL },
	{ "luo_ioctl_other_type_nr_00", _IO(0xBB, 0x00), ARG_CREATE, ENOTTY },
	{ "luo_ioctl_other_type_nr_01", _IO(0xBB, 0x01), ARG_CREATE, ENOTTY },
	{ "luo_ioctl_other_type_null_arg", _IO(0xBB, 0x00), ARG_NULL, EFAULT },
	{ "luo_ioctl_other_type_size_0", _IO(0xBB, 0x00), ARG_SIZE0, ENOTTY },
	{ "luo_ioctl_cmd_zero", 0, ARG_CREATE, ENOTTY },
	{ "luo_ioctl_create_iowr", _IOWR(0xBA, 0x00, struct liveupdate_ioctl_create_session),
	  ARG_CREATE, ENOTTY },
	{ "luo_ioctl_retrieve_ior", _IOR(0xBA, 0x01, struct liveupdate_ioctl_retrieve_session),
	  ARG_CREATE, ENOTTY },
	{ "luo_ioctl_create_null_arg", LIVEUPDATE_IOCTL_CREATE_SESSION, ARG_NULL, EFAULT },
	{ "luo_ioctl_create_arg_8", LIVEUPDATE_IOCTL_CREATE_SESSION, ARG_8, EFAULT },
	{ "luo_ioctl_create_size_field_cut", LIVEUPDATE_IOCTL_CREATE_SESSION, ARG_SIZE_CUT, EFAULT },
	{ "luo_ioctl_retrieve_null_arg", LIVEUPDATE_IOCTL_RETRIEVE_SESSION, ARG_NULL, EFAULT },
	{ "luo_ioctl_retrieve_size_field_cut", LIVEUPDATE_IOCTL_RETRIEVE_SESSION, ARG_SIZE_CUT,
	  EFAULT },
};

static void group_luo_dispatch(void)
{
	struct liveupdate_ioctl_create_session a;
	unsigned int i;
	int luo, res;
	void *arg;

	luo = luo_open();
	for (i = 0; i < sizeof(luo_dispatch) / sizeof(luo_dispatch[0]); i++) {
		create_arg(&a, "luo_dispatch_probe");
		arg = &a;
		switch (luo_dispatch[i].arg) {
		case ARG_NULL:
			arg = NULL;
			break;
		case ARG_8:
			arg = (void *)8;
			break;
		case ARG_SIZE0:
			a.size = 0;
			break;
		case ARG_SIZE_CUT:
			/* Only two bytes of the size field are mapped. */
			arg = gpage_tail(2);
			break;
		}
		res = do_ioctl(luo, luo_dispatch[i].cmd, arg);
		/* Never leave a session behind, whatever the kernel did. */
		if (!res && arg == &a && a.fd >= 0)
			close(a.fd);
		report(luo_dispatch[i].name, res, luo_dispatch[i].expected);
	}
	close(luo);
}

/*
 * Group: CREATE_SESSION argument size and memory.
 * luo_core.c luo_ioctl(): min_size = offsetofend(name) = sizeof = 72, so
 * size < 72 -> -EINVAL; copy_struct_from_user() checks any tail beyond 72
 * with check_zeroed_user() (non-zero -> -E2BIG, fault -> -EFAULT) before it
 * copies the 72 bytes (fault -> -EFAULT).  luo_ioctl_create_session()
 * allocates the fd first (-EMFILE before the name is looked at), and when
 * luo_ucmd_respond() cannot write back it returns -EFAULT and fput()s the
 * new session, which is released (removed from the list) before the ioctl
 * returns to userspace.  The input fd field is never read.
 */
static void create_size_case(int luo, const char *name, unsigned int size,
			     int tail_byte, int expected)
{
	union {
		struct liveupdate_ioctl_create_session s;
		unsigned char b[128];
	} u;
	int res, i;

	memset(&u, 0, sizeof(u));
	create_arg(&u.s, name);
	u.s.size = size;
	if (tail_byte >= 0)
		u.b[tail_byte] = 0x5a;
	for (i = size > CREATE_SZ ? size : CREATE_SZ; i < (int)sizeof(u); i++)
		u.b[i] = 0xa5;		/* canary past the given size */
	res = create_raw(luo, &u, name);
	for (i = size > CREATE_SZ ? size : CREATE_SZ; !res && i < (int)sizeof(u); i++)
		if (u.b[i] != 0xa5)
			res = R_CANARY;
	report(name, res, expected);
}

static void group_create_size(void)
{
	struct liveupdate_ioctl_create_session a, *p;
	int luo, res;

	luo = luo_open();

	create_size_case(luo, "create_session_size_0", 0, -1, EINVAL);
	create_size_case(luo, "create_session_size_4", 4, -1, EINVAL);
	create_size_case(luo, "create_session_size_8", 8, -1, EINVAL);
	create_size_case(luo, "create_session_size_71", 71, -1, EINVAL);
	create_size_case(luo, "create_session_size_72_exact", 72, -1, 0);
	create_size_case(luo, "create_session_size_73_zero_tail", 73, -1, 0);
	create_size_case(luo, "create_session_size_73_nonzero_tail", 73, 72, E2BIG);
	create_size_case(luo, "create_session_size_80_zero_tail", 80, -1, 0);
	create_size_case(luo, "create_session_size_80_nonzero_tail", 80, 79, E2BIG);
	create_size_case(luo, "create_session_size_128_nonzero_tail", 128, 100, E2BIG);

	/* A whole page: zero tail, then a non-zero last byte. */
	p = gpage_tail(page);
	create_arg(p, "create_session_size_page_zero_tail");
	p->size = page;
	report("create_session_size_page_zero_tail",
	       create_raw(luo, p, "create_session_size_page_zero_tail"), 0);

	p = gpage_tail(page);
	create_arg(p, "create_session_size_page_nonzero_last");
	p->size = page;
	gpage[page - 1] = 1;
	report("create_session_size_page_nonzero_last",
	       create_raw(luo, p, "create_session_size_page_nonzero_last"), E2BIG);

	/* The zero tail runs into the PROT_NONE page. */
	p = gpage_tail(page);
	create_arg(p, "create_session_size_tail_in_guard");
	p->size = 2 * page;
	report("create_session_size_tail_in_guard",
	       create_raw(luo, p, "create_session_size_tail_in_guard"), EFAULT);

	p = gpage_tail(page);
	create_arg(p, "create_session_size_u32_max");
	p->size = UINT_MAX;
	report("create_session_size_u32_max",
	       create_raw(luo, p, "create_session_size_u32_max"), EFAULT);

	/* Only the size field is mapped: the 72-byte copy faults. */
	p = gpage_tail(4);
	p->size = CREATE_SZ;
	report("create_session_struct_cut_by_guard",
	       do_ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, p), EFAULT);

	/* Same, but the size check fails before anything else is read. */
	p = gpage_tail(4);
	p->size = 0;
	report("create_session_size_0_cut_by_guard",
	       do_ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, p), EINVAL);

	/* Exactly fits before the guard page; the reply fits too. */
	p = gpage_tail(CREATE_SZ);
	create_arg(p, "create_session_at_page_end");
	report("create_session_at_page_end",
	       create_raw(luo, p, "create_session_at_page_end"), 0);

	/* The argument is read-only: the reply fails after the session exists. */
	create_arg(&a, "create_session_readonly");
	report("create_session_readonly_arg",
	       create_raw(luo, ro_copy(&a, sizeof(a)), "create_session_readonly"),
	       EFAULT);
	/* ... and that session was released again. */
	create_arg(&a, "create_session_readonly");
	report("create_session_after_readonly_same_name",
	       create_raw(luo, &a, "create_session_readonly"), 0);

	/* The tail check comes before the name check. */
	{
		union {
			struct liveupdate_ioctl_create_session s;
			unsigned char b[80];
		} u;

		memset(&u, 0, sizeof(u));
		u.s.size = sizeof(u);
		u.s.fd = -1;
		u.b[79] = 1;	/* empty name and a non-zero tail */
		report("create_session_empty_name_nonzero_tail",
		       do_ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &u), E2BIG);
	}

	/* The fd field is output only. */
	create_arg(&a, "create_session_fd_field_nonzero");
	a.fd = 123456;
	report("create_session_fd_field_nonzero",
	       create_raw(luo, &a, "create_session_fd_field_nonzero"), 0);

	/* No fd can be allocated: -EMFILE, before the name is validated. */
	create_arg(&a, "create_session_emfile");
	report("create_session_emfile",
	       ioctl_no_fds(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), EMFILE);
	create_arg(&a, "");
	report("create_session_emfile_empty_name",
	       ioctl_no_fds(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), EMFILE);
	create_arg(&a, "create_session_emfile");
	res = create_raw(luo, &a, "create_session_emfile");
	report("create_session_after_emfile_same_name", res, 0);

	close(luo);
}

/*
 * Group: CREATE_SESSION names.
 * luo_session.c luo_session_create(): strnlen(name, 64) == 0 or > 63 ->
 * -EINVAL; luo_session_alloc() strscpy()s the name, so bytes after the NUL
 * are dropped; luo_session_insert() compares with strncmp(.., 64) against
 * the outgoing list only -> -EEXIST.  Sessions live until their own fd is
 * closed (luo_session_release()), independent of the /dev/liveupdate fd.
 */
static void group_create_name(void)
{
	static const char name63[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
	struct liveupdate_ioctl_create_session a;
	int luo, s1 = -1, s2 = -1, res, i, memfd = -1;
	int many[MANY_SESSIONS];
	char buf[NAME_LEN];

	luo = luo_open();

	create_arg(&a, "");
	report("create_session_empty_name",
	       do_ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), EINVAL);

	create_arg(&a, "");
	memset(a.name, 'X', sizeof(a.name));
	report("create_session_name_64_no_nul",
	       do_ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), EINVAL);

	create_arg(&a, name63);
	report("create_session_name_63_chars", create_raw(luo, &a, name63), 0);

	create_arg(&a, "x");
	report("create_session_name_1_char", create_raw(luo, &a, "x"), 0);

	for (i = 0; i < NAME_LEN - 1; i++)
		buf[i] = (char)(0x80 + i);
	buf[NAME_LEN - 1] = 0;
	create_arg(&a, buf);
	report("create_session_name_high_bytes", create_raw(luo, &a, buf), 0);

	create_arg(&a, "a/b c\t.");
	report("create_session_name_punctuation", create_raw(luo, &a, "a/b c\t."), 0);

	/* Duplicates: only while the first session is open. */
	s1 = session_new(luo, "create_session_dup");
	if (s1 < 0) {
		report("create_session_duplicate", R_SETUP + s1, EEXIST);
		goto out;
	}
	create_arg(&a, "create_session_dup");
	report("create_session_duplicate", create_raw(luo, &a, "create_session_dup"), EEXIST);
	create_arg(&a, "create_session_DUP");
	report("create_session_name_case_differs",
	       create_raw(luo, &a, "create_session_DUP"), 0);
	create_arg(&a, "create_session_dup2");
	report("create_session_name_longer", create_raw(luo, &a, "create_session_dup2"), 0);
	create_arg(&a, "create_session_du");
	report("create_session_name_prefix", create_raw(luo, &a, "create_session_du"), 0);
	xclose(&s1);
	create_arg(&a, "create_session_dup");
	report("create_session_same_name_after_close",
	       create_raw(luo, &a, "create_session_dup"), 0);

	/* A session is released on the last close of its file, not the first. */
	s1 = session_new(luo, "create_session_dup_fd");
	if (s1 < 0) {
		report("create_session_dup_while_fd_dup_open", R_SETUP + s1, EEXIST);
		goto out;
	}
	s2 = dup(s1);
	if (s2 < 0)
		fatal("dup", errno);
	xclose(&s1);
	create_arg(&a, "create_session_dup_fd");
	report("create_session_dup_while_fd_dup_open",
	       create_raw(luo, &a, "create_session_dup_fd"), EEXIST);
	report("get_name_via_dup_fd", get_name_is(s2, "create_session_dup_fd"), 0);
	xclose(&s2);
	create_arg(&a, "create_session_dup_fd");
	report("create_session_after_last_dup_closed",
	       create_raw(luo, &a, "create_session_dup_fd"), 0);

	/* Bytes after the NUL are not part of the name. */
	create_arg(&a, "garbage");
	memset(a.name + 8, 'z', sizeof(a.name) - 8);
	res = do_ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &a);
	report("create_session_name_trailing_garbage", res, 0);
	if (!res) {
		s1 = a.fd;
		report("get_name_after_trailing_garbage", get_name_is(s1, "garbage"), 0);
		create_arg(&a, "garbage");
		report("create_session_dup_ignoring_garbage",
		       create_raw(luo, &a, "garbage"), EEXIST);
		xclose(&s1);
	}

	/* Sessions outlive the /dev/liveupdate fd they were created with. */
	s1 = session_new(luo, "create_session_luo_reopen");
	if (s1 < 0) {
		report("create_session_dup_after_luo_reopen", R_SETUP + s1, EEXIST);
		goto out;
	}
	close(luo);
	luo = luo_open();
	create_arg(&a, "create_session_luo_reopen");
	report("create_session_dup_after_luo_reopen",
	       create_raw(luo, &a, "create_session_luo_reopen"), EEXIST);
	close(luo);
	report("session_get_name_after_luo_close",
	       get_name_is(s1, "create_session_luo_reopen"), 0);
	memfd = memfd_new("after_luo_close", 0, 100);
	if (memfd < 0)
		report("session_preserve_after_luo_close", R_SETUP + memfd, 0);
	else
		report("session_preserve_after_luo_close", preserve(s1, memfd, 1), 0);
	xclose(&memfd);
	xclose(&s1);
	luo = luo_open();
	create_arg(&a, "create_session_luo_reopen");
	report("create_session_after_luo_reopen_and_close",
	       create_raw(luo, &a, "create_session_luo_reopen"), 0);

	/* Many sessions: the outgoing block set grows over several blocks. */
	res = 0;
	for (i = 0; i < MANY_SESSIONS; i++)
		many[i] = -1;
	for (i = 0; i < MANY_SESSIONS && !res; i++) {
		snprintf(buf, sizeof(buf), "create_session_many_%03d", i);
		many[i] = session_new(luo, buf);
		if (many[i] < 0) {
			res = -many[i];
			many[i] = -1;
		}
	}
	report("create_session_many", res, 0);
	create_arg(&a, "create_session_many_077");
	report("create_session_many_duplicate",
	       create_raw(luo, &a, "create_session_many_077"), EEXIST);
	res = 0;
	for (i = 0; i < MANY_SESSIONS && !res; i++) {
		snprintf(buf, sizeof(buf), "create_session_many_%03d", i);
		if (many[i] >= 0)
			res = get_name_is(many[i], buf);
	}
	report("get_name_many_sessions", res, 0);
	for (i = 0; i < MANY_SESSIONS; i++)
		xclose(&many[i]);
	create_arg(&a, "create_session_many_000");
	report("create_session_many_after_close",
	       create_raw(luo, &a, "create_session_many_000"), 0);
out:
	xclose(&s1);
	xclose(&s2);
	close(luo);
}

/*
 * Group: RETRIEVE_SESSION on a fresh boot.
 * Same size/copy rules as CREATE_SESSION (luo_ioctl(), min_size 72).
 * luo_ioctl_retrieve_session() allocates the fd first (-EMFILE), then
 * luo_session_retrieve() searches only the incoming list, which is empty
 * here -> -ENOENT for any name, valid or not; the reply is never reached.
 */
static void group_retrieve_session(void)
{
	union {
		struct liveupdate_ioctl_retrieve_session s;
		unsigned char b[80];
	} u;
	struct liveupdate_ioctl_retrieve_session *p;
	int luo, sfd;

	luo = luo_open();
	sfd = session_new(luo, "retrieve_session_outgoing");

#define RS_INIT(nm)							\
	do {								\
		memset(&u, 0, sizeof(u));				\
		u.s.size = RETRIEVE_SZ;					\
		u.s.fd = -1;						\
		snprintf((char *)u.s.name, NAME_LEN, "%s", nm);		\
	} while (0)
#define RS_RUN(arg)							\
	({								\
		int __r = do_ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, arg); \
		if (!__r && (arg) == (void *)&u && u.s.fd >= 0)		\
			close(u.s.fd);					\
		__r;							\
	})

	RS_INIT("retrieve_session_unknown");
	report("retrieve_session_unknown", RS_RUN(&u), ENOENT);
	RS_INIT("");
	report("retrieve_session_empty_name", RS_RUN(&u), ENOENT);
	RS_INIT("");
	memset(u.s.name, 'X', NAME_LEN);
	report("retrieve_session_name_64_no_nul", RS_RUN(&u), ENOENT);
	if (sfd < 0) {
		report("retrieve_session_outgoing_name", R_SETUP + sfd, ENOENT);
	} else {
		RS_INIT("retrieve_session_outgoing");
		report("retrieve_session_outgoing_name", RS_RUN(&u), ENOENT);
	}
	RS_INIT("retrieve_session_unknown");
	u.s.size = 0;
	report("retrieve_session_size_0", RS_RUN(&u), EINVAL);
	RS_INIT("retrieve_session_unknown");
	u.s.size = RETRIEVE_SZ - 1;
	report("retrieve_session_size_71", RS_RUN(&u), EINVAL);
	RS_INIT("retrieve_session_unknown");
	u.s.size = sizeof(u);
	report("retrieve_session_size_80_zero_tail", RS_RUN(&u), ENOENT);
	RS_INIT("retrieve_session_unknown");
	u.s.size = sizeof(u);
	u.b[sizeof(u) - 1] = 1;
	report("retrieve_session_size_80_nonzero_tail", RS_RUN(&u), E2BIG);
	RS_INIT("retrieve_session_unknown");
	u.s.size = sizeof(u);
	report("retrieve_session_size_80_tail_readonly",
	       do_ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, ro_copy(&u, sizeof(u))),
	       ENOENT);
	p = gpage_tail(4);
	p->size = RETRIEVE_SZ;
	report("retrieve_session_struct_cut_by_guard",
	       do_ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, p), EFAULT);
	p = gpage_tail(RETRIEVE_SZ);
	p->size = RETRIEVE_SZ;
	snprintf((char *)p->name, NAME_LEN, "retrieve_session_unknown");
	report("retrieve_session_at_page_end",
	       do_ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, p), ENOENT);
	RS_INIT("retrieve_session_unknown");
	report("retrieve_session_readonly_arg",
	       do_ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, ro_copy(&u, sizeof(u))),
	       ENOENT);
	RS_INIT("retrieve_session_unknown");
	report("retrieve_session_emfile",
	       ioctl_no_fds(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &u), EMFILE);
#undef RS_INIT
#undef RS_RUN

	xclose(&sfd);
	close(luo);
}

/*
 * Group: session fd ioctl dispatch, luo_session.c luo_session_ioctl(), in
 * order:
 *   1. nr < 0x40 or nr - 0x40 >= ARRAY_SIZE(luo_session_ioctl_ops) (4)
 *                                                       -> -EINVAL
 *   2. get_user(size) faults                            -> -EFAULT
 *   3. ioctl_num != cmd -> -ENOIOCTLCMD -> -ENOTTY (vfs_ioctl())
 *   4. luo_ioctl_type_valid(): FINISH and RETRIEVE_FD only on incoming
 *      (retrieved) sessions, PRESERVE_FD only on outgoing -> -EINVAL
 *   5. size < min_size                                  -> -EINVAL
 *   6. copy_struct_from_user()                          -> -E2BIG / -EFAULT
 * Session fds are anon inodes, so do_vfs_ioctl() hands FIONREAD and every
 * unknown cmd to the driver.
 */
static const struct {
	const char *name;
	unsigned int cmd;
	int arg;
	int expected;
} session_dispatch[] = {
	{ "session_ioctl_nr_00_create_cmd", LIVEUPDATE_IOCTL_CREATE_SESSION, ARG_CREATE, EINVAL },
	{ "session_ioctl_nr_01_retrieve_cmd", LIVEUPDATE_IOCTL_RETRIEVE_SESSION, ARG_CREATE,
	  EINVAL },
	{ "session_ioctl_nr_3f", _IO(0xBA, 0x3f), ARG_CREATE, EINVAL },
	{ "session_ioctl_nr_44", _IO(0xBA, 0x44), ARG_CREATE, EINVAL },
	{ "session_ioctl_nr_ff", _IO(0xBA, 0xff), ARG_CREATE, EINVAL },
	{ "session_ioctl_nr_44_null_arg", _IO(0xBA, 0x44), ARG_NULL, EINVAL },
	{ "session_ioctl_fionread", FIONREAD, ARG_CREATE, EINVAL },
	{ "session_ioctl_other_type_nr_40", _IO(0xBB, 0x40), ARG_CREATE, ENOTTY },
	{ "session_ioctl_other_type_nr_43", _IO(0xBB, 0x43), ARG_CREATE, ENOTTY },
	{ "session_ioctl_other_type_null_arg", _IO(0xBB, 0x43), ARG_NULL, EFAULT },
	{ "session_ioctl_other_type_size_0", _IO(0xBB, 0x43), ARG_SIZE0, ENOTTY },
	{ "session_ioctl_get_name_iowr",
	  _IOWR(0xBA, 0x43, struct liveupdate_session_get_name), ARG_CREATE, ENOTTY },
	{ "session_ioctl_preserve_iow",
	  _IOW(0xBA, 0x40, struct liveupdate_session_preserve_fd), ARG_CREATE, ENOTTY },
	{ "session_ioctl_finish_iow",
	  _IOW(0xBA, 0x42, struct liveupdate_session_finish), ARG_CREATE, ENOTTY },
	{ "session_ioctl_preserve_null_arg", LIVEUPDATE_SESSION_PRESERVE_FD, ARG_NULL, EFAULT },
	{ "session_ioctl_preserve_arg_8", LIVEUPDATE_SESSION_PRESERVE_FD, ARG_8, EFAULT },
	{ "session_ioctl_get_name_null_arg", LIVEUPDATE_SESSION_GET_NAME, ARG_NULL, EFAULT },
	{ "session_ioctl_get_name_size_field_cut", LIVEUPDATE_SESSION_GET_NAME, ARG_SIZE_CUT,
	  EFAULT },
	{ "session_ioctl_finish_null_arg", LIVEUPDATE_SESSION_FINISH, ARG_NULL, EFAULT },
	{ "session_ioctl_retrieve_fd_null_arg", LIVEUPDATE_SESSION_RETRIEVE_FD, ARG_NULL,
	  EFAULT },
};

static void group_session_dispatch(void)
{
	struct liveupdate_session_get_name a;
	unsigned int i;
	int luo, sfd;
	void *arg;

	luo = luo_open();
	sfd = session_new(luo, "session_dispatch");
	if (sfd < 0) {
		report(session_dispatch[0].name, R_SETUP + sfd, session_dispatch[0].expected);
		goto out;
	}
	for (i = 0; i < sizeof(session_dispatch) / sizeof(session_dispatch[0]); i++) {
		/*
		 * A GET_NAME argument: harmless whatever the kernel makes of
		 * it (as a PRESERVE_FD argument its fd is 0, the console).
		 */
		memset(&a, 0, sizeof(a));
		a.size = GETNAME_SZ;
		arg = &a;
		switch (session_dispatch[i].arg) {
		case ARG_NULL:
			arg = NULL;
			break;
		case ARG_8:
			arg = (void *)8;
			break;
		case ARG_SIZE0:
			a.size = 0;
			break;
		case ARG_SIZE_CUT:
			arg = gpage_tail(2);
			break;
		}
		report(session_dispatch[i].name,
		       do_ioctl(sfd, session_dispatch[i].cmd, arg),
		       session_dispatch[i].expected);
	}
out:
	xclose(&sfd);
	close(luo);
}

/*
 * Group: RETRIEVE_FD and FINISH on an outgoing session.
 * luo_session.c luo_session_ioctl() -> luo_ioctl_type_valid(): both are
 * LUO_IOCTL_INCOMING and an outgoing session has retrieved == false ->
 * -EINVAL, before the size and tail checks (but after get_user()).
 */
static void group_outgoing_only(void)
{
	union {
		struct liveupdate_session_retrieve_fd s;
		unsigned char b[24];
	} r;
	struct liveupdate_session_finish f;
	int luo, sfd = -1, empty = -1, memfd = -1, res;

	luo = luo_open();
	sfd = session_new(luo, "outgoing_only");
	empty = session_new(luo, "outgoing_only_empty");
	memfd = memfd_new("outgoing_only", 0, 100);
	if (sfd < 0 || empty < 0 || memfd < 0) {
		res = sfd < 0 ? sfd : empty < 0 ? empty : memfd;
		report("retrieve_fd_outgoing", R_SETUP + res, EINVAL);
		goto out;
	}
	res = preserve(sfd, memfd, 1);
	if (res) {
		report("retrieve_fd_outgoing", R_SETUP - res, EINVAL);
		goto out;
	}

#define RFD_RUN(sess)							\
	({								\
		int __r = do_ioctl(sess, LIVEUPDATE_SESSION_RETRIEVE_FD, &r); \
		if (!__r && r.s.fd >= 0)				\
			close(r.s.fd);					\
		__r;							\
	})
	memset(&r, 0, sizeof(r));
	r.s.size = RFD_SZ;
	r.s.fd = -1;
	r.s.token = 1;
	report("retrieve_fd_outgoing", RFD_RUN(sfd), EINVAL);
	r.s.token = 2;
	report("retrieve_fd_outgoing_unknown_token", RFD_RUN(sfd), EINVAL);
	report("retrieve_fd_outgoing_empty_session", RFD_RUN(empty), EINVAL);
	r.s.token = 1;
	r.s.size = 0;
	report("retrieve_fd_outgoing_size_0", RFD_RUN(sfd), EINVAL);
	r.s.size = sizeof(r);
	r.b[sizeof(r) - 1] = 1;
	report("retrieve_fd_outgoing_nonzero_tail", RFD_RUN(sfd), EINVAL);
#undef RFD_RUN

	memset(&f, 0, sizeof(f));
	f.size = FINISH_SZ;
	report("finish_outgoing", do_ioctl(sfd, LIVEUPDATE_SESSION_FINISH, &f), EINVAL);
	report("finish_outgoing_empty_session",
	       do_ioctl(empty, LIVEUPDATE_SESSION_FINISH, &f), EINVAL);
	f.reserved = 1;
	report("finish_outgoing_reserved_nonzero",
	       do_ioctl(sfd, LIVEUPDATE_SESSION_FINISH, &f), EINVAL);
	f.reserved = 0;
	f.size = 0;
	report("finish_outgoing_size_0", do_ioctl(sfd, LIVEUPDATE_SESSION_FINISH, &f), EINVAL);
	f.size = FINISH_SZ;
	report("finish_outgoing_readonly_arg",
	       do_ioctl(sfd, LIVEUPDATE_SESSION_FINISH, ro_copy(&f, sizeof(f))), EINVAL);

	/* Neither touched the preserved file: its token is still taken. */
	report("preserve_fd_token_kept_after_finish_outgoing",
	       preserve(sfd, memfd, 1), EEXIST);
out:
	xclose(&memfd);
	xclose(&empty);
	xclose(&sfd);
	close(luo);
}

/*
 * Group: GET_NAME.
 * luo_session_ioctl(): LUO_IOCTL_ALL, min_size = offsetofend(name) = 72.
 * luo_session_get_name(): reserved != 0 -> -EINVAL (after the tail check in
 * copy_struct_from_user()); luo_ucmd_respond() writes min(size, 72) bytes
 * back -> -EFAULT on a read-only argument.
 */
static void get_name_size_case(int sfd, const char *name, unsigned int size,
			       int tail_byte, int expected)
{
	union {
		struct liveupdate_session_get_name s;
		unsigned char b[128];
	} u;
	int res, i, end = size > GETNAME_SZ ? size : GETNAME_SZ;

	memset(&u, 0, sizeof(u));
	u.s.size = size;
	if (tail_byte >= 0)
		u.b[tail_byte] = 0x5a;
	for (i = end; i < (int)sizeof(u); i++)
		u.b[i] = 0xa5;
	res = do_ioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, &u);
	if (!res && !name_is(u.s.name, "get_name"))
		res = R_BADNAME;
	for (i = end; !res && i < (int)sizeof(u); i++)
		if (u.b[i] != 0xa5)
			res = R_CANARY;
	report(name, res, expected);
}

static void group_get_name(void)
{
	struct liveupdate_session_get_name a, *p;
	int luo, sfd, res;

	luo = luo_open();
	sfd = session_new(luo, "get_name");
	if (sfd < 0) {
		report("get_name_ok", R_SETUP + sfd, 0);
		goto out;
	}
	report("get_name_ok", get_name_is(sfd, "get_name"), 0);

	get_name_size_case(sfd, "get_name_size_0", 0, -1, EINVAL);
	get_name_size_case(sfd, "get_name_size_8", 8, -1, EINVAL);
	get_name_size_case(sfd, "get_name_size_71", 71, -1, EINVAL);
	get_name_size_case(sfd, "get_name_size_72_exact", 72, -1, 0);
	get_name_size_case(sfd, "get_name_size_80_zero_tail", 80, -1, 0);
	get_name_size_case(sfd, "get_name_size_80_nonzero_tail", 80, 79, E2BIG);
	get_name_size_case(sfd, "get_name_size_73_nonzero_tail", 73, 72, E2BIG);

	memset(&a, 0, sizeof(a));
	a.size = GETNAME_SZ;
	a.reserved = 1;
	report("get_name_reserved_nonzero",
	       do_ioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, &a), EINVAL);
	{
		union {
			struct liveupdate_session_get_name s;
			unsigned char b[80];
		} u;

		memset(&u, 0, sizeof(u));
		u.s.size = sizeof(u);
		u.s.reserved = 1;
		u.b[79] = 1;
		report("get_name_reserved_nonzero_nonzero_tail",
		       do_ioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, &u), E2BIG);
	}

	/* The input name field is ignored and overwritten. */
	memset(&a, 0, sizeof(a));
	a.size = GETNAME_SZ;
	memset(a.name, 'Z', sizeof(a.name));
	res = do_ioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, &a);
	if (!res && !name_is(a.name, "get_name"))
		res = R_BADNAME;
	report("get_name_input_name_ignored", res, 0);

	memset(&a, 0, sizeof(a));
	a.size = GETNAME_SZ;
	report("get_name_readonly_arg",
	       do_ioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, ro_copy(&a, sizeof(a))), EFAULT);

	p = gpage_tail(GETNAME_SZ);
	p->size = GETNAME_SZ;
	res = do_ioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, p);
	if (!res && !name_is(p->name, "get_name"))
		res = R_BADNAME;
	report("get_name_at_page_end", res, 0);

	p = gpage_tail(8);
	p->size = GETNAME_SZ;
	report("get_name_struct_cut_by_guard",
	       do_ioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, p), EFAULT);

	p = gpage_tail(page);
	p->size = page;
	res = do_ioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, p);
	if (!res && !name_is(p->name, "get_name"))
		res = R_BADNAME;
	report("get_name_size_page_zero_tail", res, 0);

	p = gpage_tail(page);
	p->size = 2 * page;
	report("get_name_size_tail_in_guard",
	       do_ioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, p), EFAULT);
out:
	xclose(&sfd);
	close(luo);
}

/*
 * Group: PRESERVE_FD argument size and memory.
 * luo_session_ioctl(): min_size = offsetofend(token) = 16 = sizeof; tail
 * rules of copy_struct_from_user().  luo_session_preserve_fd(): when the
 * reply cannot be written, the file stays preserved and -EFAULT is returned.
 */
static void preserve_size_case(int sfd, const char *name, unsigned int size,
			       int tail_byte, __u64 token, int expected)
{
	union {
		struct liveupdate_session_preserve_fd s;
		unsigned char b[64];
	} u;
	int memfd, res;

	memfd = memfd_new(name, 0, 100);
	if (memfd < 0) {
		report(name, R_SETUP + memfd, expected);
		return;
	}
	memset(&u, 0, sizeof(u));
	u.s.size = size;
	u.s.fd = memfd;
	u.s.token = token;
	if (tail_byte >= 0)
		u.b[tail_byte] = 0x5a;
	res = do_ioctl(sfd, LIVEUPDATE_SESSION_PRESERVE_FD, &u);
	report(name, res, expected);
	close(memfd);
}

static void group_preserve_size(void)
{
	struct liveupdate_session_preserve_fd a, *p;
	int luo, sfd, memfd = -1;

	luo = luo_open();
	sfd = session_new(luo, "preserve_size");
	if (sfd < 0) {
		report("preserve_fd_size_0", R_SETUP + sfd, EINVAL);
		goto out;
	}
	preserve_size_case(sfd, "preserve_fd_size_0", 0, -1, 0x10, EINVAL);
	preserve_size_case(sfd, "preserve_fd_size_8", 8, -1, 0x11, EINVAL);
	preserve_size_case(sfd, "preserve_fd_size_15", 15, -1, 0x12, EINVAL);
	preserve_size_case(sfd, "preserve_fd_size_16_exact", 16, -1, 0x13, 0);
	preserve_size_case(sfd, "preserve_fd_size_17_nonzero_tail", 17, 16, 0x14, E2BIG);
	preserve_size_case(sfd, "preserve_fd_size_24_zero_tail", 24, -1, 0x15, 0);
	preserve_size_case(sfd, "preserve_fd_size_24_nonzero_tail", 24, 23, 0x16, E2BIG);
	preserve_size_case(sfd, "preserve_fd_size_64_nonzero_tail", 64, 40, 0x17, E2BIG);
	/* The failed attempts did not take their tokens. */
	preserve_size_case(sfd, "preserve_fd_token_free_after_e2big", 16, -1, 0x16, 0);
	preserve_size_case(sfd, "preserve_fd_token_free_after_size_einval", 16, -1, 0x10, 0);

	memfd = memfd_new("preserve_size_guard", 0, 100);
	if (memfd < 0) {
		report("preserve_fd_struct_cut_by_guard", R_SETUP + memfd, EFAULT);
		goto out;
	}
	p = gpage_tail(8);
	p->size = PRESERVE_SZ;
	p->fd = memfd;
	report("preserve_fd_struct_cut_by_guard",
	       do_ioctl(sfd, LIVEUPDATE_SESSION_PRESERVE_FD, p), EFAULT);
	p = gpage_tail(PRESERVE_SZ);
	p->size = PRESERVE_SZ;
	p->fd = memfd;
	p->token = 0x20;
	report("preserve_fd_at_page_end", do_ioctl(sfd, LIVEUPDATE_SESSION_PRESERVE_FD, p), 0);
	xclose(&memfd);

	/* Read-only argument: -EFAULT, yet the file is preserved. */
	memfd = memfd_new("preserve_size_ro", 0, 4096);
	if (memfd < 0) {
		report("preserve_fd_readonly_arg", R_SETUP + memfd, EFAULT);
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.size = PRESERVE_SZ;
	a.fd = memfd;
	a.token = 0x30;
	report("preserve_fd_readonly_arg",
	       do_ioctl(sfd, LIVEUPDATE_SESSION_PRESERVE_FD, ro_copy(&a, sizeof(a))), EFAULT);
	report("preserve_fd_readonly_kept_same_token", preserve(sfd, memfd, 0x30), EEXIST);
	report("preserve_fd_readonly_kept_same_file", preserve(sfd, memfd, 0x31), EBUSY);
	report("memfd_ftruncate_after_readonly_preserve", sys_res(ftruncate(memfd, 8192)), EPERM);
out:
	xclose(&memfd);
	xclose(&sfd);
	close(luo);
}

/*
 * Group: what PRESERVE_FD accepts.
 * luo_file.c luo_preserve_file(): fget(fd) == NULL (closed, out of range,
 * negative, or an O_PATH file) -> -EBADF; no handler's can_preserve()
 * accepts the file -> -ENOENT.  The only handler is memfd_luo:
 * mm/memfd_luo.c memfd_luo_can_preserve() = shmem_file(file) && !i_nlink,
 * i.e. any unlinked regular shmem/tmpfs file (memfd, unlinked or O_TMPFILE
 * tmpfs file) and nothing else (hugetlb and secretmem memfds are not shmem).
 */
static void preserve_type_case(int sfd, const char *name, int fd, __u64 token,
			       int expected)
{
	report(name, fd < 0 ? R_SETUP - errno : preserve(sfd, fd, token), expected);
	xclose(&fd);
}

static void group_preserve_type(void)
{
	int luo, sfd, other = -1, fd, pfd[2], sv[2], res;
	char path[64];

	luo = luo_open();
	sfd = session_new(luo, "preserve_type");
	other = session_new(luo, "preserve_type_other");
	if (sfd < 0 || other < 0) {
		report("preserve_fd_memfd_empty", R_SETUP + (sfd < 0 ? sfd : other), 0);
		goto out;
	}

	fd = memfd_new("empty", 0, 0);
	report("preserve_fd_memfd_empty", fd < 0 ? R_SETUP + fd : preserve(sfd, fd, 1), 0);
	xclose(&fd);
	fd = memfd_new("one_page", 0, 4096);
	report("preserve_fd_memfd_one_page", fd < 0 ? R_SETUP + fd : preserve(sfd, fd, 2), 0);
	xclose(&fd);
	fd = memfd_new("sparse", MFD_CLOEXEC, 0);
	if (fd >= 0 && (ftruncate(fd, 1 << 20) || fill(fd, (1 << 20) - 1, 1))) {
		res = errno;
		close(fd);
		fd = -res;
	}
	report("preserve_fd_memfd_sparse", fd < 0 ? R_SETUP + fd : preserve(sfd, fd, 3), 0);
	xclose(&fd);

	report("preserve_fd_minus_1", preserve(sfd, -1, 10), EBADF);
	report("preserve_fd_int_min", preserve(sfd, INT_MIN, 11), EBADF);
	report("preserve_fd_large_number", preserve(sfd, 1 << 20, 12), EBADF);
	fd = memfd_new("closed", 0, 10);
	if (fd >= 0)
		close(fd);
	/* Nothing is opened in between, so the number is still free. */
	report("preserve_fd_closed", fd < 0 ? R_SETUP + fd : preserve(sfd, fd, 13), EBADF);
	/* The closed memfd's number, now naming /dev/null. */
	if (fd >= 0) {
		res = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (res < 0 || dup2(res, fd) < 0) {
			report("preserve_fd_closed_number_reused", R_SETUP - errno, ENOENT);
		} else {
			report("preserve_fd_closed_number_reused", preserve(sfd, fd, 13), ENOENT);
			close(fd);
		}
		if (res >= 0 && res != fd)
			close(res);
	}
	fd = -1;

	preserve_type_case(sfd, "preserve_fd_opath", open("/", O_PATH | O_CLOEXEC), 14, EBADF);
	fd = memfd_new("opath", 0, 10);
	if (fd < 0) {
		report("preserve_fd_opath_memfd", R_SETUP + fd, EBADF);
	} else {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		preserve_type_case(sfd, "preserve_fd_opath_memfd",
				   open(path, O_PATH | O_CLOEXEC), 15, EBADF);
		xclose(&fd);
	}

	if (pipe2(pfd, O_CLOEXEC)) {
		report("preserve_fd_pipe", R_SETUP - errno, ENOENT);
	} else {
		report("preserve_fd_pipe", preserve(sfd, pfd[1], 20), ENOENT);
		close(pfd[0]);
		close(pfd[1]);
	}
	preserve_type_case(sfd, "preserve_fd_dev_null",
			   open("/dev/null", O_RDWR | O_CLOEXEC), 21, ENOENT);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		report("preserve_fd_unix_socket", R_SETUP - errno, ENOENT);
	} else {
		report("preserve_fd_unix_socket", preserve(sfd, sv[0], 22), ENOENT);
		close(sv[0]);
		close(sv[1]);
	}
	preserve_type_case(sfd, "preserve_fd_eventfd", eventfd(0, EFD_CLOEXEC), 23, ENOENT);
	report("preserve_fd_luo_device", preserve(sfd, luo, 24), ENOENT);
	report("preserve_fd_session_itself", preserve(sfd, sfd, 25), ENOENT);
	report("preserve_fd_other_session", preserve(sfd, other, 26), ENOENT);
	preserve_type_case(sfd, "preserve_fd_root_dir",
			   open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), 27, ENOENT);
	preserve_type_case(sfd, "preserve_fd_proc_file",
			   open("/proc/self/status", O_RDONLY | O_CLOEXEC), 28, ENOENT);

	/* secretmem and hugetlb memfds are not shmem files. */
	fd = syscall(__NR_memfd_secret, 0);
	if (fd < 0)
		skip("preserve_fd_secretmem", "memfd_secret", errno);
	else
		preserve_type_case(sfd, "preserve_fd_secretmem", fd, 29, ENOENT);
	fd = memfd_create("hugetlb", MFD_HUGETLB | MFD_EXEC);
	if (fd < 0)
		skip("preserve_fd_hugetlb_memfd", "memfd_create(MFD_HUGETLB)", errno);
	else
		preserve_type_case(sfd, "preserve_fd_hugetlb_memfd", fd, 30, ENOENT);

	/* Regular tmpfs files: accepted once they have no link. */
	if (!tmp_is_tmpfs()) {
		skip("preserve_fd_tmpfs_linked_file", "/tmp is not a tmpfs", ENODEV);
		skip("preserve_fd_tmpfs_unlinked_file", "/tmp is not a tmpfs", ENODEV);
		skip("preserve_fd_tmpfs_o_tmpfile", "/tmp is not a tmpfs", ENODEV);
		goto out;
	}
	fd = open("/tmp/luo_errno_file", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || fill(fd, 0, 100)) {
		report("preserve_fd_tmpfs_linked_file", R_SETUP - errno, ENOENT);
		xclose(&fd);
		unlink("/tmp/luo_errno_file");
	} else {
		report("preserve_fd_tmpfs_linked_file", preserve(sfd, fd, 40), ENOENT);
		res = sys_res(unlink("/tmp/luo_errno_file"));
		report("preserve_fd_tmpfs_unlinked_file",
		       res ? R_SETUP - res : preserve(sfd, fd, 40), 0);
		xclose(&fd);
	}
	fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 && fill(fd, 0, 100)) {
		res = errno;
		close(fd);
		fd = -1;
		errno = res;
	}
	preserve_type_case(sfd, "preserve_fd_tmpfs_o_tmpfile", fd, 41, 0);
out:
	xclose(&other);
	xclose(&sfd);
	close(luo);
}

/*
 * Group: tokens and double preservation.
 * luo_file.c luo_preserve_file(): luo_token_is_used() (per session) is
 * checked first -> -EEXIST, even for a bad fd; then the file is inserted in
 * the global luo_preserved_files xarray keyed by memfd_luo_get_id() = the
 * inode, so the same memfd (any fd or struct file for it) in any session ->
 * -EBUSY.  Failures undo everything, so their token and file stay free.
 * luo_session_release() -> luo_file_unpreserve_files() frees both.
 */
static void group_tokens(void)
{
	int luo, s1 = -1, s2 = -1, m1 = -1, m2 = -1, fd = -1, res, i, pfd[2];
	char path[64];

	luo = luo_open();
	s1 = session_new(luo, "tokens_1");
	s2 = session_new(luo, "tokens_2");
	m1 = memfd_new("tokens_1", 0, 4096);
	m2 = memfd_new("tokens_2", 0, 4096);
	if (s1 < 0 || s2 < 0 || m1 < 0 || m2 < 0) {
		res = s1 < 0 ? s1 : s2 < 0 ? s2 : m1 < 0 ? m1 : m2;
		report("preserve_fd_first", R_SETUP + res, 0);
		goto out;
	}
	report("preserve_fd_first", preserve(s1, m1, 0x100), 0);
	report("preserve_fd_duplicate_token", preserve(s1, m2, 0x100), EEXIST);
	report("preserve_fd_duplicate_token_bad_fd", preserve(s1, -1, 0x100), EEXIST);
	report("preserve_fd_duplicate_token_same_file", preserve(s1, m1, 0x100), EEXIST);
	report("preserve_fd_same_memfd_same_session", preserve(s1, m1, 0x101), EBUSY);
	report("preserve_fd_same_memfd_other_session", preserve(s2, m1, 0x100), EBUSY);
	fd = dup(m1);
	report("preserve_fd_dup_of_memfd", fd < 0 ? R_SETUP - errno : preserve(s2, fd, 0x102),
	       EBUSY);
	xclose(&fd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m1);
	fd = open(path, O_RDWR | O_CLOEXEC);
	report("preserve_fd_memfd_reopened_via_proc",
	       fd < 0 ? R_SETUP - errno : preserve(s2, fd, 0x103), EBUSY);
	xclose(&fd);

	/* Failed attempts leave their token free. */
	report("preserve_fd_token_free_after_ebusy", preserve(s1, m2, 0x101), 0);
	report("preserve_fd_token_free_after_ebadf_first", preserve(s1, -1, 0x104), EBADF);
	fd = memfd_new("tokens_3", 0, 10);
	report("preserve_fd_token_free_after_ebadf",
	       fd < 0 ? R_SETUP + fd : preserve(s1, fd, 0x104), 0);
	xclose(&fd);
	if (pipe2(pfd, O_CLOEXEC)) {
		report("preserve_fd_token_free_after_enoent", R_SETUP - errno, 0);
	} else {
		res = preserve(s1, pfd[0], 0x105);
		close(pfd[0]);
		close(pfd[1]);
		fd = memfd_new("tokens_4", 0, 10);
		if (res != ENOENT)
			report("preserve_fd_token_free_after_enoent", R_SETUP - ENOENT, 0);
		else
			report("preserve_fd_token_free_after_enoent",
			       fd < 0 ? R_SETUP + fd : preserve(s1, fd, 0x105), 0);
		xclose(&fd);
	}

	/* Tokens are per session; any u64 value works. */
	fd = memfd_new("tokens_5", 0, 10);
	report("preserve_fd_same_token_other_session",
	       fd < 0 ? R_SETUP + fd : preserve(s2, fd, 0x100), 0);
	xclose(&fd);
	fd = memfd_new("tokens_6", 0, 10);
	report("preserve_fd_token_zero", fd < 0 ? R_SETUP + fd : preserve(s2, fd, 0), 0);
	xclose(&fd);
	fd = memfd_new("tokens_7", 0, 10);
	report("preserve_fd_token_u64_max",
	       fd < 0 ? R_SETUP + fd : preserve(s2, fd, ~0ULL), 0);
	xclose(&fd);
	fd = memfd_new("tokens_8", 0, 10);
	report("preserve_fd_token_u64_max_duplicate",
	       fd < 0 ? R_SETUP + fd : preserve(s2, fd, ~0ULL), EEXIST);
	xclose(&fd);

	/* Closing the memfd does not unpreserve it (LUO holds a reference). */
	fd = memfd_new("tokens_9", 0, 10);
	report("preserve_fd_user_close_first",
	       fd < 0 ? R_SETUP + fd : preserve(s2, fd, 0x200), 0);
	xclose(&fd);
	fd = memfd_new("tokens_10", 0, 10);
	report("preserve_fd_user_closed_token_kept",
	       fd < 0 ? R_SETUP + fd : preserve(s2, fd, 0x200), EEXIST);
	xclose(&fd);

	/* Closing a session unpreserves its files. */
	xclose(&s1);
	report("preserve_fd_after_session_close", preserve(s2, m1, 0x300), 0);
	report("preserve_fd_after_session_close_second", preserve(s2, m2, 0x301), 0);

	/* Many files: the session's block set grows over several blocks. */
	xclose(&s1);
	s1 = session_new(luo, "tokens_many");
	if (s1 < 0) {
		report("preserve_fd_many_memfds", R_SETUP + s1, 0);
		goto out;
	}
	res = 0;
	for (i = 0; i < MANY_FILES && !res; i++) {
		fd = memfd_new("many", 0, 1);
		res = fd < 0 ? R_SETUP + fd : preserve(s1, fd, 0x1000 + i);
		xclose(&fd);
	}
	report("preserve_fd_many_memfds", res, 0);
	fd = memfd_new("many_dup", 0, 1);
	report("preserve_fd_many_memfds_duplicate_token",
	       fd < 0 ? R_SETUP + fd : preserve(s1, fd, 0x1000 + 77), EEXIST);
	report("preserve_fd_many_memfds_one_more",
	       fd < 0 ? R_SETUP + fd : preserve(s1, fd, 0x1000 + MANY_FILES), 0);
	xclose(&fd);
out:
	xclose(&fd);
	xclose(&m1);
	xclose(&m2);
	xclose(&s1);
	xclose(&s2);
	close(luo);
}

/*
 * Group: memfd_luo specifics (mm/memfd_luo.c memfd_luo_preserve()).
 * Any combination of the seals the kernel knows is within
 * MEMFD_LUO_ALL_SEALS, so no seal set is refused.  A size over UINT_MAX
 * pages -> -EFBIG.  While preserved the inode is frozen (shmem_freeze()):
 * mm/shmem.c refuses size changes (shmem_setattr()), fallocate
 * (shmem_fallocate()) and writes past EOF (shmem_write_begin()) with
 * -EPERM; memfd_luo_unpreserve() (session close) and a failed preserve
 * unfreeze it.
 */
static void group_memfd(void)
{
	static const char data[16] = "luo_errno memfd";
	int luo, sfd = -1, fd = -1, res;
	char buf[16];

	luo = luo_open();
	sfd = session_new(luo, "memfd");
	if (sfd < 0) {
		report("preserve_fd_memfd_all_seals", R_SETUP + sfd, 0);
		goto out;
	}

	fd = memfd_new("all_seals", MFD_ALLOW_SEALING | MFD_CLOEXEC, 4096);
	if (fd >= 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW |
			     F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC)) {
		res = errno;
		close(fd);
		fd = -res;
	}
	report("preserve_fd_memfd_all_seals", fd < 0 ? R_SETUP + fd : preserve(sfd, fd, 1), 0);
	xclose(&fd);

	fd = memfd_new("noexec_seal", MFD_NOEXEC_SEAL | MFD_CLOEXEC, 4096);
	report("preserve_fd_memfd_noexec_seal",
	       fd < 0 ? R_SETUP + fd : preserve(sfd, fd, 2), 0);
	xclose(&fd);

	fd = memfd_new("sealing_no_seals", MFD_ALLOW_SEALING | MFD_CLOEXEC, 4096);
	report("preserve_fd_memfd_allow_sealing",
	       fd < 0 ? R_SETUP + fd : preserve(sfd, fd, 3), 0);
	xclose(&fd);

	/* (UINT_MAX + 2) pages, all holes: refused before anything is pinned. */
	fd = memfd_new("too_big", MFD_CLOEXEC, 0);
	if (fd >= 0 && ftruncate(fd, ((off_t)UINT_MAX + 2) * page)) {
		res = errno;
		close(fd);
		fd = -res;
	}
	report("preserve_fd_memfd_too_big", fd < 0 ? R_SETUP + fd : preserve(sfd, fd, 4), EFBIG);
	if (fd < 0)
		goto out;
	report("memfd_ftruncate_after_failed_preserve", sys_res(ftruncate(fd, 4096)), 0);
	report("preserve_fd_after_efbig_shrunk", preserve(sfd, fd, 4), 0);

	/* fd is preserved now, 4096 bytes long. */
	report("memfd_ftruncate_grow_while_preserved", sys_res(ftruncate(fd, 8192)), EPERM);
	report("memfd_ftruncate_shrink_while_preserved", sys_res(ftruncate(fd, 0)), EPERM);
	report("memfd_ftruncate_same_size_while_preserved", sys_res(ftruncate(fd, 4096)), 0);
	report("memfd_fallocate_while_preserved", sys_res(fallocate(fd, 0, 0, 4096)), EPERM);
	report("memfd_fallocate_past_eof_while_preserved",
	       sys_res(fallocate(fd, 0, 4096, 4096)), EPERM);
	report("memfd_write_past_eof_while_preserved",
	       sys_res(pwrite(fd, data, sizeof(data), 4096)), EPERM);
	report("memfd_write_inside_while_preserved",
	       sys_res(pwrite(fd, data, sizeof(data), 100)), 0);

	/* Closing the session unpreserves and unfreezes it. */
	xclose(&sfd);
	report("memfd_ftruncate_after_unpreserve", sys_res(ftruncate(fd, 8192)), 0);
	res = pread(fd, buf, sizeof(buf), 100) == (ssize_t)sizeof(buf) ? 0 : R_BADDATA;
	if (!res && memcmp(buf, data, sizeof(data)))
		res = R_BADDATA;
	report("memfd_data_after_unpreserve", res, 0);
	sfd = session_new(luo, "memfd_again");
	report("preserve_fd_memfd_again_after_unpreserve",
	       sfd < 0 ? R_SETUP + sfd : preserve(sfd, fd, 4), 0);
out:
	xclose(&fd);
	xclose(&sfd);
	close(luo);
}

/* Two-stage mode ----------------------------------------------------------- */

/*
 * The state "prepare_next_stage" leaves for the next kernel: the sessions of
 * s2_sessions[] (each one is used by one group of s2_ cases) and the memfds
 * of s2_files[] preserved in them.  A memfd holds @size bytes of the
 * fill_seeded() pattern with seed @token & 0xff, the seals @seals (it is
 * made with MFD_ALLOW_SEALING when there are any) and file position @pos.
 */
static const char *const s2_sessions[] = {
	"s2_main", "s2_empty", "s2_release", "s2_unretrieved", "s2_sizes",
	"s2_readonly", "s2_same_name", "s2_garbage", "s2_finish_ro",
};
#define S2_NSESSIONS	(sizeof(s2_sessions) / sizeof(s2_sessions[0]))

static const struct s2_file {
	const char *session;
	__u64 token;
	unsigned int size;
	unsigned int seals;
	unsigned int pos;
} s2_files[] = {
	{ "s2_main", 1, 100, 0, 0 },
	{ "s2_main", 2, 12345, 0, 0 },
	{ "s2_main", 3, 65536, F_SEAL_SHRINK | F_SEAL_GROW, 777 },
	{ "s2_release", 10, 5000, 0, 0 },
	{ "s2_release", 11, 4096, 0, 0 },
	{ "s2_unretrieved", 20, 8192, 0, 0 },
	{ "s2_unretrieved", 21, 1, 0, 0 },
	{ "s2_sizes", 30, 300, 0, 0 },
	{ "s2_readonly", 40, 400, 0, 0 },
	{ "s2_same_name", 50, 500, 0, 0 },
	{ "s2_finish_ro", 70, 700, 0, 0 },
	{ "s2_finish_ro", 71, 710, 0, 0 },
};
#define S2_NFILES	(sizeof(s2_files) / sizeof(s2_files[0]))

static const struct s2_file *s2_file(__u64 token)
{
	unsigned int i;

	for (i = 0; i < S2_NFILES; i++)
		if (s2_files[i].token == token)
			return &s2_files[i];
	fatal("s2_file: unknown token", ENOENT);
	return NULL;
}

/* Preserve the memfds of s2_files[] that belong in @session. */
static int prepare_session_files(int sfd, const char *session)
{
	const struct s2_file *f;
	unsigned int i;
	int fd, res;

	for (i = 0; i < S2_NFILES; i++) {
		f = &s2_files[i];
		if (strcmp(f->session, session))
			continue;
		fd = memfd_new("luo_errno_s2", f->seals ? MFD_ALLOW_SEALING : 0, 0);
		if (fd < 0)
			return R_SETUP + fd;
		res = 0;
		if (fill_seeded(fd, 0, f->size, f->token & 0xff) ||
		    (f->seals && fcntl(fd, F_ADD_SEALS, f->seals)) ||
		    lseek(fd, f->pos, SEEK_SET) != (off_t)f->pos)
			res = R_SETUP - errno;
		if (!res)
			res = preserve(sfd, fd, f->token);
		close(fd);
		if (res)
			return res;
	}
	return 0;
}

/*
 * Create the state the next stage's s2_ cases expect, and keep the session
 * fds open in a child that outlives us (it is still pausing when luo_init
 * kexecs).  The memfd fds are closed: LUO holds its own references.
 */
static void prepare_next_stage(void)
{
	int luo, sfd[S2_NSESSIONS], res = 0;
	unsigned int i;
	pid_t pid;

	for (i = 0; i < S2_NSESSIONS; i++)
		sfd[i] = -1;
	luo = luo_open();
	for (i = 0; i < S2_NSESSIONS && !res; i++) {
		sfd[i] = session_new(luo, s2_sessions[i]);
		if (sfd[i] < 0) {
			res = -sfd[i];
			sfd[i] = -1;
			break;
		}
		res = prepare_session_files(sfd[i], s2_sessions[i]);
	}
	close(luo);
	if (!res) {
		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			res = R_SETUP - errno;
		} else if (!pid) {
			for (;;)
				pause();
		}
	}
	/* The child's copies keep the sessions. */
	for (i = 0; i < S2_NSESSIONS; i++)
		xclose(&sfd[i]);
	report("prepare_next_stage", res, 0);
}

/* RETRIEVE_SESSION of @name with @size and a 0x5a at @tail_byte (if >= 0). */
static int retrieve_session_sized(int luo, const char *name, unsigned int size,
				  int tail_byte, int *fdp)
{
	union {
		struct liveupdate_ioctl_retrieve_session s;
		unsigned char b[80];
	} u;
	int res;

	memset(&u, 0, sizeof(u));
	u.s.size = size;
	u.s.fd = -1;
	snprintf((char *)u.s.name, NAME_LEN, "%s", name);
	if (tail_byte >= 0)
		u.b[tail_byte] = 0x5a;
	*fdp = -1;
	res = do_ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &u);
	if (!res)
		*fdp = u.s.fd;
	return res;
}

/* RETRIEVE_SESSION of @name: 0 with the fd in *@fdp, or an errno. */
static int retrieve_session(int luo, const char *name, int *fdp)
{
	return retrieve_session_sized(luo, name, RETRIEVE_SZ, -1, fdp);
}

/* The same, closing any fd returned. */
static int retrieve_session_res(int luo, const char *name)
{
	int fd, res = retrieve_session(luo, name, &fd);

	xclose(&fd);
	return res;
}

/* RETRIEVE_SESSION of @name, checking the new session fd (kept in *@fdp). */
static int retrieve_session_ok(int luo, const char *name, int *fdp)
{
	int res = retrieve_session(luo, name, fdp);

	return res ? res : session_fd_ok(*fdp, name);
}

/* RETRIEVE_FD of @token: 0 with the fd in *@fdp, or an errno. */
static int retrieve_fd(int sfd, __u64 token, int *fdp)
{
	struct liveupdate_session_retrieve_fd a;

	memset(&a, 0, sizeof(a));
	a.size = RFD_SZ;
	a.fd = -1;
	a.token = token;
	*fdp = -1;
	if (ioctl(sfd, LIVEUPDATE_SESSION_RETRIEVE_FD, &a) < 0)
		return errno;
	*fdp = a.fd;
	return 0;
}

/* The same, closing any fd returned. */
static int retrieve_fd_res(int sfd, __u64 token)
{
	int fd, res = retrieve_fd(sfd, token, &fd);

	xclose(&fd);
	return res;
}

/* Does @fd hold the size and contents s2_files[] gives for @token? */
static int memfd_is(int fd, __u64 token)
{
	const struct s2_file *f = s2_file(token);
	unsigned char buf[4096];
	struct stat st;
	size_t off, i, n;

	if (fd < 0 || fstat(fd, &st))
		return R_BADFD;
	if (!S_ISREG(st.st_mode) || st.st_size != (off_t)f->size)
		return R_BADDATA;
	for (off = 0; off < f->size; off += n) {
		n = f->size - off < sizeof(buf) ? f->size - off : sizeof(buf);
		if (pread(fd, buf, n, off) != (ssize_t)n)
			return R_BADDATA;
		for (i = 0; i < n; i++)
			if (buf[i] != pattern_byte(off + i, f->token & 0xff))
				return R_BADDATA;
	}
	return 0;
}

/* A memfd fd handed out by RETRIEVE_FD: open, close-on-exec, @token's data. */
static int retrieved_fd_ok(int fd, __u64 token)
{
	int fl, res;

	if (fd < 0)
		return R_BADFD;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		return R_BADFD;
	res = memfd_is(fd, token);
	if (!res && !(fl & FD_CLOEXEC))
		res = R_NOCLOEXEC;
	return res;
}

/* RETRIEVE_FD of @token, checking the fd (kept in *@fdp). */
static int retrieve_fd_ok(int sfd, __u64 token, int *fdp)
{
	int res = retrieve_fd(sfd, token, fdp);

	return res ? res : retrieved_fd_ok(*fdp, token);
}

/* Is @fd the file @ref was taken of? */
static int same_file(int fd, const struct stat *ref)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st))
		return R_BADFD;
	return st.st_dev == ref->st_dev && st.st_ino == ref->st_ino ? 0 : R_OTHERFILE;
}

/*
 * RETRIEVE_FD of @token with @size and a 0x5a at @tail_byte (if >= 0); on
 * success the fd must be the file of @ref, and is closed.
 */
static int retrieve_fd_sized(int sfd, unsigned int size, int tail_byte, __u64 token,
			     const struct stat *ref)
{
	union {
		struct liveupdate_session_retrieve_fd s;
		unsigned char b[32];
	} u;
	int res;

	memset(&u, 0, sizeof(u));
	u.s.size = size;
	u.s.fd = -1;
	u.s.token = token;
	if (tail_byte >= 0)
		u.b[tail_byte] = 0x5a;
	res = do_ioctl(sfd, LIVEUPDATE_SESSION_RETRIEVE_FD, &u);
	if (!res) {
		res = same_file(u.s.fd, ref);
		if (u.s.fd >= 0)
			close(u.s.fd);
	}
	return res;
}

/* FINISH with @size, @reserved and a 0x5a at @tail_byte (if >= 0). */
static int finish_sized(int sfd, unsigned int size, unsigned int reserved, int tail_byte)
{
	union {
		struct liveupdate_session_finish s;
		unsigned char b[16];
	} u;

	memset(&u, 0, sizeof(u));
	u.s.size = size;
	u.s.reserved = reserved;
	if (tail_byte >= 0)
		u.b[tail_byte] = 0x5a;
	return do_ioctl(sfd, LIVEUPDATE_SESSION_FINISH, &u);
}

static int finish(int sfd)
{
	return finish_sized(sfd, FINISH_SZ, 0, -1);
}

/*
 * Group (stage 2): opening /dev/liveupdate.  luo_core.c luo_open(): the
 * first open deserializes the incoming sessions (luo_session_deserialize(),
 * -EIO on failure); a second open while the first is held -> -EBUSY.
 */
static void group_s2_open(void)
{
	int fd1, fd2, err;

	fd1 = open(LUO_DEV, O_RDWR | O_CLOEXEC);
	err = fd1 < 0 ? errno : 0;
	report("s2_open_first", err, 0);
	if (fd1 < 0)
		fatal("open " LUO_DEV, err);
	fd2 = open(LUO_DEV, O_RDWR | O_CLOEXEC);
	report("s2_open_second_while_open", fd2 < 0 ? errno : 0, EBUSY);
	xclose(&fd2);
	xclose(&fd1);
}

/*
 * Group (stage 2): the life of an incoming session, "s2_main" (tokens 1, 2
 * and 3).
 * luo_session.c luo_session_retrieve(): searches the incoming list only
 * (-ENOENT); a session already retrieved -> -EINVAL (it stays on the list
 * until its file is released); the fd is O_CLOEXEC.
 * luo_session_ioctl() -> luo_ioctl_type_valid(): PRESERVE_FD on a retrieved
 * session -> -EINVAL before anything else; then min_size (RETRIEVE_FD 16,
 * FINISH 8) and the copy_struct_from_user() tail check (-E2BIG) come before
 * luo_session_finish()'s reserved check (-EINVAL).
 * luo_file.c luo_retrieve_file(): unknown token or empty list -> -ENOENT; a
 * token retrieved before returns the same struct file again (LUO keeps a
 * reference until finish, so closing the user's fds changes nothing); a
 * failed reply (-EFAULT) or fd allocation (-EMFILE) leaves the file
 * retrievable.  The retrieved file is in luo_preserved_files until finish,
 * so preserving it in an outgoing session -> -EBUSY (xa_insert()), after
 * finish -> 0.
 * luo_file_finish(): memfd_luo has no can_finish(); it empties the file set,
 * so a second FINISH (count 0) -> 0 and RETRIEVE_FD -> -ENOENT; the
 * session stays retrieved until luo_session_release() removes it.
 * mm/memfd_luo.c memfd_luo_retrieve(): a new memfd with the size, contents,
 * seals and position preserved; it is not frozen.
 */
static void group_s2_main(void)
{
	struct liveupdate_session_retrieve_fd a, *p;
	struct stat st1;
	int luo, sfd = -1, out = -1, m1 = -1, m1b = -1, m2 = -1, m3 = -1, fd = -1, res;
	off_t pos;

	luo = luo_open();
	report("s2_retrieve_session_unknown", retrieve_session_res(luo, "s2_unknown"), ENOENT);
	report("s2_retrieve_session_ok", retrieve_session_ok(luo, "s2_main", &sfd), 0);
	if (sfd < 0)
		goto out;
	report("s2_retrieve_session_again_while_open",
	       retrieve_session_res(luo, "s2_main"), EINVAL);
	report("s2_get_name_incoming", get_name_is(sfd, "s2_main"), 0);

	fd = memfd_new("s2_preserve_incoming", 0, 100);
	report("s2_preserve_fd_incoming",
	       fd < 0 ? R_SETUP + fd : preserve(sfd, fd, 100), EINVAL);
	xclose(&fd);
	report("s2_preserve_fd_incoming_bad_fd", preserve(sfd, -1, 101), EINVAL);
	report("s2_preserve_fd_incoming_same_token", preserve(sfd, -1, 1), EINVAL);

	report("s2_retrieve_fd_unknown_token", retrieve_fd_res(sfd, 99), ENOENT);
	report("s2_retrieve_fd_ok", retrieve_fd_ok(sfd, 1, &m1), 0);
	if (m1 < 0 || fstat(m1, &st1))
		goto out;
	res = retrieve_fd(sfd, 1, &m1b);
	report("s2_retrieve_fd_same_token_again", res ? res : same_file(m1b, &st1), 0);
	xclose(&m1b);
	xclose(&m1);
	res = retrieve_fd_ok(sfd, 1, &m1);
	report("s2_retrieve_fd_after_user_close", res ? res : same_file(m1, &st1), 0);
	if (m1 < 0)
		goto out;

	report("s2_retrieve_fd_size_0", retrieve_fd_sized(sfd, 0, -1, 1, &st1), EINVAL);
	report("s2_retrieve_fd_size_8", retrieve_fd_sized(sfd, 8, -1, 1, &st1), EINVAL);
	report("s2_retrieve_fd_size_15", retrieve_fd_sized(sfd, 15, -1, 1, &st1), EINVAL);
	report("s2_retrieve_fd_size_17_nonzero_tail",
	       retrieve_fd_sized(sfd, 17, 16, 1, &st1), E2BIG);
	report("s2_retrieve_fd_size_24_nonzero_tail",
	       retrieve_fd_sized(sfd, 24, 23, 1, &st1), E2BIG);
	report("s2_retrieve_fd_size_24_zero_tail",
	       retrieve_fd_sized(sfd, 24, -1, 1, &st1), 0);
	report("s2_retrieve_fd_unknown_token_nonzero_tail",
	       retrieve_fd_sized(sfd, 24, 23, 99, &st1), E2BIG);
	p = gpage_tail(8);
	p->size = RFD_SZ;
	report("s2_retrieve_fd_struct_cut_by_guard",
	       do_ioctl(sfd, LIVEUPDATE_SESSION_RETRIEVE_FD, p), EFAULT);
	p = gpage_tail(RFD_SZ);
	p->size = RFD_SZ;
	p->fd = -1;
	p->token = 1;
	res = do_ioctl(sfd, LIVEUPDATE_SESSION_RETRIEVE_FD, p);
	if (!res) {
		fd = p->fd;
		res = same_file(fd, &st1);
		xclose(&fd);
	}
	report("s2_retrieve_fd_at_page_end", res, 0);

	/* Token 2: the first retrieval cannot write its reply. */
	memset(&a, 0, sizeof(a));
	a.size = RFD_SZ;
	a.fd = -1;
	a.token = 2;
	report("s2_retrieve_fd_readonly_arg",
	       do_ioctl(sfd, LIVEUPDATE_SESSION_RETRIEVE_FD, ro_copy(&a, sizeof(a))), EFAULT);
	report("s2_retrieve_fd_after_readonly_arg", retrieve_fd_ok(sfd, 2, &m2), 0);

	/* Token 3: no fd can be allocated for the first retrieval. */
	memset(&a, 0, sizeof(a));
	a.size = RFD_SZ;
	a.fd = -1;
	a.token = 3;
	report("s2_retrieve_fd_emfile",
	       ioctl_no_fds(sfd, LIVEUPDATE_SESSION_RETRIEVE_FD, &a), EMFILE);
	report("s2_retrieve_fd_after_emfile", retrieve_fd_ok(sfd, 3, &m3), 0);
	if (m3 < 0) {
		res = R_BADFD;
	} else {
		res = fcntl(m3, F_GET_SEALS);
		res = res < 0 ? errno : res == (F_SEAL_SHRINK | F_SEAL_GROW) ? 0 : R_BADDATA;
	}
	report("s2_memfd_seals_preserved", res, 0);
	if (m3 < 0) {
		res = R_BADFD;
	} else {
		pos = lseek(m3, 0, SEEK_CUR);
		res = pos < 0 ? errno : pos == 777 ? 0 : R_BADDATA;
	}
	report("s2_memfd_position_preserved", res, 0);
	/* memfd_luo_retrieve() makes a new inode, not frozen (shmem_freeze()). */
	if (m2 < 0) {
		res = R_BADFD;
	} else {
		res = sys_res(ftruncate(m2, 2 * 12345));
		if (!res)
			res = sys_res(ftruncate(m2, 12345));
	}
	report("s2_memfd_ftruncate_before_finish", res, 0);

	/* A retrieved file is still LUO's until FINISH. */
	out = session_new(luo, "s2_main_out");
	if (out < 0) {
		report("s2_preserve_fd_retrieved_before_finish", R_SETUP + out, EBUSY);
		goto out;
	}
	report("s2_preserve_fd_retrieved_before_finish", preserve(out, m1, 1), EBUSY);

	report("s2_finish_size_0", finish_sized(sfd, 0, 0, -1), EINVAL);
	report("s2_finish_size_4", finish_sized(sfd, 4, 0, -1), EINVAL);
	report("s2_finish_reserved_nonzero", finish_sized(sfd, FINISH_SZ, 1, -1), EINVAL);
	report("s2_finish_size_16_nonzero_tail", finish_sized(sfd, 16, 0, 15), E2BIG);
	report("s2_finish_reserved_nonzero_nonzero_tail",
	       finish_sized(sfd, 16, 1, 15), E2BIG);
	/* None of them finished anything. */
	report("s2_retrieve_fd_after_failed_finish",
	       retrieve_fd_sized(sfd, RFD_SZ, -1, 1, &st1), 0);

	report("s2_finish_ok", finish(sfd), 0);
	report("s2_finish_again", finish(sfd), 0);
	report("s2_finish_size_16_zero_tail_after_finish", finish_sized(sfd, 16, 0, -1), 0);
	report("s2_retrieve_fd_after_finish", retrieve_fd_res(sfd, 1), ENOENT);
	report("s2_retrieve_fd_unknown_token_after_finish", retrieve_fd_res(sfd, 99), ENOENT);
	report("s2_get_name_after_finish", get_name_is(sfd, "s2_main"), 0);
	fd = memfd_new("s2_preserve_finished", 0, 100);
	report("s2_preserve_fd_incoming_after_finish",
	       fd < 0 ? R_SETUP + fd : preserve(sfd, fd, 100), EINVAL);
	xclose(&fd);
	report("s2_retrieve_session_after_finish_while_open",
	       retrieve_session_res(luo, "s2_main"), EINVAL);

	/* The retrieved memfds are now the user's alone. */
	res = memfd_is(m1, 1);
	if (!res)
		res = memfd_is(m2, 2);
	if (!res)
		res = memfd_is(m3, 3);
	report("s2_memfd_data_after_finish", res, 0);
	report("s2_memfd_write_after_finish", sys_res(pwrite(m1, "x", 1, 0)), 0);
	report("s2_memfd_ftruncate_after_finish", sys_res(ftruncate(m1, 8192)), 0);
	report("s2_memfd_ftruncate_sealed_after_finish",
	       m3 < 0 ? R_BADFD : sys_res(ftruncate(m3, 0)), EPERM);
	report("s2_preserve_fd_retrieved_after_finish", preserve(out, m1, 1), 0);
	report("s2_memfd_ftruncate_preserved_again", sys_res(ftruncate(m1, 4096)), EPERM);

	/* Releasing a finished session removes it from the incoming list. */
	xclose(&sfd);
	report("s2_retrieve_session_after_finish_and_close",
	       retrieve_session_res(luo, "s2_main"), ENOENT);
out:
	xclose(&fd);
	xclose(&m1b);
	xclose(&m1);
	xclose(&m2);
	xclose(&m3);
	xclose(&out);
	xclose(&sfd);
	close(luo);
}

/*
 * Group (stage 2): an incoming session without files, "s2_empty".
 * luo_retrieve_file(): empty list -> -ENOENT; luo_file_finish(): count 0
 * -> 0, every time.
 */
static void group_s2_empty(void)
{
	int luo, sfd = -1;

	luo = luo_open();
	report("s2_empty_retrieve_session", retrieve_session_ok(luo, "s2_empty", &sfd), 0);
	if (sfd < 0)
		goto out;
	report("s2_empty_retrieve_fd", retrieve_fd_res(sfd, 0), ENOENT);
	report("s2_empty_finish", finish(sfd), 0);
	report("s2_empty_finish_again", finish(sfd), 0);
	report("s2_empty_get_name_after_finish", get_name_is(sfd, "s2_empty"), 0);
	xclose(&sfd);
	report("s2_empty_retrieve_session_after_close",
	       retrieve_session_res(luo, "s2_empty"), ENOENT);
out:
	xclose(&sfd);
	close(luo);
}

/*
 * Group (stage 2): releasing an unfinished incoming session, "s2_release"
 * (token 10 retrieved, token 11 not).
 * luo_session_release() (on the last close of the file): retrieved ->
 * luo_session_finish_one() (memfd_luo has no can_finish(), so it succeeds)
 * and luo_session_remove() from the incoming list -> a later
 * RETRIEVE_SESSION -> -ENOENT.  Until then it stays retrieved -> -EINVAL.
 */
static void group_s2_release(void)
{
	struct liveupdate_ioctl_create_session c;
	int luo, sfd = -1, dupfd = -1, m = -1;

	luo = luo_open();
	report("s2_release_retrieve_session", retrieve_session_ok(luo, "s2_release", &sfd), 0);
	if (sfd < 0)
		goto out;
	report("s2_release_retrieve_fd", retrieve_fd_ok(sfd, 10, &m), 0);
	dupfd = dup(sfd);
	if (dupfd < 0)
		fatal("dup", errno);
	xclose(&sfd);
	report("s2_release_retrieve_session_while_dup_open",
	       retrieve_session_res(luo, "s2_release"), EINVAL);
	report("s2_release_get_name_via_dup", get_name_is(dupfd, "s2_release"), 0);
	xclose(&dupfd);
	report("s2_release_retrieve_session_after_close",
	       retrieve_session_res(luo, "s2_release"), ENOENT);
	report("s2_release_memfd_data_after_close", memfd_is(m, 10), 0);
	create_arg(&c, "s2_release");
	report("s2_release_create_outgoing_same_name", create_raw(luo, &c, "s2_release"), 0);
out:
	xclose(&m);
	xclose(&dupfd);
	xclose(&sfd);
	close(luo);
}

/*
 * Group (stage 2): FINISH with files never retrieved, "s2_unretrieved".
 * luo_file_finish(): no can_finish() for memfds -> 0; memfd_luo_finish()
 * frees the preserved folios of never-retrieved files; the file set is
 * empty afterwards -> RETRIEVE_FD -> -ENOENT.
 */
static void group_s2_unretrieved(void)
{
	int luo, sfd = -1;

	luo = luo_open();
	report("s2_unretrieved_retrieve_session",
	       retrieve_session_ok(luo, "s2_unretrieved", &sfd), 0);
	if (sfd < 0)
		goto out;
	report("s2_finish_unretrieved_files", finish(sfd), 0);
	report("s2_retrieve_fd_after_finish_unretrieved", retrieve_fd_res(sfd, 20), ENOENT);
	report("s2_retrieve_fd_after_finish_unretrieved_other", retrieve_fd_res(sfd, 21), ENOENT);
out:
	xclose(&sfd);
	close(luo);
}

/*
 * Group (stage 2): RETRIEVE_SESSION argument checks with an existing name,
 * "s2_sizes" (token 30).  luo_core.c luo_ioctl(): size < 72 -> -EINVAL,
 * non-zero tail -> -E2BIG, copy fault -> -EFAULT;
 * luo_ioctl_retrieve_session(): no fd -> -EMFILE; all before
 * luo_session_retrieve(), so the session can still be retrieved.
 */
static void group_s2_sizes(void)
{
	struct liveupdate_ioctl_retrieve_session a, *p;
	int luo, sfd = -1, m = -1, res;

	luo = luo_open();
	res = retrieve_session_sized(luo, "s2_sizes", 0, -1, &sfd);
	xclose(&sfd);
	report("s2_retrieve_session_size_0", res, EINVAL);
	res = retrieve_session_sized(luo, "s2_sizes", RETRIEVE_SZ - 1, -1, &sfd);
	xclose(&sfd);
	report("s2_retrieve_session_size_71", res, EINVAL);
	res = retrieve_session_sized(luo, "s2_sizes", 80, 79, &sfd);
	xclose(&sfd);
	report("s2_retrieve_session_size_80_nonzero_tail", res, E2BIG);
	res = retrieve_session_sized(luo, "s2_sizes", 73, 72, &sfd);
	xclose(&sfd);
	report("s2_retrieve_session_size_73_nonzero_tail", res, E2BIG);
	p = gpage_tail(4);
	p->size = RETRIEVE_SZ;
	report("s2_retrieve_session_struct_cut_by_guard",
	       do_ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, p), EFAULT);
	memset(&a, 0, sizeof(a));
	a.size = RETRIEVE_SZ;
	a.fd = -1;
	snprintf((char *)a.name, NAME_LEN, "%s", "s2_sizes");
	report("s2_retrieve_session_emfile",
	       ioctl_no_fds(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a), EMFILE);

	res = retrieve_session_sized(luo, "s2_sizes", 80, -1, &sfd);
	report("s2_retrieve_session_size_80_zero_tail",
	       res ? res : session_fd_ok(sfd, "s2_sizes"), 0);
	if (sfd < 0)
		goto out;
	report("s2_retrieve_fd_after_sized_retrieve", retrieve_fd_ok(sfd, 30, &m), 0);
out:
	xclose(&m);
	xclose(&sfd);
	close(luo);
}

/*
 * Group (stage 2): RETRIEVE_SESSION whose reply cannot be written,
 * "s2_readonly" (token 40).  luo_ioctl_retrieve_session(): the session is
 * retrieved, luo_ucmd_respond() fails -> fput() -> -EFAULT; the release
 * (task work, before the ioctl returns) finishes and removes the session,
 * so it is gone: -ENOENT.
 */
static void group_s2_readonly(void)
{
	struct liveupdate_ioctl_retrieve_session a;
	int luo;

	luo = luo_open();
	memset(&a, 0, sizeof(a));
	a.size = RETRIEVE_SZ;
	a.fd = -1;
	snprintf((char *)a.name, NAME_LEN, "%s", "s2_readonly");
	report("s2_retrieve_session_readonly_arg",
	       do_ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, ro_copy(&a, sizeof(a))),
	       EFAULT);
	report("s2_retrieve_session_after_readonly_arg",
	       retrieve_session_res(luo, "s2_readonly"), ENOENT);
	close(luo);
}

/*
 * Group (stage 2): an outgoing session named like an incoming one,
 * "s2_same_name" (token 50).  luo_session_insert() checks only the outgoing
 * list (-EEXIST), luo_session_retrieve() only the incoming one.
 */
static void group_s2_same_name(void)
{
	struct liveupdate_ioctl_create_session c;
	int luo, out = -1, in = -1, m = -1, fd = -1;

	luo = luo_open();
	out = session_new(luo, "s2_same_name");
	report("s2_create_outgoing_same_name_as_incoming",
	       out < 0 ? -out : session_fd_ok(out, "s2_same_name"), 0);
	if (out < 0)
		goto out;
	report("s2_retrieve_session_with_outgoing_same_name",
	       retrieve_session_ok(luo, "s2_same_name", &in), 0);
	create_arg(&c, "s2_same_name");
	report("s2_create_outgoing_same_name_duplicate",
	       create_raw(luo, &c, "s2_same_name"), EEXIST);
	report("s2_retrieve_fd_session_with_outgoing_same_name",
	       in < 0 ? R_BADFD : retrieve_fd_ok(in, 50, &m), 0);
	fd = memfd_new("s2_same_name", 0, 100);
	report("s2_preserve_fd_outgoing_same_name_same_token",
	       fd < 0 ? R_SETUP + fd : preserve(out, fd, 50), 0);
	xclose(&fd);
	xclose(&out);
	create_arg(&c, "s2_same_name");
	report("s2_create_outgoing_same_name_as_retrieved",
	       create_raw(luo, &c, "s2_same_name"), 0);
	xclose(&in);
	create_arg(&c, "s2_same_name");
	report("s2_create_outgoing_same_name_after_incoming_closed",
	       create_raw(luo, &c, "s2_same_name"), 0);
out:
	xclose(&fd);
	xclose(&m);
	xclose(&in);
	xclose(&out);
	close(luo);
}

/*
 * Group (stage 2): name matching, "s2_garbage" (no files).
 * luo_session_retrieve(): strncmp(it->name, name, 64), so bytes after the
 * NUL do not count, and a prefix, an extension, another case or 64 bytes
 * without a NUL do not match -> -ENOENT.
 */
static void group_s2_garbage(void)
{
	struct liveupdate_ioctl_retrieve_session a;
	int luo, sfd = -1, res;

	luo = luo_open();
	report("s2_retrieve_session_name_prefix",
	       retrieve_session_res(luo, "s2_garbag"), ENOENT);
	report("s2_retrieve_session_name_longer",
	       retrieve_session_res(luo, "s2_garbage_"), ENOENT);
	report("s2_retrieve_session_name_case_differs",
	       retrieve_session_res(luo, "S2_GARBAGE"), ENOENT);
	memset(&a, 0, sizeof(a));
	a.size = RETRIEVE_SZ;
	a.fd = -1;
	memset(a.name, 'X', NAME_LEN);
	res = do_ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a);
	if (!res && a.fd >= 0)
		close(a.fd);
	report("s2_retrieve_session_name_64_no_nul", res, ENOENT);

	memset(&a, 0, sizeof(a));
	a.size = RETRIEVE_SZ;
	a.fd = -1;
	memset(a.name, 'z', NAME_LEN);
	snprintf((char *)a.name, NAME_LEN, "%s", "s2_garbage");
	res = do_ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a);
	if (!res) {
		sfd = a.fd;
		res = session_fd_ok(sfd, "s2_garbage");
	}
	report("s2_retrieve_session_name_trailing_garbage", res, 0);
	xclose(&sfd);
	close(luo);
}

/*
 * Group (stage 2): FINISH whose reply cannot be written, "s2_finish_ro"
 * (token 70 retrieved, 71 not).  luo_session_finish(): the files are
 * finished, then luo_ucmd_respond() fails -> -EFAULT; the file set is
 * empty from then on.
 */
static void group_s2_finish_ro(void)
{
	struct liveupdate_session_finish f;
	int luo, sfd = -1, m = -1;

	luo = luo_open();
	report("s2_finish_ro_retrieve_session",
	       retrieve_session_ok(luo, "s2_finish_ro", &sfd), 0);
	if (sfd < 0)
		goto out;
	report("s2_finish_ro_retrieve_fd", retrieve_fd_ok(sfd, 70, &m), 0);
	memset(&f, 0, sizeof(f));
	f.size = FINISH_SZ;
	report("s2_finish_readonly_arg",
	       do_ioctl(sfd, LIVEUPDATE_SESSION_FINISH, ro_copy(&f, sizeof(f))), EFAULT);
	report("s2_retrieve_fd_after_finish_readonly_arg", retrieve_fd_res(sfd, 71), ENOENT);
	report("s2_retrieve_fd_retrieved_after_finish_readonly_arg",
	       retrieve_fd_res(sfd, 70), ENOENT);
	report("s2_finish_after_finish_readonly_arg", finish(sfd), 0);
	report("s2_memfd_data_after_finish_readonly_arg", memfd_is(m, 70), 0);
out:
	xclose(&m);
	xclose(&sfd);
	close(luo);
}

/* The incoming-session cases (stage 2 and later). */
static void incoming_cases(void)
{
	unsigned int i;
	int luo, res = ENOENT;

	group_s2_open();
	group_s2_main();
	group_s2_empty();
	group_s2_release();
	group_s2_unretrieved();
	group_s2_sizes();
	group_s2_readonly();
	group_s2_same_name();
	group_s2_garbage();
	group_s2_finish_ro();

	/* Every incoming session was retrieved and released: none is left. */
	luo = luo_open();
	for (i = 0; i < S2_NSESSIONS && res == ENOENT; i++)
		res = retrieve_session_res(luo, s2_sessions[i]);
	report("s2_final_no_incoming_left", res, ENOENT);
	close(luo);
}

/* The single-boot cases. */
static void single_boot_cases(void)
{
	group_open();
	group_luo_dispatch();
	group_create_size();
	group_create_name();
	group_retrieve_session();
	group_session_dispatch();
	group_outgoing_only();
	group_get_name();
	group_preserve_size();
	group_preserve_type();
	group_tokens();
	group_memfd();

	/* Everything was closed: the device is free and no session is left. */
	{
		static const char *const names[] = {
			"create_session_dup", "create_session_dup_fd",
			"create_session_luo_reopen",
			"create_session_many_000", "create_session_many_119",
			"retrieve_session_outgoing", "session_dispatch",
			"outgoing_only", "get_name", "preserve_size",
			"preserve_type", "tokens_1", "tokens_2", "tokens_many",
			"memfd", "memfd_again",
		};
		struct liveupdate_ioctl_create_session a;
		int luo = luo_open(), res = 0;
		unsigned int i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]) && !res; i++) {
			create_arg(&a, names[i]);
			res = create_raw(luo, &a, names[i]);
		}
		report("final_no_session_left", res, 0);
		close(luo);
	}
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-v] [-s STAGE -n NSTAGES]  (1 <= STAGE <= NSTAGES)\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	int opt, verbose = 0, stage = 1, nstages = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "vs:n:")) != -1) {
		switch (opt) {
		case 'v':
			verbose = 1;
			break;
		case 's':
			stage = atoi(optarg);
			break;
		case 'n':
			nstages = atoi(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!nstages)
		nstages = stage;
	if (optind != argc || stage < 1 || nstages < stage)
		usage(argv[0]);

	if (!verbose)
		quiet_console();
	page = sysconf(_SC_PAGESIZE);
	gpage = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ropage = mmap(NULL, page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gpage == MAP_FAILED || ropage == MAP_FAILED)
		fatal("mmap", errno);
	if (mprotect(gpage + page, page, PROT_NONE))
		fatal("mprotect guard", errno);
	if (access(LUO_DEV, F_OK))
		fatal(LUO_DEV, errno);

	if (stage == 1)
		single_boot_cases();
	else
		incoming_cases();
	if (stage < nstages)
		prepare_next_stage();

	restore_console();
	printf("LUO-ERRNO: done %d cases, %d unexpected\n", nr_cases, nr_unexpected);
	return nr_unexpected ? 1 : 0;
}
