// SPDX-License-Identifier: GPL-2.0
/*
 * luo_chain: memfds of known contents carried through a chain of live
 * updates (kernel A -> B -> C ...), every byte checked at every stage.
 *
 *   luo_chain -s STAGE -n NSTAGES [-b] [-m sparse|full]
 *
 * -b adds the big memfds (256 MiB, and 1 GiB with 4 MiB written); -m says
 * what preserving that sparse 1 GiB memfd must cost at stage 1 (Shmem in
 * /proc/meminfo and the file's blocks): about the 4 MiB written (sparse, the
 * Rust handler) or the whole size (full, the C one, which fills holes).
 *
 * Two memfds need more than writes at stage 1: one made of PMD-sized folios
 * (shmem_enabled set to "advise" for the time it is filled through a mapping
 * with MADV_HUGEPAGE; ShmemHugePages must grow by its size), and one with 1
 * MiB swapped out when it is preserved (swap on /dev/ram0, set up here;
 * MADV_PAGEOUT, and the mapping's Swap in /proc/self/smaps must show it),
 * which also has a hole (so that a handler that skips holes cannot take
 * the path of a file without any).
 * Later stages check that RETRIEVE_FD brings the large folios back as large
 * folios: ShmemHugePages grows by the file's size again.
 *
 * Stage 1 creates the sessions and memfds below and preserves them.  Every
 * later stage retrieves each session and memfd and checks size, every byte,
 * file position and seals.  A middle stage then finishes the incoming
 * session, creates a new outgoing session of the same name (reusing an
 * incoming name is allowed) and preserves the retrieved memfds again; the
 * last stage finishes everything.  Before a kexec the session fds are held
 * open by a child process (daemonize_and_wait()), as closing an outgoing
 * session unpreserves it.
 *
 * Output: KTAP (kselftest.h), one test per session and file and step, named
 * "stage S/N: ...".  The first failure is reported as "not ok" for the test
 * in progress, with the reason, and ends the stage with exit status 1.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <libliveupdate.h>
#include "luo_proc.h"

#define PAGE 4096UL

static const char *const session_names[] = { "chain-a", "chain-b", "chain-c" };
#define NSESSIONS ARRAY_SIZE(session_names)

struct spec {
	unsigned int session;
	uint64_t token;
	size_t size;
	off_t pos;
	unsigned int seals;	/* F_SEAL_SEAL alone: made without MFD_ALLOW_SEALING */
	unsigned int sparse;	/* if not 0, only pages p with p % sparse == 10 are written */
	unsigned int late;	/* if not 0, a page (a hole) written after PRESERVE_FD */
	int big;		/* only with -b */
	const char *what;
	int thp;		/* filled through a MADV_HUGEPAGE mapping: 2 MiB folios */
	unsigned int swapout;	/* if not 0, this many pages from page SWAP_FIRST swapped out */
	unsigned int hole;	/* if not 0, pages [hole, hole + 16) are never written */
};

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC	0x0020
#endif
#define ALL_SEALS	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | \
			 F_SEAL_FUTURE_WRITE | F_SEAL_EXEC)

