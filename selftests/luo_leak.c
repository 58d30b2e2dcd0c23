// SPDX-License-Identifier: GPL-2.0
/*
 * luo_leak: what preserving, unpreserving, retrieving and finishing memfds
 * leaves behind: pins, shmem pages, large folios, memory cgroup charges and
 * free pages must all come back to where they were.
 *
 *   luo_leak -s STAGE -n 2 [-k c|rust]
 *
 * The memfds: 4 MiB of 4 KiB pages, 8 MiB of 2 MiB folios (shmem_enabled
 * "advise", filled through a MADV_HUGEPAGE mapping) and 64 MiB sparse with 1
 * MiB written (every 64th page).  The work is done by a worker process in a
 * child cgroup W of a memory cgroup P (cgroup2 on /sys/fs/cgroup); this
 * process stays in the root cgroup and measures.
 *
 * Stage 1:
 *   noise       a worker that does nothing: every counter must come back
 *               (this measures the method itself);
 *   unpreserve  a worker creates the three memfds, preserves them in a
 *               session and closes the session before any reboot: while
 *               preserved, each folio holds a pin; after the close, with
 *               the memfds still open, no pin is left; after the memfds are
 *               closed, everything is back;
 *   then two sessions are preserved for stage 2: leak-retrieve (the three
 *   memfds) and leak-discard (4 MiB and 8 MiB of 2 MiB folios), held open
 *   across the kexec by a child process.
 * Stage 2:
 *   noise       as at stage 1;
 *   retrieve    a worker retrieves leak-retrieve and its memfds: while it
 *               holds them, their pages are charged to W (memory.stat shmem
 *               and shmem_thp of W: the files' blocks and the 8 MiB) and
 *               counted in Shmem and ShmemHugePages, the data is intact;
 *               after FINISH and close, everything is back, and the restored
 *               pages are free (MemTotal grew, as KHO adds restored pages to
 *               the managed count, and free pages grew by as much);
 *   discard     a worker retrieves leak-discard and finishes it without
 *               retrieving its memfds: their folios are freed (MemTotal and
 *               free pages grow by the same, at least their 12 MiB) and
 *               nothing is charged or counted as shmem.
 *
 * The counters, each compared before and after:
 *   pins        nr_foll_pin_acquired - nr_foll_pin_released (/proc/vmstat)
 *   shmem       nr_shmem (/proc/vmstat), Shmem and ShmemHugePages (meminfo)
 *   memcg       P's memory.current - memory.stat "kernel": the pages charged
 *               to P and W other than kernel memory (slab objects the worker
 *               left in caches, reparented to P, are kernel memory); and P's
 *               memory.stat shmem and shmem_thp.  A memcg charge is dropped
 *               only when the folio is freed, so a leaked folio reference
 *               stays in memory.current.
 *   free        free pages in /proc/zoneinfo, buddy plus per-CPU lists.
 *
 * Before each measurement (settle()): the per-CPU LRU caches are drained
 * (they hold a reference to new folios: POSIX_FADV_DONTNEED on a memfd with
 * a dirty page makes the kernel call lru_add_drain_all()), so are the
 * per-CPU memcg charge stocks (drain_memcg()), and 3 s pass, so that the per-CPU
 * vmstat differences are folded (every second) and memcg statistics flushed
 * (every 2 s).  Tolerances (measured noise and why) are at TOL_*.
 *
 * Output: KTAP (kselftest.h), "stage S/N: ..." tests, "# " lines with the
 * counters.  -k names the kernel's LUO implementation, for the report only.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <libliveupdate.h>
#include "luo_proc.h"

#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define KIB(x)		((long long)(x) / 1024)
#define CG		"/sys/fs/cgroup"
#define P		CG "/leak"
#define THP_CTL		"/sys/kernel/mm/transparent_hugepage/shmem_enabled"

/*
 * Tolerances, in KiB.  Measured under QEMU TCG on both kernels (2026-12-01,
 * the diagnostics of each test): pins, nr_shmem, Shmem, ShmemHugePages and
 * P's memory.current - kernel came back exactly in every case (0 KiB), so
 * a leaked pin (1) or a leaked 4 KiB folio (4 KiB of charge) fails.  Free
 * pages came back within 28 KiB when the worker only opened, retrieved and
 * finished a session (the idle worker: -20 to -28 KiB; discard: -28 KiB
 * on both), and within 212 KiB when it also created or read memfds
 * (unpreserve: -192 rust, -212 c; retrieve: -156 rust, -172 c: page
 * tables and slab the worker left): TOL_FREE_KIB, 512, is under the 2048
 * KiB a leaked 2 MiB folio costs; TOL_DISCARD_KIB, 64, is under 16 leaked
 * 4 KiB folios for the discard path, whose folios are never charged, so
 * free pages are the only counter that sees them.
 */
