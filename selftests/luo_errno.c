// SPDX-License-Identifier: GPL-2.0
/**
 * DOC: luo_errno - the result of every /dev/liveupdate and session ioctl path
 *
 * luo_errno drives the Live Update Orchestrator uAPI through its error paths
 * (and the successful paths next to them) and reports, for each case, what the
 * kernel returned next to what the C implementation (kernel/liveupdate/
 * luo_core.c, luo_session.c, luo_file.c and mm/memfd_luo.c of Linux 7.3.4)
 * returns.  It is run on the C kernel and on the Rust kernel, and the two
 * outputs are diffed, so the output holds no pointers, fd numbers or timings.
 *
 * The cases are the table rows[], run in order: a row is a case or a setup
 * step (not reported), mostly an ioctl whose argument the row describes (size,
 * fd, name or token, a non-zero tail byte; on the stack, NULL, against a
 * PROT_NONE page, read-only, or under RLIMIT_NOFILE 0), with the kind of file
 * it passes, what is checked on success and the result the C code gives.
 * Each GROUP starts with empty fd slots (and /dev/liveupdate open, unless its
 * rows open it) and ends with all of them closed, so groups do not depend on
 * each other; after a failed step the rest of the group reports SETUP_<errno>.
 *
 *   luo_errno [-v]                 the single-boot cases: a fresh boot (no
 *                                  incoming sessions), liveupdate=on, memfd
 *                                  support, /proc, a tmpfs on /tmp, and
 *                                  nothing else holding /dev/liveupdate
 *   luo_errno [-v] -s 1 -n N       the same, then (N > 1) prepare stage 2
 *   luo_errno [-v] -s S -n N       (S >= 2) the incoming-session cases, then
 *                                  (S < N) prepare stage S + 1
 *
 * Preparing the next stage (luo_init.c kexecs into it when we exit 0), the
 * case "prepare_next_stage", creates the sessions and memfds of s2_files[];
 * when every case passed, a child process keeps the session fds open across
 * the kexec (daemonize_and_wait() of the upstream selftest library).  The
 * "s2_..." cases need exactly that state.
 *
 * The output is KTAP (kselftest.h), a "# <group>" line before each group and
 * one line per case, in a fixed order:
 *
 *   ok <n> <case-name> #  <result> expected <expected>
 *   not ok <n> <case-name> #  <result> expected <expected>
 *
 * <result> and <expected> are "0" for success or the symbolic errno name
 * ("E<number>" when it has none).  These results always count as unexpected:
 *
 *   SETUP_<errno>  a step preparing the case (not the one tested) failed
 *   BADNAME        GET_NAME did not return the session's name
 *   BADFD          the fd returned in the ioctl argument is not open
 *   NOCLOEXEC      a new session fd or retrieved memfd fd lacks FD_CLOEXEC
 *   CANARY         the kernel wrote past the size given in the argument
 *   BADDATA        memfd contents (or size, seals, position) differ
 *   OTHERFILE      a retrieved fd is not the file expected (st_dev, st_ino)
 *
 * A case that cannot run here (e.g. hugetlb memfds without HUGETLBFS) is
 * "ok <n> <case-name> # SKIP <reason> <errno>", deterministic for a given
 * configuration.  The exit status is 0 when every case gave its result.
 * While the cases run the console loglevel is 4, so that kernel messages
 * printed from inside the ioctls (the CONFIG_LIVEUPDATE_TEST FLBs) do not
 * split lines on a serial console; -v leaves it alone.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <libliveupdate.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL	0x0008U
#define MFD_EXEC	0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC	0x0020
#endif

#define PAGE		4096
#define NAME_LEN	LIVEUPDATE_SESSION_NAME_LENGTH
#define TMP_FILE	"/tmp/luo_errno_file"
#define MANY_SESSIONS	120	/* 51 sessions per serialization block */
#define MANY_FILES	130	/* 63 files per serialization block */
#define QUIET_LEVEL	4	/* console loglevel while the cases run */

/* Results that are not an errno; see the DOC comment. */
enum {
	R_BADNAME = -1, R_BADFD = -2, R_NOCLOEXEC = -3, R_CANARY = -4, R_BADDATA = -5,
	R_OTHERFILE = -6, R_SETUP = -1000 /* - errno */, R_SKIP = -10000
};

/* Every LUO ioctl argument: size, an fd or reserved u32, a name or token. */
struct arg {
	__u32 size;
	__s32 w4;
	union {
		__u8 name[NAME_LEN];
		__u64 token;
	};
};
#define CREATE_SZ	((unsigned int)sizeof(struct liveupdate_ioctl_create_session))
#define RETRIEVE_SZ	((unsigned int)sizeof(struct liveupdate_ioctl_retrieve_session))
#define PRESERVE_SZ	((unsigned int)sizeof(struct liveupdate_session_preserve_fd))
#define RFD_SZ		((unsigned int)sizeof(struct liveupdate_session_retrieve_fd))
#define FINISH_SZ	((unsigned int)sizeof(struct liveupdate_session_finish))
#define GETNAME_SZ	((unsigned int)sizeof(struct liveupdate_session_get_name))

/* The fd slots of a group (0: none); slot MANY + i is the i-th of MANY_FILES fds. */
enum { L = 1 /* /dev/liveupdate */, S1, S2, M1, M2, M3, T /* the row's own file */, MANY };

enum {
	OP_IOCTL,	/* @cmd on slot @on, with the argument the row describes */
	OP_GROUP,	/* a group of stage @stage; /dev/liveupdate opened into @on */
	OP_FILE,	/* a file of kind @file into @out; the result is its errno */
	OP_CLOSE,	/* close @on */
	OP_STAT,	/* fstat(@on): the file C_SAME compares with */
	OP_TRUNC,	/* ftruncate(@on, @len), then to @len2 if non-zero */
	OP_FALLOC,	/* fallocate(@on, 0, @off, @len) */
	OP_WRITE,	/* pwrite(@on, data, @len, @off) */
	OP_READ,	/* pread(@on, @len, @off) gives data */
	OP_SEALS,	/* F_GET_SEALS of @on is @len */
	OP_POS,		/* the file position of @on is @len */
	OP_DATA,	/* slot @on + i holds s2_files[@token + i] */
	OP_UNLINK,	/* unlink TMP_FILE */
	OP_NEED_TMPFS,	/* the rest of the group is skipped unless /tmp is a tmpfs */
};

/* Kinds of file: for OP_FILE, or made in slot T for the row only. */
enum {
	F_MEMFD = 1 /* @mflags, @fsize bytes */, F_PATH /* open(@path, @mflags), @fsize bytes */,
	F_DUP /* of @from */, F_REOPEN /* @from via /proc/self/fd, @mflags */, F_SPARSE,
	F_SEALED, F_TOO_BIG, F_CLOSED, F_NULL_AT_CLOSED, F_PIPE, F_SOCKET, F_EVENTFD,
	F_SECRET, F_HUGETLB
};

/* Where the ioctl argument is. */
enum {
	P_STACK, P_NULL, P_ADDR8, P_END /* the last @span bytes before a PROT_NONE page */,
	P_RO /* a read-only page */, P_NOFD /* on the stack, RLIMIT_NOFILE 0 */
};

/* What is checked when the ioctl succeeds. */
enum {
	K_FD = 1,	/* it returns an fd at offset 4: kept in @out, else closed */
	C_SESSION = 2,	/* ... a close-on-exec session named @want */
	C_MEMFD = 4,	/* ... a close-on-exec memfd holding s2_files[@token] */
	C_SAME = 8,	/* ... the file of the last OP_STAT */
	C_NAME = 16,	/* the name at offset 8 is @want */
	C_CANARY = 32,	/* nothing written past max(size, 72) */
};

struct row {
	const char *name;	/* the case or group; NULL: a setup step */
	int exp;		/* the result the C LUO gives */
	unsigned char op, stage, on, fd, out, file, from, place, flags;
	char fill;		/* name bytes preset to @fill, then @str copied in */
	unsigned int cmd, size, span, tail, rep, mflags, fsize;
	int w4;			/* the s32 at offset 4, unless @fd names a slot */
	__u64 token;		/* at offset 8; plus i in the i-th of @rep repetitions */
	long long off, len, len2;
	const char *str, *want;	/* ITER: the i-th of @names or of @fmt */
	const char *path, *fmt;
	const char *const *names;
};
static const char ITER[] = "";

/*
 * Row builders.  A row may change a default after them, as a later
 * designator overrides an earlier one (C11 6.7.9): CREATE("x"), .size = 71.
 */
#define GROUP(st, nm, dev)	{ .op = OP_GROUP, .stage = st, .name = nm, .on = dev }
#define CASE(nm, e, ...)	{ .name = nm, .exp = e, __VA_ARGS__ }
#define STEP(...)		{ __VA_ARGS__ }
#define IOC(c, s, sz)		.op = OP_IOCTL, .cmd = c, .on = s, .size = sz
#define CREATE_(s)	IOC(LIVEUPDATE_IOCTL_CREATE_SESSION, L, CREATE_SZ), .w4 = -1, .str = s
#define CREATE(s)		CREATE_(s), .flags = K_FD
#define CREATE_OK(s)		CREATE_(s), .want = s, .flags = K_FD | C_SESSION
#define SESSION(s, o)		CREATE(s), .out = o
#define RETRIEVE_(s)	IOC(LIVEUPDATE_IOCTL_RETRIEVE_SESSION, L, RETRIEVE_SZ), .w4 = -1, .str = s
#define RETRIEVE(s)		RETRIEVE_(s), .flags = K_FD
#define RETRIEVE_OK(s, o)	RETRIEVE_(s), .want = s, .out = o, .flags = K_FD | C_SESSION
#define PRESERVE(s, f, t)	IOC(LIVEUPDATE_SESSION_PRESERVE_FD, s, PRESERVE_SZ), .fd = f, \
				.token = t
