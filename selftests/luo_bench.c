// SPDX-License-Identifier: GPL-2.0
/*
 * luo_bench: guest time of the paths of a live update.
 *
 *   luo_bench -s STAGE -n 2 [-S SESSION] [-w NAME:SIZE:WRITTEN[:thp] ...] [-N COUNT ...]
 *
 * Memfds (-w).  Stage 1 creates, for each -w, a memfd of SIZE bytes into
 * which WRITTEN bytes are written (in 1 MiB chunks spread evenly over the
 * file; SIZE == WRITTEN writes every byte), preserves it into the session
 * SESSION (default "bench") and times PRESERVE_FD; it also reports what
 * preserving cost in memory (the growth of Shmem in /proc/meminfo and of
 * the memfd's st_blocks).  Stage 2 times RETRIEVE_SESSION, RETRIEVE_FD of
 * each memfd and SESSION_FINISH, and checks every written byte (not
 * timed).  SIZE and WRITTEN take K, M and G suffixes.
 *
 * A memfd is filled with pwrite(), which gives it 4 KiB folios, unless
 * ":thp" follows: then stage 1 sets shmem_enabled to "advise" and fills it
 * through a MAP_SHARED mapping with MADV_HUGEPAGE, which gives it PMD-sized
 * folios (shmem THP), then sets shmem_enabled back.  Either way the growth
 * of ShmemHugePages across the fill is checked (all written bytes in huge
 * pages with ":thp", none without) and reported, and stage 2 reports it
 * across RETRIEVE_FD.
 *
 * Scale (-N COUNT), each loop of COUNT operations timed as a whole:
 *
 *   create_sessions    stage 1: COUNT sessions created (kept open, across
 *                      the kexec);
 *   close_sessions     stage 1: COUNT other (empty) sessions closed;
 *   preserve_memfds    stage 1: COUNT one-page memfds preserved into one
 *                      session (each memfd made before the loop);
 *   retrieve_sessions  stage 2: the COUNT sessions kept across the kexec
 *                      retrieved (each then checked by its name);
 *   retrieve_memfds    stage 2: the COUNT memfds retrieved from their
 *                      session (each then checked: size and content);
 *   finish_memfds      stage 2: SESSION_FINISH of that session.
 *
 * Times are CLOCK_MONOTONIC around the one ioctl, or around the loop.
 * Under QEMU with "-icount shift=0,sleep=off" (make bench) guest time
 * advances one nanosecond per guest instruction, so a time is an
 * instruction count and repeats to within 0.01% from run to run on the same
 * kernel.
 *
 * Output: KTAP (kselftest.h), one test per memfd and step and per scale
 * loop, and for each measurement a diagnostic line the harness reads:
 *
 *   # LUO-BENCH: <op> <name> <value> <unit>
 *
 * Every timed ioctl or loop is framed by luo_bench_mark_begin() and
 * luo_bench_mark_end() and followed by exactly one "ns" line, in the order
 * of the frames (harness/bench.sh maps the i-th frame to the i-th one).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <libliveupdate.h>
#include "luo_proc.h"

#define CHUNK		(1ULL << 20)
#define MAX_WORK	16
#define MAX_SCALE	4
#define MAX_COUNT	100000
#define SHMEM_ENABLED	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"

struct work {
	char name[32];
	unsigned long long size, written;
	int thp;
	int fd;
};

static struct work works[MAX_WORK];
static unsigned int nworks;
static unsigned int counts[MAX_SCALE];
static unsigned int ncounts;
static const char *session = "bench";
static uint64_t buf[CHUNK / 8];

static unsigned long long parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'G': v <<= 10; /* fall through */
	case 'M': v <<= 10; /* fall through */
	case 'K': v <<= 10; end++; break;
	}
	if (*end && *end != ':')
		ksft_exit_fail_msg("bad size '%s'\n", s);
	return v;
}