#define TOL_MEMCG_KIB	0
#define TOL_FREE_KIB	512
#define TOL_DISCARD_KIB	64

struct mspec {
	uint64_t token;
	size_t size;
	int thp;		/* 2 MiB folios */
	unsigned int sparse;	/* if not 0, only pages p with p % sparse == 0 written */
	const char *what;
};

static const struct mspec mspecs[] = {
	{ 1, 4UL << 20, 0, 0, "4 MiB of 4 KiB pages" },
	{ 2, 8UL << 20, 1, 0, "8 MiB of 2 MiB folios" },
	{ 3, 64UL << 20, 0, 64, "64 MiB sparse, 1 MiB written" },
};
#define NM		ARRAY_SIZE(mspecs)
#define NDISCARD	2	/* leak-discard holds the first two */
#define THP_BYTES	(8UL << 20)
/* The folios of the three memfds without their holes. */
#define MIN_FOLIOS	(1024 + 4 + 256)

struct snap {
	long long pin_acq, pin_rel, nr_shmem;
	long long shmem, thp, memtotal;	/* KiB */
	long long free_pages;		/* buddy + per-CPU lists, pages */
	long long cur, kernel, cg_shmem, cg_thp, cg_anon;	/* P, bytes */
};

/* What a worker reports. */
struct shared {
	char err[256];
	struct snap during, mid;
	long long blocks;	/* bytes of the retrieved memfds (st_blocks) */
};

static struct shared *sh;
static int stage, nstages, in_worker, drain_fd = -1, nworker;
static const char *kernel_impl = "?";
static char test[160];

static void begin(const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(test, sizeof(test), "stage %d/%d: ", stage, nstages);

	va_start(ap, fmt);
	vsnprintf(test + n, sizeof(test) - n, fmt, ap);
	va_end(ap);
}

/*
 * A step failed: in a worker, the reason goes to the parent; in the main
 * process the test in progress fails and the stage ends.
 */
static void fail(const char *fmt, ...)
{
	char why[200];
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (in_worker) {
		snprintf(sh->err, sizeof(sh->err), "%s (errno %d: %s)", why, e, strerror(e));
		_exit(1);
	}
	ksft_test_result_code(KSFT_FAIL, test, "%s (errno %d: %s)", why, e, strerror(e));
	ksft_exit_fail();
}

static int check(int ret, const char *what)
{
	if (ret < 0) {
		errno = -ret;
		fail("%s", what);
	}
	return ret;
}

/* One result line for the test "stage S/N: <name>". */
static void expect(int cond, const char *fmt, ...)
{
	char name[200];
	va_list ap;
	int n = snprintf(name, sizeof(name), "stage %d/%d: ", stage, nstages);

	va_start(ap, fmt);
	vsnprintf(name + n, sizeof(name) - n, fmt, ap);
	va_end(ap);
	ksft_test_result(cond, "%s\n", name);
}

static void write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		fail("write '%s' to %s", val, path);
	close(fd);
}