#define PRESERVE_NR(s, n, t)	PRESERVE(s, 0, t), .w4 = n
#define RFD_(s, t)		IOC(LIVEUPDATE_SESSION_RETRIEVE_FD, s, RFD_SZ), .w4 = -1, .token = t
#define RFD(s, t)		RFD_(s, t), .flags = K_FD
#define RFD_OK(s, t, o)		RFD_(s, t), .out = o, .flags = K_FD | C_MEMFD
#define RFD_SAME(s, t)		RFD_(s, t), .flags = K_FD | C_SAME
#define FINISH(s)		IOC(LIVEUPDATE_SESSION_FINISH, s, FINISH_SZ)
#define GET_NAME(s)		IOC(LIVEUPDATE_SESSION_GET_NAME, s, GETNAME_SZ)
#define NAME_IS(s, w)		GET_NAME(s), .want = w, .flags = C_NAME
#define FILE_(k, o)		.op = OP_FILE, .file = k, .out = o
#define OPEN(fl)		FILE_(F_PATH, 0), .path = LUO_DEVICE, .mflags = fl
#define DUP(s, o)		FILE_(F_DUP, o), .from = s
#define MEMFD(fl, sz)		.file = F_MEMFD, .mflags = fl, .fsize = sz
#define PATH(p, fl)		.file = F_PATH, .path = p, .mflags = fl
#define CLOSE(s)		.op = OP_CLOSE, .on = s
#define FOP(o, s, l)		.op = o, .on = s, .len = l
#define ARG_NULL		.place = P_NULL
#define ARG_8			.place = P_ADDR8
#define END(n)			.place = P_END, .span = n
#define RO			.place = P_RO
#define NOFD			.place = P_NOFD
#define NAME63	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"

/* The families of cases below. */
#define LD(nm, e, c, ...)	CASE(nm, e, CREATE("luo_dispatch_probe"), .cmd = c, __VA_ARGS__)
#define CSIZE(nm, e, sz, tl)	CASE(nm, e, CREATE_(nm), .want = nm, .size = sz, .tail = tl, \
				     .flags = K_FD | C_SESSION | C_CANARY)
#define CPAGE(nm, e, ...)	CASE(nm, e, CREATE_OK(nm), END(PAGE), .size = PAGE, __VA_ARGS__)
#define RS(nm, e, ...)		CASE(nm, e, RETRIEVE("retrieve_session_unknown"), __VA_ARGS__)
#define SD(nm, e, c, ...)	CASE(nm, e, GET_NAME(S1), .cmd = c, __VA_ARGS__)
#define GN(nm, e, ...)		CASE(nm, e, NAME_IS(S1, "get_name"), __VA_ARGS__)
#define GSIZE(nm, e, sz, tl)	GN(nm, e, .size = sz, .tail = tl, .flags = C_NAME | C_CANARY)
#define PSIZE(nm, e, sz, tl, t)	CASE(nm, e, PRESERVE(S1, T, t), MEMFD(0, 100), .size = sz, \
				     .tail = tl)
#define PT(nm, e, t, ...)	CASE(nm, e, PRESERVE(S1, T, t), __VA_ARGS__)
#define TK(nm, e, s, t)		CASE(nm, e, PRESERVE(s, T, t), MEMFD(0, 10))
#define RSIZE(nm, e, sz, tl, t)	CASE(nm, e, RFD_SAME(S1, t), .size = sz, .tail = tl)
#define FSIZE(nm, e, sz, rs, tl) CASE(nm, e, FINISH(S1), .size = sz, .w4 = rs, .tail = tl)
#define SS(nm, e, ...)		CASE(nm, e, RETRIEVE("s2_sizes"), __VA_ARGS__)

static char name_high[NAME_LEN];	/* bytes 0x80..0xbe */

/* Everything the single-boot groups created is gone at the end. */
static const char *const single_boot_sessions[] = {
	"create_session_dup", "create_session_dup_fd", "create_session_luo_reopen",
	"create_session_many_000", "create_session_many_119", "retrieve_session_outgoing",
	"session_dispatch", "outgoing_only", "get_name", "preserve_size", "preserve_type",
	"tokens_1", "tokens_2", "tokens_many", "memfd", "memfd_again",
};

/*
 * What "prepare_next_stage" leaves for the next kernel: the sessions of
 * s2_sessions[] (one per group of s2_ cases) and the memfds of s2_files[],
 * each holding @size bytes of the fill() pattern with seed @token & 0xff,
 * the seals @seals (made with MFD_ALLOW_SEALING if any) and position @pos.
 */
static const char *const s2_sessions[] = {
	"s2_main", "s2_empty", "s2_release", "s2_unretrieved", "s2_sizes",
	"s2_readonly", "s2_same_name", "s2_garbage", "s2_finish_ro",
};

static const struct s2_file {
	const char *session;
	__u64 token;
	unsigned int size, seals, pos;
} s2_files[] = {
	{ "s2_main", 1, 100 }, { "s2_main", 2, 12345 },
	{ "s2_main", 3, 65536, F_SEAL_SHRINK | F_SEAL_GROW, 777 },
	{ "s2_release", 10, 5000 }, { "s2_release", 11, 4096 },
	{ "s2_unretrieved", 20, 8192 }, { "s2_unretrieved", 21, 1 },
	{ "s2_sizes", 30, 300 }, { "s2_readonly", 40, 400 }, { "s2_same_name", 50, 500 },
	{ "s2_finish_ro", 70, 700 }, { "s2_finish_ro", 71, 710 },
};