static const struct spec specs[] = {
	{ 0, 0x100, (1UL << 20) + 123, 0, F_SEAL_SEAL, 0, 0, 0,
	  "1 MiB + 123 bytes, no MFD_ALLOW_SEALING" },
	{ 0, 0x101, 0, 0, 0, 0, 0, 0, "empty" },
	{ 0, 0x102, 3 * PAGE, PAGE + 1, 0, 0, 0, 0, "3 pages, position 4097" },
	{ 0, 0x103, 1, 1, 0, 0, 0, 0, "1 byte, position 1" },
	{ 1, 0x200, 64 * 1024, 0,
	  F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE, 0, 0, 0,
	  "64 KiB sealed (seal, shrink, grow, write)" },
	{ 1, 0x201, 256 * 1024, 100, 0, 30, 50, 0,
	  "256 KiB sparse, position 100, page 50 written after PRESERVE_FD" },
	{ 1, 0x202, 5 * PAGE + 7, 3, ALL_SEALS, 0, 0, 0, "5 pages + 7 bytes, every seal" },
	{ 1, 0x203, 8UL << 20, 3 * PAGE, 0, 0, 0, 0,
	  "8 MiB of 2 MiB folios, position 12288", .thp = 1 },
	{ 1, 0x204, (2UL << 20) + 3 * PAGE + 11, 77, 0, 0, 0, 0,
	  "2 MiB + 3 pages + 11 bytes, 1 MiB swapped out, a hole, position 77",
	  .swapout = 256, .hole = 400 },
	{ 2, 0x300, 4UL << 20, 12345, 0, 0, 0, 0, "4 MiB, position 12345" },
	{ 2, 0x301, 256UL << 20, 0, 0, 0, 0, 1, "256 MiB" },
	{ 2, 0x302, 1UL << 30, 1UL << 29, 0, 256, 0, 1,
	  "1 GiB sparse (4 MiB written), position 512 MiB" },
};
#define SPARSE_BIG	0x302	/* the token of the sparse 1 GiB memfd */
#define SWAP_FIRST	16	/* the first page a swapout memfd swaps out */
#define HPAGE		(2UL << 20)
#define THP_CTL		"/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define SWAP_DEV	"/dev/ram0"
#define NFILES ARRAY_SIZE(specs)

static int stage, nstages;
static char test[160];	/* the test in progress */

/* Start the test "stage S/N: <fmt>". */
static void begin(const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(test, sizeof(test), "stage %d/%d: ", stage, nstages);

	va_start(ap, fmt);
	vsnprintf(test + n, sizeof(test) - n, fmt, ap);
	va_end(ap);
}

static void pass(void)
{
	ksft_test_result_code(KSFT_PASS, test, NULL);
}

/* The test in progress failed: report why, then end the stage. */
static void fail(const char *fmt, ...)
{
	char why[256];
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ksft_test_result_code(KSFT_FAIL, test, "%s (errno %d: %s)", why, e, strerror(e));
	ksft_exit_fail();
}

/* A lu_utils.c result: the value, or -errno (errno is set for fail()). */
static int check(int ret, const char *what)
{
	if (ret < 0) {
		errno = -ret;
		fail("%s", what);
	}
	return ret;
}

#define CHUNK (1UL << 20)

/* Whether the page at offset @off of the file @s is ever written. */
static int written(const struct spec *s, size_t off)
{
	if (s->hole && off / PAGE >= s->hole && off / PAGE < s->hole + 16)
		return 0;
	return !s->sparse || off / PAGE % s->sparse == 10 || (s->late && off / PAGE == s->late);
}

/*
 * The @n bytes at offset @off (page-aligned) of the file @s: zero in pages
 * never written, else 64-bit words that are a function of token and offset.
 */
static void expected(const struct spec *s, size_t off, uint8_t *buf, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i += PAGE) {
		size_t len = n - i < PAGE ? n - i : PAGE;

		if (!written(s, off + i)) {
			memset(buf + i, 0, len);
			continue;
		}
		for (j = 0; j < len; j += 8) {
			uint64_t x = ((off + i + j) / 8 + 1) * 0x9E3779B97F4A7C15ULL ^
				     s->token * 0xBF58476D1CE4E5B9ULL;

			x ^= x >> 29;
			memcpy(buf + i + j, &x, len - j < 8 ? len - j : 8);
		}
	}
}

/* Writes the page of @s at offset @off (after PRESERVE_FD for its late page). */
static void write_page(int fd, const struct spec *s, size_t off)
{
	static uint8_t buf[PAGE];
	size_t n = s->size - off < PAGE ? s->size - off : PAGE;

	expected(s, off, buf, n);
	if (pwrite(fd, buf, n, off) != (ssize_t)n)
		fail("pwrite at %zu", off);
}

/* Everything but the late page. */
static void fill(int fd, const struct spec *s)
{
	size_t off;

	if (ftruncate(fd, s->size))
		fail("ftruncate");
	for (off = 0; off < s->size; off += PAGE)
		if (written(s, off) && !(s->late && off / PAGE == s->late))
			write_page(fd, s, off);
	if (lseek(fd, s->pos, SEEK_SET) != s->pos)
		fail("lseek");
	if (s->seals != F_SEAL_SEAL && s->seals && fcntl(fd, F_ADD_SEALS, s->seals))
		fail("F_ADD_SEALS");
}