static long long read_ll(const char *path)
{
	long long v;
	FILE *f = fopen(path, "r");

	if (!f || fscanf(f, "%lld", &v) != 1)
		fail("read %s", path);
	fclose(f);
	return v;
}

/* The value after "key" in a file of "key value" lines (vmstat, memory.stat). */
static long long keyed(const char *path, const char *key)
{
	long long val = luo_keyed(path, key);

	if (val < 0)
		fail("no %s in %s", key, path);
	return val;
}

/* A /proc/meminfo field, in KiB. */
static long long meminfo(const char *key)
{
	long long val = luo_meminfo_kib(key);

	if (val < 0)
		fail("no %s in /proc/meminfo", key);
	return val;
}

/* Free pages of all zones: "pages free" plus each CPU's pageset "count". */
static long long free_pages(void)
{
	char line[256];
	long long v, sum = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		fail("open /proc/zoneinfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " pages free %lld", &v) == 1 ||
		    sscanf(line, " count: %lld", &v) == 1)
			sum += v;
	fclose(f);
	return sum;
}

static void take(struct snap *s)
{
	s->pin_acq = keyed("/proc/vmstat", "nr_foll_pin_acquired");
	s->pin_rel = keyed("/proc/vmstat", "nr_foll_pin_released");
	s->nr_shmem = keyed("/proc/vmstat", "nr_shmem");
	s->shmem = meminfo("Shmem");
	s->thp = meminfo("ShmemHugePages");
	s->memtotal = meminfo("MemTotal");
	s->free_pages = free_pages();
	s->cur = read_ll(P "/memory.current");
	s->kernel = keyed(P "/memory.stat", "kernel");
	s->cg_shmem = keyed(P "/memory.stat", "shmem");
	s->cg_thp = keyed(P "/memory.stat", "shmem_thp");
	s->cg_anon = keyed(P "/memory.stat", "anon");
}

/*
 * P's charges without the per-CPU charge stocks (pages charged ahead, up to
 * 64 per CPU and cgroup; removing a cgroup does not reliably drain its own):
 * memory.high set a page under memory.current makes the kernel drain the
 * stocks of P and its descendants first, and reclaim only if that was not
 * enough (nothing to reclaim here but kernel caches: no swap, no file
 * pages); then memory.high is "max" again.
 */
static void drain_memcg(void)
{
	long long cur = read_ll(P "/memory.current");
	char val[32];

	if (cur < (long long)PAGE)
		return;
	snprintf(val, sizeof(val), "%lld", cur - (long long)PAGE);
	write_str(P "/memory.high", val);
	write_str(P "/memory.high", "max");
}

/*
 * Per-CPU LRU caches and memcg charge stocks drained, then time for vmstat
 * folding and memcg statistics flushing.
 */
static void settle(void)
{
	if (posix_fadvise(drain_fd, 0, 0, POSIX_FADV_DONTNEED))
		fail("fadvise");
	sleep(1);	/* a removed W goes offline */
	drain_memcg();
	sleep(3);
}

static long long pins(const struct snap *s)
{
	return s->pin_acq - s->pin_rel;
}

static long long memcg_user(const struct snap *s)
{
	return s->cur - s->kernel;
}

/* The differences b - a, as a diagnostic line. */
static void show(const char *what, const struct snap *a, const struct snap *b)
{
	ksft_print_msg("%s: pins %+lld, nr_shmem %+lld, Shmem %+lld KiB, ShmemHugePages %+lld KiB, MemTotal %+lld KiB, free %+lld KiB; P: memory.current %+lld KiB, kernel %+lld KiB, current-kernel %+lld KiB, shmem %+lld KiB, shmem_thp %+lld KiB, anon %+lld KiB\n",
		       what, pins(b) - pins(a), b->nr_shmem - a->nr_shmem, b->shmem - a->shmem,
		       b->thp - a->thp, b->memtotal - a->memtotal,
		       (b->free_pages - a->free_pages) * 4, KIB(b->cur - a->cur),
		       KIB(b->kernel - a->kernel), KIB(memcg_user(b) - memcg_user(a)),
		       KIB(b->cg_shmem - a->cg_shmem), KIB(b->cg_thp - a->cg_thp),
		       KIB(b->cg_anon - a->cg_anon));
}