static const struct row rows[] = {
	/* luo_open(): one open file at a time (in_use; -EBUSY), any mode; a dup() keeps it. */
	GROUP(1, "open", 0),
	CASE("open_first", 0, OPEN(O_RDWR), .out = L),
	CASE("open_second_while_open", EBUSY, OPEN(O_RDWR)),
	CASE("open_second_rdonly_while_open", EBUSY, OPEN(O_RDONLY)),
	STEP(DUP(L, S1)), STEP(CLOSE(L)),
	CASE("open_while_dup_still_open", EBUSY, OPEN(O_RDWR)),
	STEP(CLOSE(S1)),
	CASE("open_after_close", 0, OPEN(O_RDWR)),
	CASE("open_rdonly", 0, OPEN(O_RDONLY), .out = L),
	CASE("create_session_via_rdonly_fd", 0, CREATE("create_session_via_rdonly_fd")),
	/*
	 * luo_ioctl(), in order: nr >= 2 -> -EINVAL; get_user(size) faults -> -EFAULT;
	 * cmd != luo_ioctl_ops[nr].ioctl_num -> -ENOIOCTLCMD (-ENOTTY, vfs_ioctl());
	 * size < min_size -> -EINVAL; copy_struct_from_user() -> -E2BIG / -EFAULT.
	 * The type and direction bits count only in the cmd comparison; FIONREAD
	 * reaches the driver (not a regular file).
	 */
	GROUP(1, "luo_dispatch", L),
	LD("luo_ioctl_nr_02", EINVAL, _IO(0xBA, 0x02)),
	LD("luo_ioctl_nr_3f", EINVAL, _IO(0xBA, 0x3f)),
	LD("luo_ioctl_nr_40_session_cmd", EINVAL, LIVEUPDATE_SESSION_PRESERVE_FD),
	LD("luo_ioctl_nr_43_session_cmd", EINVAL, LIVEUPDATE_SESSION_GET_NAME),
	LD("luo_ioctl_nr_ff", EINVAL, _IO(0xBA, 0xff)),
	LD("luo_ioctl_nr_02_null_arg", EINVAL, _IO(0xBA, 0x02), ARG_NULL),
	LD("luo_ioctl_fionread", EINVAL, FIONREAD),
	LD("luo_ioctl_other_type_nr_00", ENOTTY, _IO(0xBB, 0x00)),
	LD("luo_ioctl_other_type_nr_01", ENOTTY, _IO(0xBB, 0x01)),
	LD("luo_ioctl_other_type_null_arg", EFAULT, _IO(0xBB, 0x00), ARG_NULL),
	LD("luo_ioctl_other_type_size_0", ENOTTY, _IO(0xBB, 0x00), .size = 0),
	LD("luo_ioctl_cmd_zero", ENOTTY, 0),
	LD("luo_ioctl_create_iowr", ENOTTY,
	   _IOWR(0xBA, 0x00, struct liveupdate_ioctl_create_session)),
	LD("luo_ioctl_retrieve_ior", ENOTTY,
	   _IOR(0xBA, 0x01, struct liveupdate_ioctl_retrieve_session)),
	LD("luo_ioctl_create_null_arg", EFAULT, LIVEUPDATE_IOCTL_CREATE_SESSION, ARG_NULL),
	LD("luo_ioctl_create_arg_8", EFAULT, LIVEUPDATE_IOCTL_CREATE_SESSION, ARG_8),
	LD("luo_ioctl_create_size_field_cut", EFAULT, LIVEUPDATE_IOCTL_CREATE_SESSION, END(2)),
	LD("luo_ioctl_retrieve_null_arg", EFAULT, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, ARG_NULL),
	LD("luo_ioctl_retrieve_size_field_cut", EFAULT, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, END(2)),
	/*
	 * CREATE_SESSION, min_size 72: a tail beyond it must be zero (-E2BIG), and
	 * readable (-EFAULT) like the 72 bytes.  The fd is allocated first (-EMFILE
	 * before the name is looked at); when the reply cannot be written the new
	 * session is released again (-EFAULT).  The input fd field is never read.
	 */
	GROUP(1, "create_size", L),
	CSIZE("create_session_size_0", EINVAL, 0, 0),
	CSIZE("create_session_size_4", EINVAL, 4, 0),
	CSIZE("create_session_size_8", EINVAL, 8, 0),
	CSIZE("create_session_size_71", EINVAL, 71, 0),
	CSIZE("create_session_size_72_exact", 0, 72, 0),
	CSIZE("create_session_size_73_zero_tail", 0, 73, 0),
	CSIZE("create_session_size_73_nonzero_tail", E2BIG, 73, 72),
	CSIZE("create_session_size_80_zero_tail", 0, 80, 0),
	CSIZE("create_session_size_80_nonzero_tail", E2BIG, 80, 79),
	CSIZE("create_session_size_128_nonzero_tail", E2BIG, 128, 100),
	CPAGE("create_session_size_page_zero_tail", 0),
	CPAGE("create_session_size_page_nonzero_last", E2BIG, .tail = PAGE - 1),
	CPAGE("create_session_size_tail_in_guard", EFAULT, .size = 2 * PAGE),
	CPAGE("create_session_size_u32_max", EFAULT, .size = UINT_MAX),
	CASE("create_session_struct_cut_by_guard", EFAULT, CREATE(NULL), END(4)),
	CASE("create_session_size_0_cut_by_guard", EINVAL, CREATE(NULL), END(4), .size = 0),
	CASE("create_session_at_page_end", 0, CREATE_OK("create_session_at_page_end"), END(72)),
	CASE("create_session_readonly_arg", EFAULT, CREATE_OK("create_session_readonly"), RO),
	CASE("create_session_after_readonly_same_name", 0, CREATE_OK("create_session_readonly")),
	CASE("create_session_empty_name_nonzero_tail", E2BIG, CREATE(""), .size = 80, .tail = 79),
	CASE("create_session_fd_field_nonzero", 0, CREATE_OK("create_session_fd_field_nonzero"),
	     .w4 = 123456),
	CASE("create_session_emfile", EMFILE, CREATE("create_session_emfile"), NOFD),
	CASE("create_session_emfile_empty_name", EMFILE, CREATE(""), NOFD),
	CASE("create_session_after_emfile_same_name", 0, CREATE_OK("create_session_emfile")),
	/*
	 * luo_session_create(): an empty name or one without a NUL in 64 bytes ->
	 * -EINVAL; bytes after the NUL are dropped; a name of an open outgoing
	 * session -> -EEXIST.  A session lives until the last close of its fd.
	 */
	GROUP(1, "create_name", L),
	CASE("create_session_empty_name", EINVAL, CREATE("")),
	CASE("create_session_name_64_no_nul", EINVAL, CREATE(NULL), .fill = 'X'),
	CASE("create_session_name_63_chars", 0, CREATE_OK(NAME63)),
	CASE("create_session_name_1_char", 0, CREATE_OK("x")),
	CASE("create_session_name_high_bytes", 0, CREATE_OK(name_high)),
	CASE("create_session_name_punctuation", 0, CREATE_OK("a/b c\t.")),
	STEP(SESSION("create_session_dup", S1)),
	CASE("create_session_duplicate", EEXIST, CREATE_OK("create_session_dup")),
	CASE("create_session_name_case_differs", 0, CREATE_OK("create_session_DUP")),
	CASE("create_session_name_longer", 0, CREATE_OK("create_session_dup2")),
	CASE("create_session_name_prefix", 0, CREATE_OK("create_session_du")),
	STEP(CLOSE(S1)),
	CASE("create_session_same_name_after_close", 0, CREATE_OK("create_session_dup")),
	STEP(SESSION("create_session_dup_fd", S1)), STEP(DUP(S1, S2)), STEP(CLOSE(S1)),
	CASE("create_session_dup_while_fd_dup_open", EEXIST, CREATE_OK("create_session_dup_fd")),
	CASE("get_name_via_dup_fd", 0, NAME_IS(S2, "create_session_dup_fd")),
	STEP(CLOSE(S2)),
	CASE("create_session_after_last_dup_closed", 0, CREATE_OK("create_session_dup_fd")),
	CASE("create_session_name_trailing_garbage", 0, SESSION("garbage", S1), .fill = 'z'),
	CASE("get_name_after_trailing_garbage", 0, NAME_IS(S1, "garbage")),
	CASE("create_session_dup_ignoring_garbage", EEXIST, CREATE_OK("garbage")),
	STEP(CLOSE(S1)),
	STEP(SESSION("create_session_luo_reopen", S1)),
	STEP(CLOSE(L)), STEP(OPEN(O_RDWR), .out = L),
	CASE("create_session_dup_after_luo_reopen", EEXIST, CREATE_OK("create_session_luo_reopen")),
	STEP(CLOSE(L)),
	CASE("session_get_name_after_luo_close", 0, NAME_IS(S1, "create_session_luo_reopen")),
	CASE("session_preserve_after_luo_close", 0, PRESERVE(S1, T, 1), MEMFD(0, 100)),
	STEP(CLOSE(S1)), STEP(OPEN(O_RDWR), .out = L),
	CASE("create_session_after_luo_reopen_and_close", 0,
	     CREATE_OK("create_session_luo_reopen")),
	/* Many sessions: the outgoing block set grows over several blocks. */
	CASE("create_session_many", 0, SESSION(ITER, MANY), .rep = MANY_SESSIONS,
	     .fmt = "create_session_many_%03u"),
	CASE("create_session_many_duplicate", EEXIST, CREATE_OK("create_session_many_077")),
	CASE("get_name_many_sessions", 0, NAME_IS(MANY, ITER), .rep = MANY_SESSIONS,
	     .fmt = "create_session_many_%03u"),
	STEP(CLOSE(MANY)),
	CASE("create_session_many_after_close", 0, CREATE_OK("create_session_many_000")),
	/*
	 * RETRIEVE_SESSION on a fresh boot: the CREATE_SESSION size rules, then the
	 * fd (-EMFILE), then only the incoming list, empty here: -ENOENT.
	 */
	GROUP(1, "retrieve_session", L),
	STEP(SESSION("retrieve_session_outgoing", S1)),
	RS("retrieve_session_unknown", ENOENT),
	RS("retrieve_session_empty_name", ENOENT, .str = ""),
	RS("retrieve_session_name_64_no_nul", ENOENT, .str = NULL, .fill = 'X'),
	RS("retrieve_session_outgoing_name", ENOENT, .str = "retrieve_session_outgoing"),
	RS("retrieve_session_size_0", EINVAL, .size = 0),
	RS("retrieve_session_size_71", EINVAL, .size = 71),
	RS("retrieve_session_size_80_zero_tail", ENOENT, .size = 80),
	RS("retrieve_session_size_80_nonzero_tail", E2BIG, .size = 80, .tail = 79),
	RS("retrieve_session_size_80_tail_readonly", ENOENT, .size = 80, RO),
	RS("retrieve_session_struct_cut_by_guard", EFAULT, END(4)),
	RS("retrieve_session_at_page_end", ENOENT, END(72)),
	RS("retrieve_session_readonly_arg", ENOENT, RO),
	RS("retrieve_session_emfile", EMFILE, NOFD),
	/*
	 * luo_session_ioctl(), in order: nr < 0x40 or >= 0x44 -> -EINVAL; get_user()
	 * -> -EFAULT; cmd mismatch -> -ENOTTY; FINISH and RETRIEVE_FD only on
	 * incoming, PRESERVE_FD only on outgoing sessions -> -EINVAL; size < min_size
	 * -> -EINVAL; copy_struct_from_user().  The argument is a GET_NAME one,
	 * harmless whatever the kernel makes of it (as PRESERVE_FD, fd 0).
	 */
	GROUP(1, "session_dispatch", L),
	STEP(SESSION("session_dispatch", S1)),
	SD("session_ioctl_nr_00_create_cmd", EINVAL, LIVEUPDATE_IOCTL_CREATE_SESSION),
	SD("session_ioctl_nr_01_retrieve_cmd", EINVAL, LIVEUPDATE_IOCTL_RETRIEVE_SESSION),
	SD("session_ioctl_nr_3f", EINVAL, _IO(0xBA, 0x3f)),
	SD("session_ioctl_nr_44", EINVAL, _IO(0xBA, 0x44)),
	SD("session_ioctl_nr_ff", EINVAL, _IO(0xBA, 0xff)),
	SD("session_ioctl_nr_44_null_arg", EINVAL, _IO(0xBA, 0x44), ARG_NULL),
	SD("session_ioctl_fionread", EINVAL, FIONREAD),
	SD("session_ioctl_other_type_nr_40", ENOTTY, _IO(0xBB, 0x40)),
	SD("session_ioctl_other_type_nr_43", ENOTTY, _IO(0xBB, 0x43)),
	SD("session_ioctl_other_type_null_arg", EFAULT, _IO(0xBB, 0x43), ARG_NULL),
	SD("session_ioctl_other_type_size_0", ENOTTY, _IO(0xBB, 0x43), .size = 0),
	SD("session_ioctl_get_name_iowr", ENOTTY,
	   _IOWR(0xBA, 0x43, struct liveupdate_session_get_name)),
	SD("session_ioctl_preserve_iow", ENOTTY,
	   _IOW(0xBA, 0x40, struct liveupdate_session_preserve_fd)),
	SD("session_ioctl_finish_iow", ENOTTY, _IOW(0xBA, 0x42, struct liveupdate_session_finish)),
	SD("session_ioctl_preserve_null_arg", EFAULT, LIVEUPDATE_SESSION_PRESERVE_FD, ARG_NULL),
	SD("session_ioctl_preserve_arg_8", EFAULT, LIVEUPDATE_SESSION_PRESERVE_FD, ARG_8),
	SD("session_ioctl_get_name_null_arg", EFAULT, LIVEUPDATE_SESSION_GET_NAME, ARG_NULL),
	SD("session_ioctl_get_name_size_field_cut", EFAULT, LIVEUPDATE_SESSION_GET_NAME, END(2)),
	SD("session_ioctl_finish_null_arg", EFAULT, LIVEUPDATE_SESSION_FINISH, ARG_NULL),
	SD("session_ioctl_retrieve_fd_null_arg", EFAULT, LIVEUPDATE_SESSION_RETRIEVE_FD,
	   ARG_NULL),
	/*
	 * RETRIEVE_FD and FINISH on an outgoing session: -EINVAL from
	 * luo_ioctl_type_valid(), before the size checks; the file stays preserved.
	 */
	GROUP(1, "outgoing_only", L),
	STEP(SESSION("outgoing_only", S1)), STEP(SESSION("outgoing_only_empty", S2)),
	STEP(FILE_(F_MEMFD, M1), .fsize = 100), STEP(PRESERVE(S1, M1, 1)),
	CASE("retrieve_fd_outgoing", EINVAL, RFD(S1, 1)),
	CASE("retrieve_fd_outgoing_unknown_token", EINVAL, RFD(S1, 2)),
	CASE("retrieve_fd_outgoing_empty_session", EINVAL, RFD(S2, 2)),
	CASE("retrieve_fd_outgoing_size_0", EINVAL, RFD(S1, 1), .size = 0),
	CASE("retrieve_fd_outgoing_nonzero_tail", EINVAL, RFD(S1, 1), .size = 24, .tail = 23),
	CASE("finish_outgoing", EINVAL, FINISH(S1)),
	CASE("finish_outgoing_empty_session", EINVAL, FINISH(S2)),
	CASE("finish_outgoing_reserved_nonzero", EINVAL, FINISH(S1), .w4 = 1),
	CASE("finish_outgoing_size_0", EINVAL, FINISH(S1), .size = 0),
	CASE("finish_outgoing_readonly_arg", EINVAL, FINISH(S1), RO),
	CASE("preserve_fd_token_kept_after_finish_outgoing", EEXIST, PRESERVE(S1, M1, 1)),
	/*
	 * GET_NAME, min_size 72: reserved != 0 -> -EINVAL after the tail check; the
	 * reply is min(size, 72) bytes (-EFAULT when read-only); the input name is
	 * ignored.
	 */
	GROUP(1, "get_name", L),
	STEP(SESSION("get_name", S1)),
	GN("get_name_ok", 0),
	GSIZE("get_name_size_0", EINVAL, 0, 0),
	GSIZE("get_name_size_8", EINVAL, 8, 0),
	GSIZE("get_name_size_71", EINVAL, 71, 0),
	GSIZE("get_name_size_72_exact", 0, 72, 0),
	GSIZE("get_name_size_80_zero_tail", 0, 80, 0),
	GSIZE("get_name_size_80_nonzero_tail", E2BIG, 80, 79),
	GSIZE("get_name_size_73_nonzero_tail", E2BIG, 73, 72),
	CASE("get_name_reserved_nonzero", EINVAL, GET_NAME(S1), .w4 = 1),
	CASE("get_name_reserved_nonzero_nonzero_tail", E2BIG, GET_NAME(S1), .w4 = 1, .size = 80,
	     .tail = 79),
	GN("get_name_input_name_ignored", 0, .fill = 'Z'),
	CASE("get_name_readonly_arg", EFAULT, GET_NAME(S1), RO),
	GN("get_name_at_page_end", 0, END(72)),
	CASE("get_name_struct_cut_by_guard", EFAULT, GET_NAME(S1), END(8)),
	GN("get_name_size_page_zero_tail", 0, END(PAGE), .size = PAGE),
	CASE("get_name_size_tail_in_guard", EFAULT, GET_NAME(S1), END(PAGE), .size = 2 * PAGE),
	/*
	 * PRESERVE_FD, min_size 16: failed attempts take no token; when the reply
	 * cannot be written the file stays preserved (-EFAULT).
	 */
	GROUP(1, "preserve_size", L),
	STEP(SESSION("preserve_size", S1)),
	PSIZE("preserve_fd_size_0", EINVAL, 0, 0, 0x10),
	PSIZE("preserve_fd_size_8", EINVAL, 8, 0, 0x11),
	PSIZE("preserve_fd_size_15", EINVAL, 15, 0, 0x12),
	PSIZE("preserve_fd_size_16_exact", 0, 16, 0, 0x13),
	PSIZE("preserve_fd_size_17_nonzero_tail", E2BIG, 17, 16, 0x14),
	PSIZE("preserve_fd_size_24_zero_tail", 0, 24, 0, 0x15),
	PSIZE("preserve_fd_size_24_nonzero_tail", E2BIG, 24, 23, 0x16),
	PSIZE("preserve_fd_size_64_nonzero_tail", E2BIG, 64, 40, 0x17),
	PSIZE("preserve_fd_token_free_after_e2big", 0, 16, 0, 0x16),
	PSIZE("preserve_fd_token_free_after_size_einval", 0, 16, 0, 0x10),
	STEP(FILE_(F_MEMFD, M1), .fsize = 100),
	CASE("preserve_fd_struct_cut_by_guard", EFAULT, PRESERVE(S1, M1, 0), END(8)),
	CASE("preserve_fd_at_page_end", 0, PRESERVE(S1, M1, 0x20), END(16)),
	STEP(CLOSE(M1)), STEP(FILE_(F_MEMFD, M1), .fsize = 4096),
	CASE("preserve_fd_readonly_arg", EFAULT, PRESERVE(S1, M1, 0x30), RO),
	CASE("preserve_fd_readonly_kept_same_token", EEXIST, PRESERVE(S1, M1, 0x30)),
	CASE("preserve_fd_readonly_kept_same_file", EBUSY, PRESERVE(S1, M1, 0x31)),
	CASE("memfd_ftruncate_after_readonly_preserve", EPERM, FOP(OP_TRUNC, M1, 8192)),
	/*
	 * luo_preserve_file(): no file (closed, out of range, O_PATH) -> -EBADF; no
	 * handler can_preserve() it -> -ENOENT.  memfd_luo takes unlinked shmem
	 * files: memfds, unlinked and O_TMPFILE tmpfs files (not hugetlb, secretmem).
	 */
	GROUP(1, "preserve_type", L),
	STEP(SESSION("preserve_type", S1)), STEP(SESSION("preserve_type_other", S2)),
	PT("preserve_fd_memfd_empty", 0, 1, MEMFD(0, 0)),
	PT("preserve_fd_memfd_one_page", 0, 2, MEMFD(0, 4096)),
	PT("preserve_fd_memfd_sparse", 0, 3, .file = F_SPARSE),
	CASE("preserve_fd_minus_1", EBADF, PRESERVE_NR(S1, -1, 10)),
	CASE("preserve_fd_int_min", EBADF, PRESERVE_NR(S1, INT_MIN, 11)),
	CASE("preserve_fd_large_number", EBADF, PRESERVE_NR(S1, 1 << 20, 12)),
	PT("preserve_fd_closed", EBADF, 13, .file = F_CLOSED),
	PT("preserve_fd_closed_number_reused", ENOENT, 13, .file = F_NULL_AT_CLOSED),
	PT("preserve_fd_opath", EBADF, 14, PATH("/", O_PATH)),
	STEP(FILE_(F_MEMFD, M1), .fsize = 10),
	PT("preserve_fd_opath_memfd", EBADF, 15, .file = F_REOPEN, .from = M1, .mflags = O_PATH),
	STEP(CLOSE(M1)),
	PT("preserve_fd_pipe", ENOENT, 20, .file = F_PIPE),
	PT("preserve_fd_dev_null", ENOENT, 21, PATH("/dev/null", O_RDWR)),
	PT("preserve_fd_unix_socket", ENOENT, 22, .file = F_SOCKET),
	PT("preserve_fd_eventfd", ENOENT, 23, .file = F_EVENTFD),
	CASE("preserve_fd_luo_device", ENOENT, PRESERVE(S1, L, 24)),
	CASE("preserve_fd_session_itself", ENOENT, PRESERVE(S1, S1, 25)),
	CASE("preserve_fd_other_session", ENOENT, PRESERVE(S1, S2, 26)),
	PT("preserve_fd_root_dir", ENOENT, 27, PATH("/", O_RDONLY | O_DIRECTORY)),
	PT("preserve_fd_proc_file", ENOENT, 28, PATH("/proc/self/status", O_RDONLY)),
	PT("preserve_fd_secretmem", ENOENT, 29, .file = F_SECRET),
	PT("preserve_fd_hugetlb_memfd", ENOENT, 30, .file = F_HUGETLB),
	STEP(.op = OP_NEED_TMPFS),
	STEP(FILE_(F_PATH, M1), .path = TMP_FILE, .mflags = O_RDWR | O_CREAT | O_EXCL,
	     .fsize = 100),
	CASE("preserve_fd_tmpfs_linked_file", ENOENT, PRESERVE(S1, M1, 40)),
	STEP(.op = OP_UNLINK),
	CASE("preserve_fd_tmpfs_unlinked_file", 0, PRESERVE(S1, M1, 40)),
	STEP(CLOSE(M1)),
	PT("preserve_fd_tmpfs_o_tmpfile", 0, 41, PATH("/tmp", O_TMPFILE | O_RDWR), .fsize = 100),
	/*
	 * A token used in the session -> -EEXIST first (even for a bad fd); a file
	 * (inode) preserved in any session, through any fd -> -EBUSY.  Failures take
	 * nothing; LUO holds the file until its session is closed.  Many files need
	 * several blocks.
	 */
	GROUP(1, "tokens", L),
	STEP(SESSION("tokens_1", S1)), STEP(SESSION("tokens_2", S2)),
	STEP(FILE_(F_MEMFD, M1), .fsize = 4096), STEP(FILE_(F_MEMFD, M2), .fsize = 4096),
	CASE("preserve_fd_first", 0, PRESERVE(S1, M1, 0x100)),
	CASE("preserve_fd_duplicate_token", EEXIST, PRESERVE(S1, M2, 0x100)),
	CASE("preserve_fd_duplicate_token_bad_fd", EEXIST, PRESERVE_NR(S1, -1, 0x100)),
	CASE("preserve_fd_duplicate_token_same_file", EEXIST, PRESERVE(S1, M1, 0x100)),
	CASE("preserve_fd_same_memfd_same_session", EBUSY, PRESERVE(S1, M1, 0x101)),
	CASE("preserve_fd_same_memfd_other_session", EBUSY, PRESERVE(S2, M1, 0x100)),
	CASE("preserve_fd_dup_of_memfd", EBUSY, PRESERVE(S2, T, 0x102), .file = F_DUP, .from = M1),
	CASE("preserve_fd_memfd_reopened_via_proc", EBUSY, PRESERVE(S2, T, 0x103),
	     .file = F_REOPEN, .from = M1, .mflags = O_RDWR),
	CASE("preserve_fd_token_free_after_ebusy", 0, PRESERVE(S1, M2, 0x101)),
	CASE("preserve_fd_token_free_after_ebadf_first", EBADF, PRESERVE_NR(S1, -1, 0x104)),
	TK("preserve_fd_token_free_after_ebadf", 0, S1, 0x104),
	STEP(PRESERVE(S1, T, 0x105), .file = F_PIPE, .exp = ENOENT),
	TK("preserve_fd_token_free_after_enoent", 0, S1, 0x105),
	TK("preserve_fd_same_token_other_session", 0, S2, 0x100),
	TK("preserve_fd_token_zero", 0, S2, 0),
	TK("preserve_fd_token_u64_max", 0, S2, ~0ULL),
	TK("preserve_fd_token_u64_max_duplicate", EEXIST, S2, ~0ULL),
	TK("preserve_fd_user_close_first", 0, S2, 0x200),
	TK("preserve_fd_user_closed_token_kept", EEXIST, S2, 0x200),
	STEP(CLOSE(S1)),
	CASE("preserve_fd_after_session_close", 0, PRESERVE(S2, M1, 0x300)),
	CASE("preserve_fd_after_session_close_second", 0, PRESERVE(S2, M2, 0x301)),
	STEP(SESSION("tokens_many", S1)),
	CASE("preserve_fd_many_memfds", 0, PRESERVE(S1, T, 0x1000), MEMFD(0, 1), .rep = MANY_FILES),
	STEP(FILE_(F_MEMFD, M3), .fsize = 1),
	CASE("preserve_fd_many_memfds_duplicate_token", EEXIST, PRESERVE(S1, M3, 0x1000 + 77)),
	CASE("preserve_fd_many_memfds_one_more", 0, PRESERVE(S1, M3, 0x1000 + MANY_FILES)),
	/*
	 * memfd_luo_preserve(): every seal is accepted; over UINT_MAX pages ->
	 * -EFBIG.  A preserved memfd is frozen (-EPERM for size changes, fallocate,
	 * writes past EOF) until unpreserved (session close, or a failed preserve).
	 */
	GROUP(1, "memfd", L),
	STEP(SESSION("memfd", S1)),
	PT("preserve_fd_memfd_all_seals", 0, 1, .file = F_SEALED),
	PT("preserve_fd_memfd_noexec_seal", 0, 2, MEMFD(MFD_NOEXEC_SEAL | MFD_CLOEXEC, 4096)),
	PT("preserve_fd_memfd_allow_sealing", 0, 3, MEMFD(MFD_ALLOW_SEALING | MFD_CLOEXEC, 4096)),
	STEP(FILE_(F_TOO_BIG, M1)),
	CASE("preserve_fd_memfd_too_big", EFBIG, PRESERVE(S1, M1, 4)),
	CASE("memfd_ftruncate_after_failed_preserve", 0, FOP(OP_TRUNC, M1, 4096)),
	CASE("preserve_fd_after_efbig_shrunk", 0, PRESERVE(S1, M1, 4)),
	CASE("memfd_ftruncate_grow_while_preserved", EPERM, FOP(OP_TRUNC, M1, 8192)),
	CASE("memfd_ftruncate_shrink_while_preserved", EPERM, FOP(OP_TRUNC, M1, 0)),
	CASE("memfd_ftruncate_same_size_while_preserved", 0, FOP(OP_TRUNC, M1, 4096)),
	CASE("memfd_fallocate_while_preserved", EPERM, FOP(OP_FALLOC, M1, 4096)),
	CASE("memfd_fallocate_past_eof_while_preserved", EPERM, FOP(OP_FALLOC, M1, 4096),
	     .off = 4096),
	CASE("memfd_write_past_eof_while_preserved", EPERM, FOP(OP_WRITE, M1, 16), .off = 4096),
	CASE("memfd_write_inside_while_preserved", 0, FOP(OP_WRITE, M1, 16), .off = 100),
	STEP(CLOSE(S1)),
	CASE("memfd_ftruncate_after_unpreserve", 0, FOP(OP_TRUNC, M1, 8192)),
	CASE("memfd_data_after_unpreserve", 0, FOP(OP_READ, M1, 16), .off = 100),
	STEP(SESSION("memfd_again", S1)),
	CASE("preserve_fd_memfd_again_after_unpreserve", 0, PRESERVE(S1, M1, 4)),
	/* Everything was closed: the device is free and no session is left. */
	GROUP(1, "final", L),
	CASE("final_no_session_left", 0, CREATE_OK(ITER), .names = single_boot_sessions,
	     .rep = ARRAY_SIZE(single_boot_sessions)),


	/* Stage 2 and later: the first open deserializes the incoming sessions. */
	GROUP(2, "s2_open", 0),
	CASE("s2_open_first", 0, OPEN(O_RDWR), .out = L),
	CASE("s2_open_second_while_open", EBUSY, OPEN(O_RDWR)),
	/*
	 * An incoming session, "s2_main" (tokens 1 to 3): retrieved once (-EINVAL
	 * again until released); no PRESERVE_FD (-EINVAL first); RETRIEVE_FD gives
	 * the same file each time (failed replies or fd allocations leave it
	 * retrievable), a new unfrozen memfd with size, contents, seals and position,
	 * LUO's (-EBUSY to preserve) until FINISH; the size and tail checks come
	 * before FINISH's reserved check; FINISH empties the file set (then 0 again).
	 */
	GROUP(2, "s2_main", L),
	CASE("s2_retrieve_session_unknown", ENOENT, RETRIEVE("s2_unknown")),
	CASE("s2_retrieve_session_ok", 0, RETRIEVE_OK("s2_main", S1)),
	CASE("s2_retrieve_session_again_while_open", EINVAL, RETRIEVE("s2_main")),
	CASE("s2_get_name_incoming", 0, NAME_IS(S1, "s2_main")),
	CASE("s2_preserve_fd_incoming", EINVAL, PRESERVE(S1, T, 100), MEMFD(0, 100)),
	CASE("s2_preserve_fd_incoming_bad_fd", EINVAL, PRESERVE_NR(S1, -1, 101)),
	CASE("s2_preserve_fd_incoming_same_token", EINVAL, PRESERVE_NR(S1, -1, 1)),
	CASE("s2_retrieve_fd_unknown_token", ENOENT, RFD(S1, 99)),
	CASE("s2_retrieve_fd_ok", 0, RFD_OK(S1, 1, M1)),
	STEP(.op = OP_STAT, .on = M1),
	CASE("s2_retrieve_fd_same_token_again", 0, RFD_SAME(S1, 1)),
	STEP(CLOSE(M1)),
	CASE("s2_retrieve_fd_after_user_close", 0, RFD_OK(S1, 1, M1),
	     .flags = K_FD | C_MEMFD | C_SAME),
	RSIZE("s2_retrieve_fd_size_0", EINVAL, 0, 0, 1),
	RSIZE("s2_retrieve_fd_size_8", EINVAL, 8, 0, 1),
	RSIZE("s2_retrieve_fd_size_15", EINVAL, 15, 0, 1),
	RSIZE("s2_retrieve_fd_size_17_nonzero_tail", E2BIG, 17, 16, 1),
	RSIZE("s2_retrieve_fd_size_24_nonzero_tail", E2BIG, 24, 23, 1),
	RSIZE("s2_retrieve_fd_size_24_zero_tail", 0, 24, 0, 1),
	RSIZE("s2_retrieve_fd_unknown_token_nonzero_tail", E2BIG, 24, 23, 99),
	CASE("s2_retrieve_fd_struct_cut_by_guard", EFAULT, RFD(S1, 0), END(8)),
	CASE("s2_retrieve_fd_at_page_end", 0, RFD_SAME(S1, 1), END(RFD_SZ)),
	CASE("s2_retrieve_fd_readonly_arg", EFAULT, RFD(S1, 2), RO),
	CASE("s2_retrieve_fd_after_readonly_arg", 0, RFD_OK(S1, 2, M2)),
	CASE("s2_retrieve_fd_emfile", EMFILE, RFD(S1, 3), NOFD),
	CASE("s2_retrieve_fd_after_emfile", 0, RFD_OK(S1, 3, M3)),
	CASE("s2_memfd_seals_preserved", 0, FOP(OP_SEALS, M3, F_SEAL_SHRINK | F_SEAL_GROW)),
	CASE("s2_memfd_position_preserved", 0, FOP(OP_POS, M3, 777)),
	CASE("s2_memfd_ftruncate_before_finish", 0, FOP(OP_TRUNC, M2, 2 * 12345), .len2 = 12345),
	STEP(SESSION("s2_main_out", S2)),
	CASE("s2_preserve_fd_retrieved_before_finish", EBUSY, PRESERVE(S2, M1, 1)),
	FSIZE("s2_finish_size_0", EINVAL, 0, 0, 0),
	FSIZE("s2_finish_size_4", EINVAL, 4, 0, 0),
	FSIZE("s2_finish_reserved_nonzero", EINVAL, FINISH_SZ, 1, 0),
	FSIZE("s2_finish_size_16_nonzero_tail", E2BIG, 16, 0, 15),
	FSIZE("s2_finish_reserved_nonzero_nonzero_tail", E2BIG, 16, 1, 15),
	CASE("s2_retrieve_fd_after_failed_finish", 0, RFD_SAME(S1, 1)),
	CASE("s2_finish_ok", 0, FINISH(S1)),
	CASE("s2_finish_again", 0, FINISH(S1)),
	FSIZE("s2_finish_size_16_zero_tail_after_finish", 0, 16, 0, 0),
	CASE("s2_retrieve_fd_after_finish", ENOENT, RFD(S1, 1)),
	CASE("s2_retrieve_fd_unknown_token_after_finish", ENOENT, RFD(S1, 99)),
	CASE("s2_get_name_after_finish", 0, NAME_IS(S1, "s2_main")),
	CASE("s2_preserve_fd_incoming_after_finish", EINVAL, PRESERVE(S1, T, 100), MEMFD(0, 100)),
	CASE("s2_retrieve_session_after_finish_while_open", EINVAL, RETRIEVE("s2_main")),
	CASE("s2_memfd_data_after_finish", 0, .op = OP_DATA, .on = M1, .token = 1, .rep = 3),
	CASE("s2_memfd_write_after_finish", 0, FOP(OP_WRITE, M1, 1)),
	CASE("s2_memfd_ftruncate_after_finish", 0, FOP(OP_TRUNC, M1, 8192)),
	CASE("s2_memfd_ftruncate_sealed_after_finish", EPERM, FOP(OP_TRUNC, M3, 0)),
	CASE("s2_preserve_fd_retrieved_after_finish", 0, PRESERVE(S2, M1, 1)),
	CASE("s2_memfd_ftruncate_preserved_again", EPERM, FOP(OP_TRUNC, M1, 4096)),
	STEP(CLOSE(S1)),
	CASE("s2_retrieve_session_after_finish_and_close", ENOENT, RETRIEVE("s2_main")),
	/* No files, "s2_empty": RETRIEVE_FD -> -ENOENT; FINISH -> 0, every time. */
	GROUP(2, "s2_empty", L),
	CASE("s2_empty_retrieve_session", 0, RETRIEVE_OK("s2_empty", S1)),
	CASE("s2_empty_retrieve_fd", ENOENT, RFD(S1, 0)),
	CASE("s2_empty_finish", 0, FINISH(S1)),
	CASE("s2_empty_finish_again", 0, FINISH(S1)),
	CASE("s2_empty_get_name_after_finish", 0, NAME_IS(S1, "s2_empty")),
	STEP(CLOSE(S1)),
	CASE("s2_empty_retrieve_session_after_close", ENOENT, RETRIEVE("s2_empty")),
	/*
	 * Releasing an unfinished session, "s2_release" (token 10 retrieved, 11
	 * not), finishes and removes it; until the last close it is retrieved.
	 */
	GROUP(2, "s2_release", L),
	CASE("s2_release_retrieve_session", 0, RETRIEVE_OK("s2_release", S1)),
	CASE("s2_release_retrieve_fd", 0, RFD_OK(S1, 10, M1)),
	STEP(DUP(S1, S2)), STEP(CLOSE(S1)),
	CASE("s2_release_retrieve_session_while_dup_open", EINVAL, RETRIEVE("s2_release")),
	CASE("s2_release_get_name_via_dup", 0, NAME_IS(S2, "s2_release")),
	STEP(CLOSE(S2)),
	CASE("s2_release_retrieve_session_after_close", ENOENT, RETRIEVE("s2_release")),
	CASE("s2_release_memfd_data_after_close", 0, .op = OP_DATA, .on = M1, .token = 10),
	CASE("s2_release_create_outgoing_same_name", 0, CREATE_OK("s2_release")),
	/* FINISH with files never retrieved, "s2_unretrieved": they are gone. */
	GROUP(2, "s2_unretrieved", L),
	CASE("s2_unretrieved_retrieve_session", 0, RETRIEVE_OK("s2_unretrieved", S1)),
	CASE("s2_finish_unretrieved_files", 0, FINISH(S1)),
	CASE("s2_retrieve_fd_after_finish_unretrieved", ENOENT, RFD(S1, 20)),
	CASE("s2_retrieve_fd_after_finish_unretrieved_other", ENOENT, RFD(S1, 21)),
	/*
	 * RETRIEVE_SESSION argument checks on an existing name, "s2_sizes" (token
	 * 30), fail before the lookup: the session can still be retrieved.
	 */
	GROUP(2, "s2_sizes", L),
	SS("s2_retrieve_session_size_0", EINVAL, .size = 0),
	SS("s2_retrieve_session_size_71", EINVAL, .size = 71),
	SS("s2_retrieve_session_size_80_nonzero_tail", E2BIG, .size = 80, .tail = 79),
	SS("s2_retrieve_session_size_73_nonzero_tail", E2BIG, .size = 73, .tail = 72),
	SS("s2_retrieve_session_struct_cut_by_guard", EFAULT, .str = NULL, END(4)),
	SS("s2_retrieve_session_emfile", EMFILE, NOFD),
	CASE("s2_retrieve_session_size_80_zero_tail", 0, RETRIEVE_OK("s2_sizes", S1), .size = 80),
	CASE("s2_retrieve_fd_after_sized_retrieve", 0, RFD_OK(S1, 30, M1)),
	/*
	 * "s2_readonly": the reply cannot be written, so the retrieved session is
	 * released (finished and removed) before the ioctl returns.
	 */
	GROUP(2, "s2_readonly", L),
	CASE("s2_retrieve_session_readonly_arg", EFAULT, RETRIEVE("s2_readonly"), RO),
	CASE("s2_retrieve_session_after_readonly_arg", ENOENT, RETRIEVE("s2_readonly")),
	/*
	 * "s2_same_name" (token 50): CREATE checks only the outgoing list, RETRIEVE
	 * only the incoming one.
	 */
	GROUP(2, "s2_same_name", L),
	CASE("s2_create_outgoing_same_name_as_incoming", 0, CREATE_OK("s2_same_name"), .out = S2),
	CASE("s2_retrieve_session_with_outgoing_same_name", 0, RETRIEVE_OK("s2_same_name", S1)),
	CASE("s2_create_outgoing_same_name_duplicate", EEXIST, CREATE_OK("s2_same_name")),
	CASE("s2_retrieve_fd_session_with_outgoing_same_name", 0, RFD_OK(S1, 50, M1)),
	CASE("s2_preserve_fd_outgoing_same_name_same_token", 0, PRESERVE(S2, T, 50), MEMFD(0, 100)),
	STEP(CLOSE(S2)),
	CASE("s2_create_outgoing_same_name_as_retrieved", 0, CREATE_OK("s2_same_name")),
	STEP(CLOSE(S1)),
	CASE("s2_create_outgoing_same_name_after_incoming_closed", 0, CREATE_OK("s2_same_name")),
	/*
	 * "s2_garbage": strncmp(.., 64), so bytes after the NUL do not count, and a
	 * prefix, an extension, another case or no NUL in 64 bytes do not match.
	 */
	GROUP(2, "s2_garbage", L),
	CASE("s2_retrieve_session_name_prefix", ENOENT, RETRIEVE("s2_garbag")),
	CASE("s2_retrieve_session_name_longer", ENOENT, RETRIEVE("s2_garbage_")),
	CASE("s2_retrieve_session_name_case_differs", ENOENT, RETRIEVE("S2_GARBAGE")),
	CASE("s2_retrieve_session_name_64_no_nul", ENOENT, RETRIEVE(NULL), .fill = 'X'),
	CASE("s2_retrieve_session_name_trailing_garbage", 0, RETRIEVE_OK("s2_garbage", 0),
	     .fill = 'z'),
	/*
	 * "s2_finish_ro" (token 70 retrieved, 71 not): FINISH whose reply cannot be
	 * written has finished the files anyway.
	 */
	GROUP(2, "s2_finish_ro", L),
	CASE("s2_finish_ro_retrieve_session", 0, RETRIEVE_OK("s2_finish_ro", S1)),
	CASE("s2_finish_ro_retrieve_fd", 0, RFD_OK(S1, 70, M1)),
	CASE("s2_finish_readonly_arg", EFAULT, FINISH(S1), RO),
	CASE("s2_retrieve_fd_after_finish_readonly_arg", ENOENT, RFD(S1, 71)),
	CASE("s2_retrieve_fd_retrieved_after_finish_readonly_arg", ENOENT, RFD(S1, 70)),
	CASE("s2_finish_after_finish_readonly_arg", 0, FINISH(S1)),
	CASE("s2_memfd_data_after_finish_readonly_arg", 0, .op = OP_DATA, .on = M1, .token = 70),
	/* Every incoming session was retrieved and released: none is left. */
	GROUP(2, "s2_final", L),
	CASE("s2_final_no_incoming_left", ENOENT, RETRIEVE(ITER), .names = s2_sessions,
	     .rep = ARRAY_SIZE(s2_sessions)),
};