static void verify(int fd, const struct spec *s)
{
	static uint8_t buf[CHUNK], want[CHUNK];
	struct stat st;
	size_t off, i;
	ssize_t n;
	off_t pos;
	int seals;

	if (fstat(fd, &st))
		fail("fstat");
	if ((size_t)st.st_size != s->size)
		fail("size %lld, expected %zu", (long long)st.st_size, s->size);
	pos = lseek(fd, 0, SEEK_CUR);
	if (pos != s->pos)
		fail("position %lld, expected %lld", (long long)pos, (long long)s->pos);
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (unsigned int)seals != s->seals)
		fail("seals %#x, expected %#x", seals, s->seals);
	for (off = 0; off < s->size; off += n) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n <= 0 || (n < (ssize_t)sizeof(buf) && off + n < s->size))
			fail("pread at %zu returned %zd", off, n);
		expected(s, off, want, n);
		if (!memcmp(buf, want, n))
			continue;
		for (i = 0; buf[i] == want[i]; i++)
			;
		fail("byte %zu is %#x, expected %#x", off + i, buf[i], want[i]);
	}
	if (pread(fd, buf, 1, s->size) != 0)
		fail("data past the end");
}

/* A session fd is a close-on-exec anonymous-inode file "[luo_session] NAME". */
static int session_file(int fd, const char *name)
{
	char path[64], link[256], want[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		fail("readlink %s", path);
	link[n] = 0;
	snprintf(want, sizeof(want), "anon_inode:[luo_session] %s", name);
	if (strcmp(link, want))
		fail("session fd is '%s', expected '%s'", link, want);
	if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
		fail("session fd of %s is not close-on-exec", name);
	return fd;
}

static int create_session(int luo, const char *name)
{
	begin("create session %s", name);
	return session_file(check(luo_create_session(luo, name), "CREATE_SESSION"), name);
}

static int retrieve_session(int luo, const char *name)
{
	char got[LIVEUPDATE_SESSION_NAME_LENGTH];
	int fd;

	begin("retrieve session %s", name);
	fd = check(luo_retrieve_session(luo, name), "RETRIEVE_SESSION");
	check(luo_get_session_name(fd, got, sizeof(got)), "GET_NAME");
	if (strcmp(got, name))
		fail("GET_NAME returned '%s'", got);
	return session_file(fd, name);
}

/* Keep the session fds open across the reboot in a child process. */
static void hold_and_exit(void)
{
	if (ksft_get_fail_cnt() || ksft_test_num() != ksft_plan)
		ksft_exit_fail();
	ksft_print_cnts();
	daemonize_and_wait();
}

/* The field @key ("Shmem", "ShmemHugePages", ...) of /proc/meminfo, in KiB. */
static long meminfo_kib(const char *key)
{
	long long kib = luo_meminfo_kib(key);

	if (kib < 0)
		fail("no %s in /proc/meminfo", key);
	return kib;
}

static long shmem_kib(void)
{
	return meminfo_kib("Shmem");
}

/* The counter @key of /proc/vmstat. */
static long long vmstat(const char *key)
{
	long long val = luo_keyed("/proc/vmstat", key);

	if (val < 0)
		fail("no %s in /proc/vmstat", key);
	return val;
}

static void write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		fail("write '%s' to %s", val, path);
	close(fd);
}