static void parse_work(const char *arg)
{
	struct work *w = &works[nworks];
	const char *c1 = strchr(arg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	const char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;

	if (nworks == MAX_WORK || !c2 || c1 - arg >= (long)sizeof(w->name) ||
	    (c3 && strcmp(c3, ":thp")))
		ksft_exit_fail_msg("bad -w '%s' (NAME:SIZE:WRITTEN[:thp])\n", arg);
	memcpy(w->name, arg, c1 - arg);
	w->size = parse_size(c1 + 1);
	w->written = parse_size(c2 + 1);
	w->thp = !!c3;
	if (w->written > w->size || (w->written % CHUNK && w->written != w->size))
		ksft_exit_fail_msg("-w %s: WRITTEN must be a multiple of 1 MiB or SIZE\n", arg);
	nworks++;
}

static void parse_count(const char *arg)
{
	char *end;
	unsigned long n = strtoul(arg, &end, 10);

	if (ncounts == MAX_SCALE || *end || !n || n > MAX_COUNT)
		ksft_exit_fail_msg("bad -N '%s' (1 to %d, at most %d times)\n", arg,
				   MAX_COUNT, MAX_SCALE);
	counts[ncounts++] = n;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long long blocks_kib(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (long long)st.st_blocks / 2;
}

/* The chunks written: @n of them, chunk i at offset chunk_off(w, i). */
static unsigned long long nchunks(const struct work *w)
{
	return (w->written + CHUNK - 1) / CHUNK;
}

static unsigned long long chunk_off(const struct work *w, unsigned long long i)
{
	unsigned long long n = nchunks(w);

	if (w->written == w->size)
		return i * CHUNK;
	return (w->size / CHUNK / n) * i * CHUNK;
}

/* The content of [@off, @off + @len) of @w, into @dst. */
static void pattern(const struct work *w, uint64_t *dst, unsigned long long off, size_t len)
{
	size_t i;

	for (i = 0; i < len / 8; i++)
		dst[i] = (off + i * 8) * 0x9e3779b97f4a7c15ULL ^ w->size;
}

static size_t chunk_len(const struct work *w, unsigned long long off)
{
	return w->size - off < CHUNK ? w->size - off : CHUNK;
}

/*
 * Write the chunks: with pwrite(), or for a THP memfd straight into a
 * mapping with MADV_HUGEPAGE, whose faults allocate PMD-sized folios when
 * shmem_enabled is "advise" (a pwrite has no vma to advise, and gets
 * 4 KiB folios).  mmap() of a shmem file picks a PMD-aligned address.
 */
static void fill(struct work *w)
{
	unsigned long long i, off;
	char *map = NULL;

	if (w->thp) {
		map = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0);
		if (map == MAP_FAILED || madvise(map, w->size, MADV_HUGEPAGE))
			ksft_exit_fail_msg("%s: mmap/madvise(MADV_HUGEPAGE): %s\n", w->name,
					   strerror(errno));
	}
	for (i = 0; i < nchunks(w); i++) {
		off = chunk_off(w, i);
		if (map) {
			pattern(w, (uint64_t *)(map + off), off, chunk_len(w, off));
			continue;
		}
		pattern(w, buf, off, chunk_len(w, off));
		if (pwrite(w->fd, buf, chunk_len(w, off), off) != (ssize_t)chunk_len(w, off))
			ksft_exit_fail_msg("%s: pwrite: %s\n", w->name, strerror(errno));
	}
	if (map)
		munmap(map, w->size);
}

static int verify(const struct work *w)
{
	static uint64_t got[CHUNK / 8];
	unsigned long long i, off;
	struct stat st;

	if (fstat(w->fd, &st) || (unsigned long long)st.st_size != w->size)
		return 0;
	for (i = 0; i < nchunks(w); i++) {
		off = chunk_off(w, i);
		pattern(w, buf, off, chunk_len(w, off));
		if (pread(w->fd, got, chunk_len(w, off), off) != (ssize_t)chunk_len(w, off) ||
		    memcmp(got, buf, chunk_len(w, off)))
			return 0;
	}
	return 1;
}

/* The mode of shmem_enabled now: the one in brackets ("always [never] ..."). */
static void get_shmem_thp(char *mode, size_t len)
{
	char line[128] = "", *b, *e;
	int fd = open(SHMEM_ENABLED, O_RDONLY);

	if (fd < 0 || read(fd, line, sizeof(line) - 1) <= 0 ||
	    !(b = strchr(line, '[')) || !(e = strchr(b, ']')) || e - b > (long)len)
		ksft_exit_fail_msg("%s: %s\n", SHMEM_ENABLED, strerror(errno));
	close(fd);
	snprintf(mode, len, "%.*s", (int)(e - b - 1), b + 1);
}

static void set_shmem_thp(const char *mode)
{
	int fd = open(SHMEM_ENABLED, O_WRONLY);

	if (fd < 0 || write(fd, mode, strlen(mode)) != (ssize_t)strlen(mode))
		ksft_exit_fail_msg("%s = %s: %s\n", SHMEM_ENABLED, mode, strerror(errno));
	close(fd);
}

/*
 * Marks around each timed ioctl or loop: empty functions at fixed addresses
 * (the program is static and not PIE) that harness/tbprof.c, a QEMU plugin,
 * watches to count each window's guest instructions by kernel function
 * (LUO_BENCH_PROFILE=1 make bench).
 */
__attribute__((noinline, used)) void luo_bench_mark_begin(void)
{
	asm volatile("" ::: "memory");
}

__attribute__((noinline, used)) void luo_bench_mark_end(void)
{
	asm volatile("" ::: "memory");
}

static void report(const char *op, const char *name, long long v, const char *unit)
{
	ksft_print_msg("LUO-BENCH: %s %s %lld %s\n", op, name, v, unit);
}

/* --- memfds ---------------------------------------------------------------- */

static void works_stage1(int luo)
{
	long long sh0, huge0, huge;
	unsigned long long t0;
	char thp_mode[16] = "";
	unsigned int i;
	int sess, ret;

	sess = luo_create_session(luo, session);
	if (sess < 0)
		ksft_exit_fail_msg("create session %s: %s\n", session, strerror(-sess));
	for (i = 0; i < nworks; i++) {
		struct work *w = &works[i];

		w->fd = memfd_create(w->name, 0);
		if (w->fd < 0 || ftruncate(w->fd, w->size))
			ksft_exit_fail_msg("%s: memfd: %s\n", w->name, strerror(errno));
		/*
		 * "advise" only while a THP memfd is filled: what is timed runs
		 * with the kernel's own setting, as for a 4 KiB memfd.
		 */
		if (w->thp) {
			if (!thp_mode[0])
				get_shmem_thp(thp_mode, sizeof(thp_mode));
			set_shmem_thp("advise");
		}
		huge0 = luo_meminfo_kib("ShmemHugePages");
		fill(w);
		huge = luo_meminfo_kib("ShmemHugePages") - huge0;
		if (w->thp)
			set_shmem_thp(thp_mode);
		report("thp_filled", w->name, huge, "KiB");
		/*
		 * A THP memfd has every written byte in huge pages, a 4 KiB one
		 * none (a kernel without THP has no ShmemHugePages line).
		 */
		ksft_test_result(w->thp ? huge0 >= 0 && huge * 1024 >= (long long)w->written :
				 huge0 < 0 || huge == 0,
				 "fill %s: %lld KiB in huge pages (%s)\n", w->name, huge,
				 w->thp ? "all written bytes expected" : "none expected");
		report("blocks_before", w->name, blocks_kib(w->fd), "KiB");
		sh0 = luo_meminfo_kib("Shmem");
		t0 = now_ns();
		luo_bench_mark_begin();
		ret = luo_session_preserve_fd(sess, w->fd, i + 1);
		luo_bench_mark_end();
		report("preserve_fd", w->name, now_ns() - t0, "ns");
		report("shmem_growth", w->name, luo_meminfo_kib("Shmem") - sh0, "KiB");
		report("blocks_after", w->name, blocks_kib(w->fd), "KiB");
		ksft_test_result(ret == 0, "preserve %s (%llu bytes, %llu written%s)%s%s\n",
				 w->name, w->size, w->written, w->thp ? ", THP" : "",
				 ret ? ": " : "", ret ? strerror(-ret) : "");
		close(w->fd);
	}
	/* The session stays open: the child of daemonize_and_wait() holds it. */
}

static void works_stage2(int luo)
{
	unsigned long long t0;
	long long huge0;
	unsigned int i;
	int sess, ret;

	t0 = now_ns();
	luo_bench_mark_begin();
	sess = luo_retrieve_session(luo, session);
	luo_bench_mark_end();
	report("retrieve_session", session, now_ns() - t0, "ns");
	ksft_test_result(sess >= 0, "retrieve session %s\n", session);
	if (sess < 0)
		ksft_exit_fail();
	for (i = 0; i < nworks; i++) {
		struct work *w = &works[i];

		huge0 = luo_meminfo_kib("ShmemHugePages");
		t0 = now_ns();
		luo_bench_mark_begin();
		w->fd = luo_session_retrieve_fd(sess, i + 1);
		luo_bench_mark_end();
		report("retrieve_fd", w->name, now_ns() - t0, "ns");
		report("thp_retrieved", w->name, luo_meminfo_kib("ShmemHugePages") - huge0, "KiB");
		ksft_test_result(w->fd >= 0 && verify(w), "retrieve %s, every written byte\n",
				 w->name);
		report("blocks_retrieved", w->name, w->fd >= 0 ? blocks_kib(w->fd) : -1, "KiB");
	}
	t0 = now_ns();
	luo_bench_mark_begin();
	ret = luo_session_finish(sess);
	luo_bench_mark_end();
	report("finish", session, now_ns() - t0, "ns");
	ksft_test_result(ret == 0, "finish session %s\n", session);
	for (i = 0; i < nworks; i++)
		if (works[i].fd >= 0)
			close(works[i].fd);
}

/* --- scale: COUNT sessions, COUNT memfds ------------------------------------- */

static int *fds;
static char (*names)[LIVEUPDATE_SESSION_NAME_LENGTH];

/*
 * The names of the COUNT sessions kept across the kexec ("n1000-0" ...),
 * or of the COUNT sessions closed at stage 1 ("n1000-close-0" ...), made
 * before a loop so that the loop times the ioctls.
 */
static void make_names(unsigned int n, const char *what)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		snprintf(names[i], sizeof(names[i]), "n%u-%s%u", n, what, i);
}