/* The interpreter ------------------------------------------------------------ */

#define SLOT(s, i)	((s) == MANY ? MANY + (i) : (s))
static int fds[MANY + MANY_FILES], closed_nr = -1, saved_level = -1, skip_err;
static const char *skip_why;
static struct stat ref;		/* the file of the last OP_STAT */
static unsigned char *gpage;	/* a read-write page, then a PROT_NONE page */
static unsigned char *ropage;	/* a page that is read-only while in use */
static const char data[16] = "luo_errno memfd";

/* "0", the symbolic name of an errno, or a result of the DOC comment. */
static const char *result_name(int res, char *buf, size_t len)
{
	static const char *const r[] = { "BADNAME", "BADFD", "NOCLOEXEC", "CANARY", "BADDATA",
					 "OTHERFILE" };
	static const char *const kernel_only[] = { [0] = "ERESTARTSYS", [1] = "ERESTARTNOINTR",
						   [3] = "ENOIOCTLCMD", [12] = "ENOTSUPP" };
	int err = res <= R_SETUP ? R_SETUP - res : res;
	const char *s = err > 0 ? strerrorname_np(err) : NULL;

	if (!res || (res < 0 && res >= R_OTHERFILE))
		return res ? r[-res - 1] : "0";
	if (!s && err >= 512 && err < 512 + (int)ARRAY_SIZE(kernel_only))
		s = kernel_only[err - 512];
	if (s)
		snprintf(buf, len, "%s%s", res <= R_SETUP ? "SETUP_" : "", s);
	else
		snprintf(buf, len, "%sE%d", res <= R_SETUP ? "SETUP_" : "", err);
	return buf;
}