/* @len bytes of @fd mapped shared at an address aligned to 2 MiB. */
static uint8_t *map_aligned(int fd, size_t len)
{
	uint8_t *area, *p;
	uintptr_t a;

	area = mmap(NULL, len + HPAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		fail("mmap");
	a = ((uintptr_t)area + HPAGE - 1) & ~(HPAGE - 1);
	p = mmap((void *)a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED)
		fail("mmap of the memfd");
	if (a > (uintptr_t)area)
		munmap(area, a - (uintptr_t)area);
	munmap((void *)(a + len), (uintptr_t)area + HPAGE - a);
	return p;
}

/*
 * The "Swap:" of the mapping at @addr in /proc/self/smaps, in KiB: for a
 * shared shmem mapping, the file's pages in that range that are in swap.
 */
static long smaps_swap_kib(void *addr)
{
	char line[256], want[32];
	long kib = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		fail("open /proc/self/smaps");
	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' '))
			in = !strncmp(line, want, strlen(want));
		else if (in && sscanf(line, "Swap: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	if (kib < 0)
		fail("no Swap for the mapping at %p in /proc/self/smaps", addr);
	return kib;
}

/*
 * Fills the memfd @s of large folios through a 2 MiB-aligned MADV_HUGEPAGE
 * mapping, with shmem_enabled "advise" meanwhile; ShmemHugePages must grow
 * by the whole file.
 */
static void fill_thp(int fd, const struct spec *s)
{
	char line[128], old[64] = "never";
	long before, after;
	uint8_t *p;
	size_t off;
	FILE *f;

	if (ftruncate(fd, s->size))
		fail("ftruncate");
	f = fopen(THP_CTL, "r");
	if (!f || !fgets(line, sizeof(line), f))
		fail("read %s", THP_CTL);
	fclose(f);
	/* "always ... [never] ...": the word in brackets is the setting. */
	if (!strchr(line, '[') || sscanf(strchr(line, '[') + 1, "%63[^]]", old) != 1)
		fail("%s: no setting in '%s'", THP_CTL, line);
	write_str(THP_CTL, "advise");
	before = meminfo_kib("ShmemHugePages");
	p = map_aligned(fd, s->size);
	if (madvise(p, s->size, MADV_HUGEPAGE))
		fail("madvise(MADV_HUGEPAGE)");
	for (off = 0; off < s->size; off += PAGE)
		expected(s, off, p + off, PAGE);
	after = meminfo_kib("ShmemHugePages");
	munmap(p, s->size);
	write_str(THP_CTL, old);
	ksft_print_msg("%s: ShmemHugePages %+ld KiB when filled (shmem_enabled advise, then %s)\n",
		       s->what, after - before, old);
	if (after - before < (long)(s->size / 1024))
		fail("ShmemHugePages grew by %ld KiB, not by the file's %zu KiB: no 2 MiB folios",
		     after - before, s->size / 1024);
	if (lseek(fd, s->pos, SEEK_SET) != s->pos)
		fail("lseek");
}

/*
 * Swap on /dev/ram0: a version 1 swap header in page 0 (mkswap's layout:
 * version, last page, no bad pages, "SWAPSPACE2" in the last 10 bytes of
 * the page), then swapon(2).
 */
static void swap_on(void)
{
	static union {
		uint8_t page[PAGE];
		struct {
			uint8_t bootbits[1024];
			uint32_t version, last_page, nr_badpages;
			uint8_t uuid[16], label[16];
		} info;
	} hdr;
	off_t size;
	int fd = open(SWAP_DEV, O_RDWR);

	if (fd < 0)
		fail("open %s", SWAP_DEV);
	size = lseek(fd, 0, SEEK_END);
	if (size < (off_t)(16 * PAGE))
		fail("%s has %lld bytes", SWAP_DEV, (long long)size);
	hdr.info.version = 1;
	hdr.info.last_page = size / PAGE - 1;
	memcpy(hdr.page + PAGE - 10, "SWAPSPACE2", 10);
	if (pwrite(fd, hdr.page, PAGE, 0) != PAGE || fsync(fd))
		fail("write the swap header to %s", SWAP_DEV);
	close(fd);
	if (swapon(SWAP_DEV, 0))
		fail("swapon %s", SWAP_DEV);
	ksft_print_msg("swap on %s: %lld KiB, SwapFree %ld KiB\n", SWAP_DEV,
		       (long long)size / 1024, meminfo_kib("SwapFree"));
}

/*
 * Pages [SWAP_FIRST, SWAP_FIRST + swapout) of the filled memfd @s go to
 * swap: mapped, faulted in and MADV_PAGEOUT, until the mapping's Swap in
 * smaps shows all of them.  MADV_PAGEOUT skips folios still in a per-CPU
 * LRU cache: POSIX_FADV_DONTNEED first, which cannot drop the dirty shmem
 * pages and so drains every CPU's cache (lru_add_drain_all()), then the
 * work on one CPU, whose cache madvise drains.
 * pswpout in /proc/vmstat must have grown as much.
 */
static void swap_out(int fd, const struct spec *s)
{
	size_t len = (size_t)s->swapout * PAGE, want = len / 1024;
	long long out0 = vmstat("pswpout");
	long swapped = 0, free0 = meminfo_kib("SwapFree");
	volatile uint8_t sum = 0;
	cpu_set_t one, all;
	uint8_t *p;
	size_t i;
	int tries;

	if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED))
		fail("posix_fadvise");
	if (sched_getaffinity(0, sizeof(all), &all))
		fail("sched_getaffinity");
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, SWAP_FIRST * PAGE);
	if (p == MAP_FAILED)
		fail("mmap");
	for (tries = 0; tries < 5 && (size_t)swapped < want; tries++) {
		for (i = 0; i < len; i += PAGE)
			sum += p[i];
		if (madvise(p, len, MADV_PAGEOUT))
			fail("madvise(MADV_PAGEOUT)");
		swapped = smaps_swap_kib(p);
	}
	munmap(p, len);
	sched_setaffinity(0, sizeof(all), &all);
	ksft_print_msg("%s: MADV_PAGEOUT of %zu KiB: Swap of the mapping %ld KiB, pswpout %+lld pages, SwapFree %+ld KiB (%d tries)\n",
		       s->what, want, swapped, vmstat("pswpout") - out0,
		       meminfo_kib("SwapFree") - free0, tries);
	if ((size_t)swapped < want || vmstat("pswpout") - out0 < (long long)s->swapout)
		fail("the pages did not go to swap");
}