static long long labs_ll(long long x)
{
	return x < 0 ? -x : x;
}

/* Every counter of @b equal to @a's (free pages: @freed_kib more, within @tol KiB). */
static void back(const char *what, const struct snap *a, const struct snap *b, long long freed_kib,
		 long long tol)
{
	long long dfree = (b->free_pages - a->free_pages) * 4;

	show(what, a, b);
	expect(pins(b) == pins(a), "%s: no pin left (%+lld)", what, pins(b) - pins(a));
	expect(b->nr_shmem == a->nr_shmem && b->shmem == a->shmem,
	       "%s: nr_shmem and Shmem back (%+lld pages, %+lld KiB)", what,
	       b->nr_shmem - a->nr_shmem, b->shmem - a->shmem);
	expect(b->thp == a->thp, "%s: ShmemHugePages back (%+lld KiB)", what, b->thp - a->thp);
	expect(labs_ll(KIB(memcg_user(b) - memcg_user(a))) <= TOL_MEMCG_KIB &&
	       b->cg_shmem == a->cg_shmem && b->cg_thp == a->cg_thp,
	       "%s: memcg charges back (memory.current-kernel %+lld KiB, shmem %+lld KiB, shmem_thp %+lld KiB)",
	       what, KIB(memcg_user(b) - memcg_user(a)), KIB(b->cg_shmem - a->cg_shmem),
	       KIB(b->cg_thp - a->cg_thp));
	expect(labs_ll(dfree - freed_kib) <= tol,
	       "%s: free pages %+lld KiB, expected %+lld KiB (+-%lld)", what, dfree, freed_kib, tol);
}

/* The data of @m at offset @off, a page: zero if never written. */
static void pattern(const struct mspec *m, size_t off, uint8_t *buf)
{
	size_t j;

	if (m->sparse && off / PAGE % m->sparse) {
		memset(buf, 0, PAGE);
		return;
	}
	for (j = 0; j < PAGE; j += 8) {
		uint64_t x = ((off + j) / 8 + 1) * 0x9E3779B97F4A7C15ULL ^ m->token * 0xBF58476D1CE4E5B9ULL;

		x ^= x >> 29;
		memcpy(buf + j, &x, 8);
	}
}