static void report(const char *name, int res, int exp)
{
	char rbuf[48], ebuf[48];

	if (res == R_SKIP)
		ksft_test_result_code(KSFT_SKIP, name, "%s %s", skip_why,
				      result_name(skip_err, ebuf, sizeof(ebuf)));
	else
		ksft_test_result_code(res == exp ? KSFT_PASS : KSFT_FAIL, name, "%s expected %s",
				      result_name(res, rbuf, sizeof(rbuf)),
				      result_name(exp, ebuf, sizeof(ebuf)));
}

/* Lower the console loglevel to QUIET_LEVEL (@quiet), or put it back. */
static void quiet_console(int quiet)
{
	FILE *f = quiet ? fopen("/proc/sys/kernel/printk", "re") : NULL;

	if (!quiet && saved_level >= 0)
		klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, NULL, saved_level);
	if (f && (fscanf(f, "%d", &saved_level) != 1 || saved_level <= QUIET_LEVEL ||
		  klogctl(8, NULL, QUIET_LEVEL)))
		saved_level = -1;
	if (f)
		fclose(f);
}

static void xclose(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int sys_res(long ret)
{
	return ret < 0 ? errno : 0;
}

/* Byte @off of a test file: a function of the offset and @seed. */
static unsigned char pattern_byte(size_t off, unsigned int seed)
{
	return (unsigned char)(((off * 7 + 3) ^ seed) & 0xff);
}

static int fill(int fd, size_t off, size_t len, unsigned int seed)
{
	unsigned char buf[PAGE];
	size_t i, n;

	for (; len; off += n, len -= n) {
		n = len < sizeof(buf) ? len : sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern_byte(off + i, seed);
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			return -1;
	}
	return 0;
}

/* A memfd with @size bytes of data (exec mode explicit: no console warning). */
static int memfd_new(unsigned int flags, size_t size)
{
	int fd = memfd_create("luo_errno", flags & MFD_NOEXEC_SEAL ? flags : flags | MFD_EXEC);

	if (fd >= 0 && size && fill(fd, 0, size, 0))
		xclose(&fd);
	return fd;
}

/* The file of kind @r->file: its fd, -errno, or R_SKIP. */
static int make_file(const struct row *r)
{
	char path[32];
	int fd = -1, p[2];

	switch (r->file) {
	case F_MEMFD:
		fd = memfd_new(r->mflags, r->fsize);
		break;
	case F_PATH:
	case F_REOPEN:
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[r->from]);
		fd = open(r->file == F_PATH ? r->path : path, r->mflags | O_CLOEXEC, 0600);
		if (fd >= 0 && r->fsize && fill(fd, 0, r->fsize, 0))
			xclose(&fd);
		break;
	case F_DUP:
		fd = dup(fds[r->from]);
		break;
	case F_SPARSE:		/* 1 MiB, only the last byte written */
		fd = memfd_new(MFD_CLOEXEC, 0);
		if (fd >= 0 && (ftruncate(fd, 1 << 20) || fill(fd, (1 << 20) - 1, 1, 0)))
			xclose(&fd);
		break;
	case F_SEALED:		/* every seal the kernel knows */
		fd = memfd_new(MFD_ALLOW_SEALING | MFD_CLOEXEC, PAGE);
		if (fd >= 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW |
				     F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC))
			xclose(&fd);
		break;
	case F_TOO_BIG:		/* (UINT_MAX + 2) pages, all holes */
		fd = memfd_new(MFD_CLOEXEC, 0);
		if (fd >= 0 && ftruncate(fd, ((off_t)UINT_MAX + 2) * PAGE))
			xclose(&fd);
		break;
	case F_CLOSED:		/* a number nothing opens before the ioctl */
		fd = closed_nr = memfd_new(0, 10);
		if (fd >= 0)
			close(fd);
		break;
	case F_NULL_AT_CLOSED:	/* that number, now naming /dev/null */
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0 && fd != closed_nr && dup2(fd, closed_nr) >= 0) {
			close(fd);
			fd = closed_nr;
		}
		break;
	case F_PIPE:
	case F_SOCKET:
		if (r->file == F_PIPE ? pipe2(p, O_CLOEXEC) :
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
			break;
		close(p[1]);
		fd = p[0];
		break;
	case F_EVENTFD:
		fd = eventfd(0, EFD_CLOEXEC);
		break;
	case F_SECRET:		/* secretmem and hugetlb memfds are not shmem files */
	case F_HUGETLB:
		fd = r->file == F_SECRET ? syscall(__NR_memfd_secret, 0) :
		     memfd_create("hugetlb", MFD_HUGETLB | MFD_EXEC);
		skip_why = r->file == F_SECRET ? "memfd_secret" : "memfd_create(MFD_HUGETLB)";
		skip_err = errno;
		return fd < 0 ? R_SKIP : fd;
	}
	return fd < 0 ? -errno : fd;
}