/* The content of memfd @i of the COUNT (@n) memfds: one word at offset 0. */
static uint64_t scale_word(unsigned int n, unsigned int i)
{
	return (uint64_t)n << 32 | i;
}

static void scale_stage1(int luo, unsigned int n)
{
	char label[16], files[LIVEUPDATE_SESSION_NAME_LENGTH];
	unsigned long long t0;
	unsigned int i;
	int sess, bad;

	snprintf(label, sizeof(label), "n%u", n);

	/* create_sessions: kept open across the kexec, each its own fd. */
	make_names(n, "");
	bad = 0;
	t0 = now_ns();
	luo_bench_mark_begin();
	for (i = 0; i < n; i++)
		bad += luo_create_session(luo, names[i]) < 0;
	luo_bench_mark_end();
	report("create_sessions", label, now_ns() - t0, "ns");
	ksft_test_result(!bad, "%s: create %u sessions (%d failed)\n", label, n, bad);

	/* close_sessions: n other sessions, made for the purpose. */
	make_names(n, "close-");
	bad = 0;
	for (i = 0; i < n; i++) {
		fds[i] = luo_create_session(luo, names[i]);
		bad += fds[i] < 0;
	}
	t0 = now_ns();
	luo_bench_mark_begin();
	for (i = 0; i < n; i++)
		bad += fds[i] >= 0 && close(fds[i]) != 0;
	luo_bench_mark_end();
	report("close_sessions", label, now_ns() - t0, "ns");
	ksft_test_result(!bad, "%s: create and close %u sessions (%d failed)\n", label, n, bad);

	/* preserve_memfds: n one-page memfds, each with its own word, in one session. */
	snprintf(files, sizeof(files), "n%u-files", n);
	sess = luo_create_session(luo, files);
	if (sess < 0)
		ksft_exit_fail_msg("create session %s: %s\n", files, strerror(-sess));
	for (i = 0; i < n; i++) {
		uint64_t v = scale_word(n, i);

		fds[i] = memfd_create("n", 0);
		if (fds[i] < 0 || pwrite(fds[i], &v, sizeof(v), 0) != sizeof(v))
			ksft_exit_fail_msg("%s: memfd %u: %s\n", label, i, strerror(errno));
	}
	bad = 0;
	t0 = now_ns();
	luo_bench_mark_begin();
	for (i = 0; i < n; i++)
		bad += luo_session_preserve_fd(sess, fds[i], i + 1) != 0;
	luo_bench_mark_end();
	report("preserve_memfds", label, now_ns() - t0, "ns");
	ksft_test_result(!bad, "%s: preserve %u memfds into %s (%d failed)\n", label, n,
			 files, bad);
	for (i = 0; i < n; i++)
		close(fds[i]);
}