static int make_memfd(const struct mspec *m)
{
	static uint8_t buf[PAGE];
	int fd = memfd_create("luo-leak", 0);
	size_t off;

	if (fd < 0 || ftruncate(fd, m->size))
		fail("memfd_create");
	if (m->thp) {
		long long before = meminfo("ShmemHugePages");
		uint8_t *area, *p;
		uintptr_t a;

		area = mmap(NULL, m->size + HPAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (area == MAP_FAILED)
			fail("mmap");
		a = ((uintptr_t)area + HPAGE - 1) & ~(HPAGE - 1);
		p = mmap((void *)a, m->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
		if (p == MAP_FAILED || madvise(p, m->size, MADV_HUGEPAGE))
			fail("mmap, madvise(MADV_HUGEPAGE)");
		for (off = 0; off < m->size; off += PAGE)
			pattern(m, off, p + off);
		if (meminfo("ShmemHugePages") - before < KIB(m->size))
			fail("%s: ShmemHugePages grew by %lld KiB only", m->what,
			     meminfo("ShmemHugePages") - before);
		munmap(area, m->size + HPAGE);
		return fd;
	}
	for (off = 0; off < m->size; off += PAGE) {
		if (m->sparse && off / PAGE % m->sparse)
			continue;
		pattern(m, off, buf);
		if (pwrite(fd, buf, PAGE, off) != PAGE)
			fail("pwrite");
	}
	return fd;
}

static void verify(int fd, const struct mspec *m)
{
	static uint8_t buf[PAGE], want[PAGE];
	struct stat st;
	size_t off;

	if (fstat(fd, &st) || (size_t)st.st_size != m->size)
		fail("%s: size", m->what);
	for (off = 0; off < m->size; off += PAGE) {
		pattern(m, off, want);
		if (pread(fd, buf, PAGE, off) != PAGE || memcmp(buf, want, PAGE))
			fail("%s: page at %zu differs", m->what, off);
	}
}

/*
 * Runs @fn in a worker process inside a new child cgroup of P, which is
 * removed once the worker is gone.  Returns 0 if the worker succeeded.
 */
static int run_worker(void (*fn)(void))
{
	char cg[64], pid[32];
	int status, tries;
	pid_t c;

	snprintf(cg, sizeof(cg), P "/w%d", ++nworker);
	if (mkdir(cg, 0755))
		fail("mkdir %s", cg);
	memset(sh, 0, sizeof(*sh));
	fflush(stdout);
	c = fork();
	if (c < 0)
		fail("fork");
	if (!c) {
		in_worker = 1;
		snprintf(pid, sizeof(pid), "%d", getpid());
		strcat(cg, "/cgroup.procs");
		write_str(cg, pid);
		fn();
		_exit(0);
	}
	if (waitpid(c, &status, 0) != c)
		fail("waitpid");
	for (tries = 0; rmdir(cg); tries++)	/* EBUSY until the exit is complete */
		if (errno != EBUSY || tries == 100)
			fail("rmdir %s", cg);
		else
			usleep(10000);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("worker: %s (status %#x)\n", sh->err[0] ? sh->err : "failed", status);
		return -1;
	}
	return 0;
}

/* Memory cgroups, THP for shmem on request, the memfd that drains LRU caches. */
static void setup(void)
{
	static const char page[PAGE] = "dirty";

	begin("set up the memory cgroup, shmem THP on MADV_HUGEPAGE");
	mkdir(CG, 0755);
	if (mount("none", CG, "cgroup2", 0, NULL))
		fail("mount cgroup2 on %s", CG);
	write_str(CG "/cgroup.subtree_control", "+memory");
	if (mkdir(P, 0755))
		fail("mkdir %s", P);
	write_str(P "/cgroup.subtree_control", "+memory");
	write_str(THP_CTL, "advise");
	drain_fd = memfd_create("luo-leak-drain", 0);
	if (drain_fd < 0 || pwrite(drain_fd, page, PAGE, 0) != PAGE)
		fail("the drain memfd");
	/* Shared anonymous memory is shmem: its page is counted from now on. */
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		fail("mmap");
	memset(sh, 0, sizeof(*sh));
	ksft_test_result_pass("%s\n", test);
}

static void idle_worker(void)
{
}

/* A worker that does nothing: every counter must come back. */
static void noise(void)
{
	struct snap a, b;

	begin("noise");
	settle();
	take(&a);
	if (run_worker(idle_worker))
		fail("idle worker");
	settle();
	take(&b);
	back("idle worker (the method's noise)", &a, &b, 0, TOL_DISCARD_KIB);
}

static void unpreserve_worker(void)
{
	int luo, sess, fds[NM];
	size_t i;

	luo = check(luo_open_device(), "open " LUO_DEVICE);
	sess = check(luo_create_session(luo, "leak-unpreserve"), "CREATE_SESSION");
	for (i = 0; i < NM; i++) {
		fds[i] = make_memfd(&mspecs[i]);
		check(luo_session_preserve_fd(sess, fds[i], mspecs[i].token), "PRESERVE_FD");
	}
	settle();
	take(&sh->during);
	close(sess);	/* unpreserves the memfds */
	settle();
	take(&sh->mid);
	for (i = 0; i < NM; i++)
		close(fds[i]);
	close(luo);
}

/* (i) Preserve into a session, close the session before any reboot. */
static void unpreserve(void)
{
	struct snap a, b;

	begin("unpreserve");
	settle();
	take(&a);
	if (run_worker(unpreserve_worker))
		fail("worker");
	settle();
	take(&b);
	show("while preserved", &a, &sh->during);
	expect(pins(&sh->during) - pins(&a) >= MIN_FOLIOS,
	       "unpreserve: each folio pinned while preserved (%+lld pins, at least %d)",
	       pins(&sh->during) - pins(&a), MIN_FOLIOS);
	expect(sh->during.thp - a.thp >= KIB(THP_BYTES) &&
	       sh->during.cg_thp - a.cg_thp == (long long)THP_BYTES,
	       "unpreserve: the 2 MiB folios in ShmemHugePages (%+lld KiB) and P's shmem_thp (%+lld KiB)",
	       sh->during.thp - a.thp, KIB(sh->during.cg_thp - a.cg_thp));
	show("session closed, memfds open", &a, &sh->mid);
	expect(pins(&sh->mid) == pins(&a),
	       "unpreserve: no pin left once the session is closed (%+lld)",
	       pins(&sh->mid) - pins(&a));
	back("unpreserve: memfds closed", &a, &b, 0, TOL_FREE_KIB);
}

/* Stage 1: the sessions stage 2 retrieves and discards; a child holds them. */
static void prepare_stage2(void)
{
	int luo, sess[2];
	size_t i;

	begin("preserve leak-retrieve and leak-discard for stage 2");
	luo = check(luo_open_device(), "open " LUO_DEVICE);
	sess[0] = check(luo_create_session(luo, "leak-retrieve"), "CREATE_SESSION");
	sess[1] = check(luo_create_session(luo, "leak-discard"), "CREATE_SESSION");
	for (i = 0; i < NM; i++) {
		int fd = make_memfd(&mspecs[i]);

		check(luo_session_preserve_fd(sess[0], fd, mspecs[i].token), "PRESERVE_FD");
		close(fd);
		if (i >= NDISCARD)
			continue;
		fd = make_memfd(&mspecs[i]);
		check(luo_session_preserve_fd(sess[1], fd, mspecs[i].token), "PRESERVE_FD");
		close(fd);
	}
	close(luo);
	ksft_test_result_pass("%s\n", test);
	if (ksft_get_fail_cnt())
		ksft_exit_fail();
	ksft_print_cnts();
	daemonize_and_wait();
}

static void retrieve_worker(void)
{
	int luo, sess, fds[NM];
	struct stat st;
	size_t i;

	luo = check(luo_open_device(), "open " LUO_DEVICE);
	sess = check(luo_retrieve_session(luo, "leak-retrieve"), "RETRIEVE_SESSION");
	for (i = 0; i < NM; i++) {
		fds[i] = check(luo_session_retrieve_fd(sess, mspecs[i].token), "RETRIEVE_FD");
		if (fstat(fds[i], &st))
			fail("fstat");
		sh->blocks += (long long)st.st_blocks * 512;
	}
	settle();
	take(&sh->during);
	for (i = 0; i < NM; i++)
		verify(fds[i], &mspecs[i]);
	check(luo_session_finish(sess), "SESSION_FINISH");
	for (i = 0; i < NM; i++)
		close(fds[i]);
	close(sess);
	close(luo);
}

/* (ii) Retrieve, FINISH, close. */
static void retrieve(struct snap *after)
{
	const struct snap *d = &sh->during;
	struct snap a;
	long long blocks;

	begin("retrieve");
	settle();
	take(&a);
	if (run_worker(retrieve_worker))
		fail("worker");
	settle();
	take(after);
	blocks = sh->blocks;
	show("retrieved", &a, d);
	ksft_print_msg("retrieved: the memfds hold %lld KiB (st_blocks)\n", KIB(blocks));
	expect(blocks >= (long long)(4 + 8 + 1) << 20,
	       "retrieve: the memfds hold their data's blocks (%lld KiB)", KIB(blocks));
	expect(d->cg_shmem - a.cg_shmem == blocks && d->cg_thp - a.cg_thp == (long long)THP_BYTES &&
	       memcg_user(d) - memcg_user(&a) >= blocks,
	       "retrieve: charged to the retrieving cgroup (shmem %+lld KiB, shmem_thp %+lld KiB, memory.current-kernel %+lld KiB)",
	       KIB(d->cg_shmem - a.cg_shmem), KIB(d->cg_thp - a.cg_thp),
	       KIB(memcg_user(d) - memcg_user(&a)));
	expect(d->shmem - a.shmem == KIB(blocks) && d->nr_shmem - a.nr_shmem == blocks / 4096 &&
	       d->thp - a.thp == KIB(THP_BYTES),
	       "retrieve: counted in Shmem (%+lld KiB) and ShmemHugePages (%+lld KiB)",
	       d->shmem - a.shmem, d->thp - a.thp);
	expect(pins(d) == pins(&a), "retrieve: no pin taken (%+lld)", pins(d) - pins(&a));
	expect(d->memtotal - a.memtotal >= KIB(blocks),
	       "retrieve: MemTotal grew by the restored pages (%+lld KiB)", d->memtotal - a.memtotal);
	/* The restored pages, now freed, went to the free pages. */
	back("retrieve: finished and closed", &a, after, after->memtotal - a.memtotal, TOL_FREE_KIB);
}

static void discard_worker(void)
{
	int luo, sess;

	luo = check(luo_open_device(), "open " LUO_DEVICE);
	sess = check(luo_retrieve_session(luo, "leak-discard"), "RETRIEVE_SESSION");
	check(luo_session_finish(sess), "SESSION_FINISH");
	close(sess);
	close(luo);
}

/* (iii) FINISH of a session whose memfds were never retrieved. */
static void discard(const struct snap *a)
{
	long long want = KIB(mspecs[0].size + mspecs[1].size);
	struct snap b;

	begin("discard");
	if (run_worker(discard_worker))
		fail("worker");
	settle();
	take(&b);
	expect(b.memtotal - a->memtotal >= want && b.memtotal - a->memtotal <= want + 1024,
	       "discard: MemTotal grew by the never-retrieved folios (%+lld KiB, expected %lld to %lld)",
	       b.memtotal - a->memtotal, want, want + 1024);
	back("discard: finished without retrieving", a, &b, b.memtotal - a->memtotal,
	     TOL_DISCARD_KIB);
}

int main(int argc, char **argv)
{
	struct snap after;
	int opt;

	while ((opt = getopt(argc, argv, "s:n:k:")) != -1) {
		if (opt == 's')
			stage = atoi(optarg);
		else if (opt == 'n')
			nstages = atoi(optarg);
		else if (opt == 'k')
			kernel_impl = optarg;
	}
	if (nstages != 2 || stage < 1 || stage > 2) {
		fprintf(stderr, "usage: %s -s 1|2 -n 2 [-k c|rust]\n", argv[0]);
		return 2;
	}
	ksft_print_header();
	/* setup 1, noise 5, then stage 1: unpreserve 3 + 5, prepare 1; stage 2: 5 + 5, 1 + 5 */
	ksft_set_plan(stage == 1 ? 1 + 5 + 8 + 1 : 1 + 5 + 10 + 6);
	ksft_print_msg("stage %d/%d on the %s kernel\n", stage, nstages, kernel_impl);
	setup();
	noise();
	if (stage == 1) {
		unpreserve();
		prepare_stage2();
	}
	retrieve(&after);
	discard(&after);
	ksft_finished();
	return 0;
}