/* Does @fd hold the size and contents s2_files[] gives for @token? */
static int memfd_is(int fd, __u64 token)
{
	const struct s2_file *f = NULL;
	unsigned char buf[PAGE];
	struct stat st;
	size_t off, i, n;

	for (i = 0; i < ARRAY_SIZE(s2_files); i++)
		f = s2_files[i].token == token ? &s2_files[i] : f;
	if (fd < 0 || fstat(fd, &st))
		return R_BADFD;
	if (!f || !S_ISREG(st.st_mode) || st.st_size != (off_t)f->size)
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

/* An fd an ioctl returned: open, and what the C_ flags of @r say it is. */
static int check_fd(const struct row *r, int fd, const char *want, __u64 token)
{
	int fl = fd < 0 ? -1 : fcntl(fd, F_GETFD), res = 0;
	char name[NAME_LEN + 1];
	struct stat st;

	if (!(r->flags & (C_SESSION | C_MEMFD | C_SAME)))
		return 0;
	if (fl < 0)
		return R_BADFD;
	if (r->flags & C_SESSION) {
		res = -luo_get_session_name(fd, name, sizeof(name));
		res = res ? res : strcmp(name, want) ? R_BADNAME : 0;
	}
	if (!res && (r->flags & C_MEMFD))
		res = memfd_is(fd, token);
	if (!res && (r->flags & (C_SESSION | C_MEMFD)) && !(fl & FD_CLOEXEC))
		res = R_NOCLOEXEC;
	if (!res && (r->flags & C_SAME))
		res = fstat(fd, &st) ? R_BADFD : st.st_dev != ref.st_dev ||
		      st.st_ino != ref.st_ino ? R_OTHERFILE : 0;
	return res;
}

/* OP_IOCTL: the argument @r describes, placed where it says, and the checks. */
static int run_ioctl(const struct row *r, unsigned int i, const char *it)
{
	const char *str = r->str == ITER ? it : r->str, *want = r->want == ITER ? it : r->want;
	unsigned int end = r->size > CREATE_SZ ? r->size : CREATE_SZ, k;
	union { struct arg a; unsigned char b[128]; } u;
	struct rlimit old, none = { 0, 0 };
	unsigned char *p = u.b;
	int res, fd;

	memset(&u, 0, sizeof(u));
	u.a.size = r->size;
	u.a.w4 = r->fd ? fds[r->fd] : r->w4;
	u.a.token = r->token + i;
	if (r->fill || str)
		memset(u.a.name, r->fill, NAME_LEN);
	if (str)
		snprintf((char *)u.a.name, NAME_LEN, "%s", str);
	if (r->flags & C_CANARY)
		memset(u.b + end, 0xa5, sizeof(u) - end);
	if (r->tail && r->tail < sizeof(u))
		u.b[r->tail] = 0x5a;
	if (r->place == P_NULL || r->place == P_ADDR8) {
		p = r->place == P_NULL ? NULL : (void *)8;
	} else if (r->place == P_RO) {
		p = ropage;
		if (mprotect(p, PAGE, PROT_READ | PROT_WRITE) || !memcpy(p, &u, sizeof(u)) ||
		    mprotect(p, PAGE, PROT_READ))
			return R_SETUP - errno;
	} else if (r->place == P_END) {
		memset(gpage, 0, PAGE);
		p = memcpy(gpage + PAGE - r->span, &u, r->span < sizeof(u) ? r->span : sizeof(u));
		if (r->tail >= sizeof(u))
			p[r->tail] = 0x5a;
	} else if (r->place == P_NOFD && (getrlimit(RLIMIT_NOFILE, &old) ||
					  setrlimit(RLIMIT_NOFILE, &none))) {
		return R_SETUP - errno;
	}
	res = sys_res(ioctl(fds[SLOT(r->on, i)], r->cmd, p));
	if (r->place == P_NOFD && setrlimit(RLIMIT_NOFILE, &old))
		ksft_exit_fail_perror("setrlimit");
	/* What the kernel wrote back, where it can be read. */
	if (res || !p || p == (void *)8 || (r->place == P_END && r->span < 8))
		return res;
	if (r->flags & K_FD) {
		memcpy(&fd, p + 4, sizeof(fd));
		res = check_fd(r, fd, want, r->token + i);
		if (r->out)
			fds[SLOT(r->out, i)] = fd;
		else if (fd >= 0 && res != R_BADFD)
			close(fd);
	}
	if (!res && (r->flags & C_NAME) && (!memchr(p + 8, 0, NAME_LEN) ||
					   strcmp((char *)p + 8, want)))
		res = R_BADNAME;
	for (k = end; !res && (r->flags & C_CANARY) && k < sizeof(u); k++)
		res = p[k] != 0xa5 ? R_CANARY : 0;
	return res;
}

/* The i-th repetition of row @r; @it is the string ITER stands for. */
static int run_op(const struct row *r, unsigned int i, const char *it)
{
	int fd = fds[SLOT(r->on, i)], res;
	unsigned char buf[sizeof(data)];
	struct statfs sf;

	switch (r->op) {
	case OP_IOCTL:
		return run_ioctl(r, i, it);
	case OP_FILE:
		res = make_file(r);
		if (res < 0)
			return res == R_SKIP ? res : -res;
		if (r->out)
			fds[r->out] = res;
		else
			close(res);
		return 0;
	case OP_CLOSE:
		for (i = 0; i < (r->on == MANY ? MANY_FILES : 1); i++)
			xclose(&fds[SLOT(r->on, i)]);
		return 0;
	case OP_STAT:
		return sys_res(fstat(fd, &ref));
	case OP_TRUNC:
		res = sys_res(ftruncate(fd, r->len));
		return res || !r->len2 ? res : sys_res(ftruncate(fd, r->len2));
	case OP_FALLOC:
		return sys_res(fallocate(fd, 0, r->off, r->len));
	case OP_WRITE:
		return sys_res(pwrite(fd, data, r->len, r->off));
	case OP_READ:
		res = pread(fd, buf, r->len, r->off) == r->len && !memcmp(buf, data, r->len);
		return res ? 0 : R_BADDATA;
	case OP_SEALS:
		res = fcntl(fd, F_GET_SEALS);
		return res < 0 ? errno : res == r->len ? 0 : R_BADDATA;
	case OP_POS:
		res = lseek(fd, 0, SEEK_CUR);
		return res < 0 ? errno : res == r->len ? 0 : R_BADDATA;
	case OP_DATA:
		return memfd_is(fds[r->on + i], r->token + i);
	case OP_UNLINK:
		return sys_res(unlink(TMP_FILE));
	case OP_NEED_TMPFS:
		if (!statfs("/tmp", &sf) && sf.f_type == 0x01021994 /* TMPFS_MAGIC */)
			return 0;
		skip_why = "/tmp is not a tmpfs";
		skip_err = ENODEV;
		return R_SKIP;
	}
	return R_SETUP - EINVAL;
}

/* Row @r: its own file in T (a new one each time), its operation, @rep times. */
static int run_row(const struct row *r)
{
	unsigned int i = 0, n = r->rep ? r->rep : 1;
	char it[NAME_LEN] = "";
	int res;

	do {
		if (r->names)
			snprintf(it, sizeof(it), "%s", r->names[i]);
		else if (r->fmt)
			snprintf(it, sizeof(it), r->fmt, i);
		if (r->file && r->op != OP_FILE) {
			fds[T] = make_file(r);
			if (fds[T] < 0)
				return fds[T] == R_SKIP ? R_SKIP : R_SETUP + fds[T];
		}
		res = run_op(r, i, it);
		xclose(&fds[T]);
	} while (++i < n && res == r->exp);
	return res;
}

/* Close every fd of the last group, then open group @g's /dev/liveupdate. */
static int group_start(const struct row *g)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fds); i++)
		xclose(&fds[i]);
	if (!g)
		return 0;
	ksft_print_msg("%s\n", g->name);
	if (g->on)
		fds[g->on] = luo_open_device();
	return g->on && fds[g->on] < 0 ? R_SETUP - errno : 0;
}