/*
 * Preserves the sparse 1 GiB memfd @fd and checks what that cost: with
 * @mem "sparse", Shmem grows by less than 1 MiB and the file keeps the
 * blocks of the 4 MiB written; with "full", Shmem grows by the holes (at
 * least 90% of them), as C fills them.
 */
static void preserve_measured(int sess, int fd, const struct spec *s, const char *mem)
{
	long before, after, written_kib = 0;
	struct stat st;
	size_t off;

	for (off = 0; off < s->size; off += PAGE)
		written_kib += written(s, off) ? PAGE / 1024 : 0;
	before = shmem_kib();
	check(luo_session_preserve_fd(sess, fd, s->token), "PRESERVE_FD");
	after = shmem_kib();
	if (fstat(fd, &st))
		fail("fstat");
	ksft_print_msg("preserving %s (%ld KiB written): Shmem %+ld KiB, file %lld KiB\n",
		       s->what, written_kib, after - before, (long long)st.st_blocks / 2);
	if (!strcmp(mem, "sparse")) {
		if (after - before >= 1024 || st.st_blocks / 2 > written_kib + 64)
			fail("preserving cost more than the data written");
	} else if (after - before < (long)(s->size / 1024 - written_kib) * 9 / 10) {
		fail("Shmem grew by less than the holes");
	}
}