static void scale_stage2(int luo, unsigned int n)
{
	char label[16], files[LIVEUPDATE_SESSION_NAME_LENGTH];
	char got[LIVEUPDATE_SESSION_NAME_LENGTH];
	unsigned long long t0;
	unsigned int i;
	int sess, bad, ret;
	uint64_t v;

	snprintf(label, sizeof(label), "n%u", n);

	/* retrieve_sessions: each fd then checked by the session's name. */
	make_names(n, "");
	t0 = now_ns();
	luo_bench_mark_begin();
	for (i = 0; i < n; i++)
		fds[i] = luo_retrieve_session(luo, names[i]);
	luo_bench_mark_end();
	report("retrieve_sessions", label, now_ns() - t0, "ns");
	bad = 0;
	for (i = 0; i < n; i++)
		bad += fds[i] < 0 || luo_get_session_name(fds[i], got, sizeof(got)) ||
		       strcmp(got, names[i]);
	ksft_test_result(!bad, "%s: retrieve %u sessions, each by its name (%d failed)\n",
			 label, n, bad);
	/* They stay open (and not finished) to the end of the program. */

	/* retrieve_memfds: each fd then checked (one page, its own word). */
	snprintf(files, sizeof(files), "n%u-files", n);
	sess = luo_retrieve_session(luo, files);
	if (sess < 0)
		ksft_exit_fail_msg("retrieve session %s: %s\n", files, strerror(-sess));
	t0 = now_ns();
	luo_bench_mark_begin();
	for (i = 0; i < n; i++)
		fds[i] = luo_session_retrieve_fd(sess, i + 1);
	luo_bench_mark_end();
	report("retrieve_memfds", label, now_ns() - t0, "ns");
	bad = 0;
	for (i = 0; i < n; i++) {
		struct stat st;

		v = 0;
		bad += fds[i] < 0 || fstat(fds[i], &st) || st.st_size != sizeof(v) ||
		       pread(fds[i], &v, sizeof(v), 0) != sizeof(v) || v != scale_word(n, i);
	}
	ksft_test_result(!bad, "%s: retrieve %u memfds, each one's size and word (%d failed)\n",
			 label, n, bad);

	/* finish_memfds: the session's n files, in one SESSION_FINISH. */
	t0 = now_ns();
	luo_bench_mark_begin();
	ret = luo_session_finish(sess);
	luo_bench_mark_end();
	report("finish_memfds", label, now_ns() - t0, "ns");
	ksft_test_result(ret == 0, "%s: finish session %s (%u memfds)\n", label, files, n);
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int main(int argc, char **argv)
{
	unsigned int i, nmax = 0, ntotal = 0;
	int stage = 0, nstages = 0, luo, opt, ret;

	while ((opt = getopt(argc, argv, "s:n:S:w:N:")) != -1) {
		if (opt == 's')
			stage = atoi(optarg);
		else if (opt == 'n')
			nstages = atoi(optarg);
		else if (opt == 'S')
			session = optarg;
		else if (opt == 'w')
			parse_work(optarg);
		else if (opt == 'N')
			parse_count(optarg);
	}
	if (stage < 1 || stage > 2 || nstages != 2 || (!nworks && !ncounts)) {
		fprintf(stderr, "usage: %s -s 1|2 -n 2 [-S SESSION] "
			"[-w NAME:SIZE:WRITTEN[:thp]]... [-N COUNT]...\n", argv[0]);
		return 2;
	}
	ksft_print_header();
	/* Stage 1: fill and preserve each memfd; stage 2: session, each memfd, finish. */
	ksft_set_plan((stage == 1 ? 2 * nworks : nworks ? nworks + 2 : 0) + 3 * ncounts);

	for (i = 0; i < ncounts; i++) {
		nmax = counts[i] > nmax ? counts[i] : nmax;
		ntotal += counts[i];
	}
	if (ncounts) {
		/*
		 * Stage 1 holds every kept session and, at a time, COUNT more
		 * fds (sessions to close, memfds to preserve); stage 2 every
		 * retrieved session and COUNT memfds.
		 */
		ret = luo_ensure_nofile_limit(ntotal + 2 * nmax);
		if (ret)
			ksft_exit_fail_msg("RLIMIT_NOFILE %u: %s\n", ntotal + 2 * nmax,
					   strerror(-ret));
		fds = calloc(nmax, sizeof(*fds));
		names = calloc(nmax, sizeof(*names));
		if (!fds || !names)
			ksft_exit_fail_msg("out of memory\n");
	}
	luo = luo_open_device();
	if (luo < 0)
		ksft_exit_fail_msg("open %s: %s\n", LUO_DEVICE, strerror(errno));

	if (stage == 1) {
		if (nworks)
			works_stage1(luo);
		for (i = 0; i < ncounts; i++)
			scale_stage1(luo, counts[i]);
		close(luo);
		if (ksft_get_fail_cnt())
			ksft_exit_fail();
		ksft_print_cnts();
		daemonize_and_wait();
	}

	if (nworks)
		works_stage2(luo);
	for (i = 0; i < ncounts; i++)
		scale_stage2(luo, counts[i]);
	ksft_finished();
}