/*
 * Create the state the next stage's s2_ cases expect.  The session fds stay
 * open for daemonize_and_wait(); LUO holds its own references to the memfds.
 */
static int prepare_next_stage(void)
{
	int luo = luo_open_device(), sfd, fd, res = luo < 0 ? R_SETUP - errno : 0;
	const struct s2_file *f;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(s2_sessions) && !res; i++) {
		sfd = luo_create_session(luo, s2_sessions[i]);
		res = sfd < 0 ? -sfd : 0;
		for (f = s2_files; !res && f < s2_files + ARRAY_SIZE(s2_files); f++) {
			if (strcmp(f->session, s2_sessions[i]))
				continue;
			fd = memfd_new(f->seals ? MFD_ALLOW_SEALING : 0, 0);
			if (fd < 0 || fill(fd, 0, f->size, f->token & 0xff) ||
			    (f->seals && fcntl(fd, F_ADD_SEALS, f->seals)) ||
			    lseek(fd, f->pos, SEEK_SET) != (off_t)f->pos)
				res = R_SETUP - errno;
			else
				res = -luo_session_preserve_fd(sfd, fd, f->token);
			if (fd >= 0)
				close(fd);
		}
	}
	if (luo >= 0)
		close(luo);
	return res;
}

/* The cases of @stage.  Case names are unique and [a-z0-9_]+ (the harness parses them). */
static unsigned int count_cases(int stage)
{
	const struct row *r, *q;
	unsigned int n = 0;
	int st = 0;

	for (r = rows; r < rows + ARRAY_SIZE(rows); r++) {
		st = r->op == OP_GROUP ? r->stage : st;
		if (!r->name || r->op == OP_GROUP)
			continue;
		n += st == stage;
		for (q = rows; q < r; q++)
			if (q->name && !strcmp(q->name, r->name))
				ksft_exit_fail_msg("duplicate case %s\n", r->name);
		if (strspn(r->name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(r->name))
			ksft_exit_fail_msg("bad case name %s\n", r->name);
	}
	return n;
}

int main(int argc, char **argv)
{
	int opt, verbose = 0, stage = 1, nstages = 0, run_stage, st = 0, setup = 0, res;
	const struct row *r;

	while ((opt = getopt(argc, argv, "vs:n:")) != -1) {
		if (opt == 'v')
			verbose = 1;
		else if (opt == 's' || opt == 'n')
			*(opt == 's' ? &stage : &nstages) = atoi(optarg);
		else
			stage = -1;
	}
	nstages = nstages ? nstages : stage;
	if (optind != argc || stage < 1 || nstages < stage) {
		fprintf(stderr, "usage: %s [-v] [-s STAGE -n NSTAGES]  (1 <= STAGE <= NSTAGES)\n",
			argv[0]);
		return 2;
	}
	for (opt = 0; opt < NAME_LEN - 1; opt++)
		name_high[opt] = (char)(0x80 + opt);
	gpage = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ropage = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sysconf(_SC_PAGESIZE) != PAGE || gpage == MAP_FAILED || ropage == MAP_FAILED ||
	    mprotect(gpage + PAGE, PAGE, PROT_NONE) || access(LUO_DEVICE, F_OK))
		ksft_exit_fail_perror("setup (4 KiB pages, two mappings, " LUO_DEVICE ")");
	memset(fds, -1, sizeof(fds));
	run_stage = stage > 1 ? 2 : 1;	/* the stages after the first run the s2_ cases */

	ksft_print_header();
	ksft_set_plan(count_cases(run_stage) + (stage < nstages));
	quiet_console(!verbose);
	for (r = rows; r < rows + ARRAY_SIZE(rows); r++) {
		if (r->op == OP_GROUP) {
			st = r->stage;
			setup = st == run_stage ? group_start(r) : 0;
		} else if (st == run_stage) {
			res = setup ? setup : run_row(r);
			if (r->name)
				report(r->name, res, r->exp);
			else if (res != r->exp && !setup)
				setup = res == R_SKIP || res <= R_SETUP ? res :
					R_SETUP - (res > 0 ? res : EIO);
		}
	}
	group_start(NULL);
	if (stage < nstages)
		report("prepare_next_stage", prepare_next_stage(), 0);
	quiet_console(0);
	if (stage < nstages && !ksft_get_fail_cnt()) {
		ksft_print_cnts();
		daemonize_and_wait();
	}
	ksft_finished();
}
