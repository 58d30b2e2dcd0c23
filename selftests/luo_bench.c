// SPDX-License-Identifier: GPL-2.0
/*
 * luo_bench: guest time of the memfd paths of a live update.
 *
 *   luo_bench -s STAGE -n 2 -w NAME:SIZE:WRITTEN [-w ...]
 *
 * Stage 1 creates, for each -w, a memfd of SIZE bytes into which WRITTEN
 * bytes are written (in 1 MiB chunks spread evenly over the file; SIZE ==
 * WRITTEN writes every byte), preserves it into the session "bench" and
 * times PRESERVE_FD; it also reports what preserving cost in memory (the
 * growth of Shmem in /proc/meminfo and of the memfd's st_blocks).  Stage 2
 * times RETRIEVE_SESSION, RETRIEVE_FD of each memfd and SESSION_FINISH,
 * and checks every written byte (not timed).  SIZE and WRITTEN take K, M
 * and G suffixes.
 *
 * Times are CLOCK_MONOTONIC around the one ioctl.  Under QEMU with
 * "-icount shift=0,sleep=off" (make bench) guest time advances one
 * nanosecond per guest instruction, so a time is an instruction count and
 * repeats to within 0.01% from run to run on the same kernel.
 *
 * Output: KTAP (kselftest.h), one test per memfd and step, and for each
 * measurement a diagnostic line the harness reads:
 *
 *   # LUO-BENCH: <op> <name> <value> <unit>
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <libliveupdate.h>

#define CHUNK		(1ULL << 20)
#define MAX_WORK	8
#define SESSION		"bench"

struct work {
	char name[32];
	unsigned long long size, written;
	int fd;
};

static struct work works[MAX_WORK];
static unsigned int nworks;
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

	if (nworks == MAX_WORK || !c2 || c1 - arg >= (long)sizeof(w->name))
		ksft_exit_fail_msg("bad -w '%s' (NAME:SIZE:WRITTEN)\n", arg);
	memcpy(w->name, arg, c1 - arg);
	w->size = parse_size(c1 + 1);
	w->written = parse_size(c2 + 1);
	if (w->written > w->size || (w->written % CHUNK && w->written != w->size))
		ksft_exit_fail_msg("-w %s: WRITTEN must be a multiple of 1 MiB or SIZE\n", arg);
	nworks++;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* "Shmem:" of /proc/meminfo, in KiB. */
static long long shmem_kib(void)
{
	char line[128];
	long long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Shmem: %lld kB", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
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

static void pattern(const struct work *w, unsigned long long off, size_t len)
{
	size_t i;

	for (i = 0; i < len / 8; i++)
		buf[i] = (off + i * 8) * 0x9e3779b97f4a7c15ULL ^ w->size;
}

static size_t chunk_len(const struct work *w, unsigned long long off)
{
	return w->size - off < CHUNK ? w->size - off : CHUNK;
}

static void fill(struct work *w)
{
	unsigned long long i, off;

	for (i = 0; i < nchunks(w); i++) {
		off = chunk_off(w, i);
		pattern(w, off, chunk_len(w, off));
		if (pwrite(w->fd, buf, chunk_len(w, off), off) != (ssize_t)chunk_len(w, off))
			ksft_exit_fail_msg("%s: pwrite: %s\n", w->name, strerror(errno));
	}
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
		pattern(w, off, chunk_len(w, off));
		if (pread(w->fd, got, chunk_len(w, off), off) != (ssize_t)chunk_len(w, off) ||
		    memcmp(got, buf, chunk_len(w, off)))
			return 0;
	}
	return 1;
}

/*
 * Marks around each timed ioctl: empty functions at fixed addresses (the
 * program is static and not PIE) that harness/tbprof.c, a QEMU plugin,
 * watches to count each ioctl's guest instructions by kernel function
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

int main(int argc, char **argv)
{
	int stage = 0, nstages = 0, luo, sess, opt, ret;
	unsigned long long t0;
	long long sh0;
	unsigned int i;

	while ((opt = getopt(argc, argv, "s:n:w:")) != -1) {
		if (opt == 's')
			stage = atoi(optarg);
		else if (opt == 'n')
			nstages = atoi(optarg);
		else if (opt == 'w')
			parse_work(optarg);
	}
	if (stage < 1 || stage > 2 || nstages != 2 || !nworks) {
		fprintf(stderr, "usage: %s -s 1|2 -n 2 -w NAME:SIZE:WRITTEN...\n", argv[0]);
		return 2;
	}
	ksft_print_header();
	ksft_set_plan(stage == 1 ? nworks : nworks + 2);
	luo = luo_open_device();
	if (luo < 0)
		ksft_exit_fail_msg("open %s: %s\n", LUO_DEVICE, strerror(errno));

	if (stage == 1) {
		sess = luo_create_session(luo, SESSION);
		if (sess < 0)
			ksft_exit_fail_msg("create session: %s\n", strerror(-sess));
		for (i = 0; i < nworks; i++) {
			struct work *w = &works[i];

			w->fd = memfd_create(w->name, 0);
			if (w->fd < 0 || ftruncate(w->fd, w->size))
				ksft_exit_fail_msg("%s: memfd: %s\n", w->name, strerror(errno));
			fill(w);
			report("blocks_before", w->name, blocks_kib(w->fd), "KiB");
			sh0 = shmem_kib();
			t0 = now_ns();
			luo_bench_mark_begin();
			ret = luo_session_preserve_fd(sess, w->fd, i + 1);
			luo_bench_mark_end();
			report("preserve_fd", w->name, now_ns() - t0, "ns");
			report("shmem_growth", w->name, shmem_kib() - sh0, "KiB");
			report("blocks_after", w->name, blocks_kib(w->fd), "KiB");
			ksft_test_result(ret == 0, "preserve %s (%llu bytes, %llu written)%s%s\n",
					 w->name, w->size, w->written, ret ? ": " : "",
					 ret ? strerror(-ret) : "");
			close(w->fd);
		}
		close(luo);
		if (ksft_get_fail_cnt())
			ksft_exit_fail();
		ksft_print_cnts();
		daemonize_and_wait();
	}

	t0 = now_ns();
	luo_bench_mark_begin();
	sess = luo_retrieve_session(luo, SESSION);
	luo_bench_mark_end();
	report("retrieve_session", SESSION, now_ns() - t0, "ns");
	ksft_test_result(sess >= 0, "retrieve session %s\n", SESSION);
	if (sess < 0)
		ksft_exit_fail();
	for (i = 0; i < nworks; i++) {
		struct work *w = &works[i];

		t0 = now_ns();
		luo_bench_mark_begin();
		w->fd = luo_session_retrieve_fd(sess, i + 1);
		luo_bench_mark_end();
		report("retrieve_fd", w->name, now_ns() - t0, "ns");
		ksft_test_result(w->fd >= 0 && verify(w), "retrieve %s, every written byte\n",
				 w->name);
		report("blocks_retrieved", w->name, w->fd >= 0 ? blocks_kib(w->fd) : -1, "KiB");
	}
	t0 = now_ns();
	luo_bench_mark_begin();
	ret = luo_session_finish(sess);
	luo_bench_mark_end();
	ksft_test_result(ret == 0, "finish session %s\n", SESSION);
	report("finish", SESSION, now_ns() - t0, "ns");
	ksft_finished();
}