int main(int argc, char **argv)
{
	int sess[NSESSIONS], fds[NFILES], luo, opt, big = 0, swap = 0;
	size_t i, nfiles = 0, files[NFILES];
	unsigned long long bytes = 0;
	const char *mem = NULL;

	while ((opt = getopt(argc, argv, "s:n:bm:")) != -1) {
		if (opt == 's')
			stage = atoi(optarg);
		else if (opt == 'n')
			nstages = atoi(optarg);
		else if (opt == 'b')
			big = 1;
		else if (opt == 'm')
			mem = optarg;
	}
	if (stage < 1 || nstages < 2 || stage > nstages ||
	    (mem && strcmp(mem, "sparse") && strcmp(mem, "full")) || (mem && !big)) {
		fprintf(stderr, "usage: %s -s STAGE -n NSTAGES [-b [-m sparse|full]] (NSTAGES >= 2)\n",
			argv[0]);
		return 2;
	}
	for (i = 0; i < NFILES; i++)
		if (big || !specs[i].big)
			files[nfiles++] = i;
	ksft_print_header();
	/* Stage 1: create, preserve; later: retrieve, verify, finish (and again). */
	ksft_set_plan(stage == 1 ? NSESSIONS + nfiles :
		      2 * NSESSIONS + nfiles + (stage < nstages) * (NSESSIONS + nfiles));
	begin("open %s", LUO_DEVICE);
	luo = luo_open_device();
	if (luo < 0)
		fail("open");

	if (stage == 1) {
		for (i = 0; i < NSESSIONS; i++) {
			sess[i] = create_session(luo, session_names[i]);
			pass();
		}
		for (i = 0; i < nfiles; i++) {
			const struct spec *s = &specs[files[i]];
			int fd;

			begin("preserve %s/%#llx (%s)", session_names[s->session],
			      (unsigned long long)s->token, s->what);
			fd = memfd_create("luo-chain",
					  s->seals == F_SEAL_SEAL ? 0 : MFD_ALLOW_SEALING);
			if (fd < 0)
				fail("memfd_create");
			if (s->thp) {
				fill_thp(fd, s);
			} else {
				fill(fd, s);
			}
			if (s->swapout) {
				if (!swap)
					swap_on();
				swap = 1;
				swap_out(fd, s);
			}
			if (s->token == SPARSE_BIG && mem)
				preserve_measured(sess[s->session], fd, s, mem);
			else
				check(luo_session_preserve_fd(sess[s->session], fd, s->token),
				      "PRESERVE_FD");
			/* A hole written now must reach the next kernel too. */
			if (s->late)
				write_page(fd, s, s->late * PAGE);
			verify(fd, s);
			close(fd);
			pass();
		}
		close(luo);
		hold_and_exit();
	}

	for (i = 0; i < NSESSIONS; i++) {
		sess[i] = retrieve_session(luo, session_names[i]);
		pass();
	}
	for (i = 0; i < nfiles; i++) {
		const struct spec *s = &specs[files[i]];

		begin("verify %s/%#llx (%s)", session_names[s->session],
		      (unsigned long long)s->token, s->what);
		if (s->thp) {
			long before = meminfo_kib("ShmemHugePages"), after;

			fds[i] = check(luo_session_retrieve_fd(sess[s->session], s->token),
				       "RETRIEVE_FD");
			after = meminfo_kib("ShmemHugePages");
			ksft_print_msg("%s: RETRIEVE_FD: ShmemHugePages %+ld KiB\n", s->what,
				       after - before);
			if (after - before != (long)(s->size / 1024))
				fail("ShmemHugePages grew by %ld KiB at RETRIEVE_FD, not by the %zu KiB of 2 MiB folios",
				     after - before, s->size / 1024);
		} else {
			fds[i] = check(luo_session_retrieve_fd(sess[s->session], s->token),
				       "RETRIEVE_FD");
		}
		verify(fds[i], s);
		bytes += s->size;
		pass();
	}
	for (i = 0; i < NSESSIONS; i++) {
		begin("finish session %s", session_names[i]);
		check(luo_session_finish(sess[i]), "SESSION_FINISH");
		close(sess[i]);
		pass();
	}
	ksft_print_msg("stage %d/%d: verified %zu memfds (%llu bytes) in %zu sessions\n",
		       stage, nstages, nfiles, bytes, NSESSIONS);
	if (stage == nstages)
		ksft_finished();

	/* Middle stage: preserve the retrieved memfds again for the next kernel. */
	for (i = 0; i < NSESSIONS; i++) {
		sess[i] = create_session(luo, session_names[i]);
		pass();
	}
	for (i = 0; i < nfiles; i++) {
		const struct spec *s = &specs[files[i]];

		begin("re-preserve %s/%#llx for stage %d", session_names[s->session],
		      (unsigned long long)s->token, stage + 1);
		check(luo_session_preserve_fd(sess[s->session], fds[i], s->token), "PRESERVE_FD");
		close(fds[i]);
		pass();
	}
	close(luo);
	hold_and_exit();
	return 0;
}
