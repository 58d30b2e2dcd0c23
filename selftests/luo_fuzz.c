// SPDX-License-Identifier: GPL-2.0
/*
 * luo_fuzz: a seeded, bounded ioctl fuzzer over /dev/liveupdate and session
 * fds, from several threads at once, with a kexec at a random point.
 *
 *   luo_fuzz -s STAGE -n 3 [-S SEED] [-c CALLS] [-T THREADS]
 *
 * Each thread draws its operations from its own xorshift generator seeded
 * from SEED (default 1) and its number: ioctls with command numbers in and
 * out of LUO's ranges (and of other types), argument sizes from 0 to a page
 * (the size field too), random bytes or structure-aware contents (valid
 * sizes, names and tokens from small sets, so that EEXIST, ENOENT and
 * EINVAL paths are taken), fds of every kind (memfds, pipes, sockets,
 * eventfds, session fds, /dev/liveupdate, closed numbers), closes, and
 * opens of /dev/liveupdate (EBUSY while it is open).  A keeper session
 * "fuzz-keep" with four memfds, made first, must come through untouched.
 *
 * Stage 1, round 1: CALLS calls (default 50000) over THREADS threads
 *   (default 4), no kexec; then every fd the fuzzer made is closed, and
 *   the kernel must be back where it started: Shmem and nr_shmem as
 *   before the round, every name of the fuzzer's set free again (CREATE
 *   succeeds), /dev/liveupdate still held by this process only.
 * Stage 1, round 2: the same threads again, left running in a child while
 *   luo_init reboots after a random delay: the kexec comes at a random
 *   point of the fuzzing.
 * Stage 2: the keeper's memfds are whole; every fuzz session that came
 *   back is retrieved, its files by every token of the set, and finished
 *   and closed; Shmem is then back where it was before; then a normal
 *   live update: a session "fuzz-after" with a memfd, kexec.
 * Stage 3: "fuzz-after" and its memfd come back whole.
 * Output: KTAP (kselftest.h); the seed is printed, so a failure repeats.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libliveupdate.h>

#define KEEP "fuzz-keep"
#define KEEP_FILES 4
#define KEEP_SIZE (64 * 1024)
#define NNAMES 24	/* fuzz-0 .. fuzz-23 */
#define NTOKENS 8	/* tokens 0 .. 7 */
#define POOL 64

static uint64_t seed = 1;
static unsigned int calls = 50000, nthreads = 4;
static int luo_fd = -1;
static int keep_fds[1 + KEEP_FILES];

/* The fds the fuzzer made, shared by the threads. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static int pool[POOL];
static char kinds[POOL];	/* 'm' memfd, 's' session fd, 'o' other */

struct rng {
	uint64_t s;
};

static uint64_t next(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

static unsigned int below(struct rng *r, unsigned int n)
{
	return next(r) % n;
}

static void fuzz_name(char name[LIVEUPDATE_SESSION_NAME_LENGTH], unsigned int i)
{
	snprintf(name, LIVEUPDATE_SESSION_NAME_LENGTH, "fuzz-%u", i);
}

static int is_keeper(int fd)
{
	int i;

	for (i = 0; i <= KEEP_FILES; i++)
		if (fd == keep_fds[i])
			return 1;
	return fd == luo_fd || fd <= 2;
}

/* Puts fd, of kind 'm', 's' or 'o', in a free pool slot, or closes it. */
static void pool_add_kind(struct rng *r, int fd, char kind)
{
	int i, start = below(r, POOL);

	if (fd < 0)
		return;
	pthread_mutex_lock(&pool_lock);
	for (i = 0; i < POOL; i++) {
		int *slot = &pool[(start + i) % POOL];

		if (*slot < 0) {
			*slot = fd;
			kinds[slot - pool] = kind;
			fd = -1;
			break;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	if (fd >= 0)
		close(fd);
}

static void pool_add(struct rng *r, int fd)
{
	pool_add_kind(r, fd, 'o');
}

static int pick_fd(struct rng *r);

/* A pool fd of kind 'm' or 's' (any fd if there is none). */
static int pick_kind(struct rng *r, char kind)
{
	int i, start = below(r, POOL), fd = -1;

	pthread_mutex_lock(&pool_lock);
	for (i = 0; i < POOL && fd < 0; i++)
		if (kinds[(start + i) % POOL] == kind)
			fd = pool[(start + i) % POOL];
	pthread_mutex_unlock(&pool_lock);
	return fd >= 0 ? fd : pick_fd(r);
}

/* Some fd: from the pool, the device, a keeper's session, or a number. */
static int pick_fd(struct rng *r)
{
	int fd;

	/* Not the keeper's session: files preserved into it would stay. */
	switch (below(r, 10)) {
	case 0:
	case 1:
		return luo_fd;
	case 2:
		fd = (int)below(r, 300) - 2;	/* closed numbers, -1, -2 */
		return is_keeper(fd) ? -1 : fd;
	default:
		pthread_mutex_lock(&pool_lock);
		fd = pool[below(r, POOL)];
		pthread_mutex_unlock(&pool_lock);
		return fd;
	}
}

static void new_file(struct rng *r)
{
	int sv[2], p[2], fd = -1;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH], kind = 'o';

	switch (below(r, 6)) {
	case 0:
	case 1:
		kind = 'm';
		fd = memfd_create("fuzz", below(r, 2) ? MFD_ALLOW_SEALING : 0);
		if (fd >= 0 && below(r, 2))
			ftruncate(fd, below(r, 4) * 4096 + below(r, 100));
		if (fd >= 0 && below(r, 2))
			pwrite(fd, "fuzz", 4, below(r, 3) * 4096);
		break;
	case 2:
		if (!pipe(p)) {
			pool_add(r, p[1]);
			fd = p[0];
		}
		break;
	case 3:
		if (!socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
			pool_add(r, sv[1]);
			fd = sv[0];
		}
		break;
	case 4:
		fd = eventfd(0, 0);
		break;
	case 5:
		kind = 's';
		fuzz_name(name, below(r, NNAMES));
		fd = luo_create_session(luo_fd, name);
		break;
	}
	pool_add_kind(r, fd, kind);
}

static void close_one(struct rng *r)
{
	int fd, i = below(r, POOL);

	pthread_mutex_lock(&pool_lock);
	fd = pool[i];
	pool[i] = -1;
	pthread_mutex_unlock(&pool_lock);
	if (fd >= 0)
		close(fd);
}

/* An ioctl with a random or structure-aware argument. */
static void fuzz_ioctl(struct rng *r)
{
	static const unsigned int nrs[] = { 0x00, 0x01, 0x02, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0xff };
	uint8_t buf[4096 + 64] __attribute__((aligned(8)));
	unsigned int nr, size, dir, type, i;
	unsigned long cmd;
	uint32_t *u32 = (uint32_t *)buf;
	int fd = pick_fd(r);
	void *arg = buf;

	nr = below(r, 4) ? nrs[below(r, sizeof(nrs) / sizeof(nrs[0]))] : below(r, 256);
	type = below(r, 16) ? LIVEUPDATE_IOCTL_TYPE : below(r, 256);
	dir = below(r, 8) ? 0 : below(r, 4);	/* LUO's are _IO() */
	size = below(r, 8) ? 0 : below(r, 1 << 14);
	cmd = _IOC(dir, type, nr, size);

	for (i = 0; i < sizeof(buf) / 8; i++)
		((uint64_t *)buf)[i] = next(r);
	/* The size field: a struct's, a small one, up to a page, or junk. */
	switch (below(r, 5)) {
	case 0:
		u32[0] = below(r, 96);
		break;
	case 1:
		u32[0] = below(r, 4097);
		break;
	case 2:
		break;
	default:
		u32[0] = 8 + 64 * below(r, 2) + 8 * below(r, 4);
	}
	if (below(r, 3)) {
		/* Structure-aware: a name from the set (create, retrieve,
		 * get_name) at offset 8, an fd at offset 4 or 8 (preserve,
		 * create), a token from the set at offset 8 or 16. */
		char *name = (char *)buf + 8;

		fuzz_name(name, below(r, NNAMES));
		if (below(r, 2)) {
			((int32_t *)buf)[1] = pick_fd(r);
			((uint64_t *)buf)[1] = below(r, NTOKENS);
		}
		if (below(r, 4) == 0)
			((int32_t *)buf)[4] = pick_fd(r);
		if (below(r, 4) == 0)
			memset(buf + 8, 'n', 64);	/* no NUL */
	}
	if (below(r, 32) == 0)
		arg = (void *)(uintptr_t)(below(r, 2) ? 0 : 0xdead0000UL);
	ioctl(fd, cmd, arg);
}

static void *fuzz_thread(void *arg)
{
	struct rng r = { seed * 0x9e3779b97f4a7c15ULL + (uintptr_t)arg * 7919 + 1 };
	unsigned int i, n = calls / nthreads;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int fd;

	for (i = 0; i < n; i++) {
		switch (below(&r, 16)) {
		case 0:
		case 1:
			new_file(&r);
			break;
		case 2:
			close_one(&r);
			break;
		case 3:
			fd = open(LUO_DEVICE, O_RDWR);	/* EBUSY: we hold it */
			if (fd >= 0)
				close(fd);
			break;
		case 4:
			/* Half the time a memfd into a session. */
			if (below(&r, 2))
				luo_session_preserve_fd(pick_kind(&r, 's'), pick_kind(&r, 'm'),
							below(&r, NTOKENS));
			else
				luo_session_preserve_fd(pick_fd(&r), pick_fd(&r),
							below(&r, NTOKENS));
			break;
		case 5:
			fuzz_name(name, below(&r, NNAMES));
			pool_add_kind(&r, luo_retrieve_session(luo_fd, name), 's');
			break;
		case 6:
			pool_add_kind(&r, luo_session_retrieve_fd(pick_kind(&r, 's'),
								  below(&r, NTOKENS)), 'm');
			break;
		case 7:
			luo_session_finish(pick_fd(&r));
			break;
		default:
			fuzz_ioctl(&r);
		}
	}
	return NULL;
}

static void run_threads(void)
{
	pthread_t th[16];
	unsigned int t;

	for (t = 0; t < nthreads; t++)
		pthread_create(&th[t], NULL, fuzz_thread, (void *)(uintptr_t)t);
	for (t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
}

/*
 * Closes every fd the fuzzer made: the pool, and the fds that raw ioctls
 * (CREATE_SESSION, RETRIEVE_SESSION, RETRIEVE_FD) installed, which the pool
 * never saw: every fd but the keeper's, the device and stdio.
 */
static void close_pool(void)
{
	int i;

	for (i = 0; i < POOL; i++)
		pool[i] = -1;
	for (i = 3; i < 4096; i++)
		if (!is_keeper(i))
			close(i);
}

/* A field of /proc/meminfo (Shmem) or /proc/vmstat (nr_shmem), with the
 * per-cpu deltas folded in first. */
static long long counter(const char *file, const char *key)
{
	int r = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	char line[256];
	long long v = -1;
	size_t n = strlen(key);
	FILE *f;

	if (r >= 0) {
		write(r, "1", 1);
		close(r);
	}
	f = fopen(file, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && (line[n] == ':' || line[n] == ' ')) {
			v = atoll(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

static uint8_t keep_byte(int k, size_t i)
{
	return (uint8_t)(i * 29 + k * 101 + (i >> 9));
}

static void make_keeper(void)
{
	uint8_t buf[KEEP_SIZE];
	size_t i;
	int k, ret = 0;

	keep_fds[0] = luo_create_session(luo_fd, KEEP);
	if (keep_fds[0] < 0)
		ksft_exit_fail_msg("create %s: %s\n", KEEP, strerror(-keep_fds[0]));
	for (k = 1; k <= KEEP_FILES; k++) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = keep_byte(k, i);
		keep_fds[k] = memfd_create("keep", 0);
		if (keep_fds[k] < 0 || pwrite(keep_fds[k], buf, sizeof(buf), 0) != sizeof(buf))
			ksft_exit_fail_msg("keeper memfd: %s\n", strerror(errno));
		ret |= luo_session_preserve_fd(keep_fds[0], keep_fds[k], 1000 + k);
	}
	ksft_test_result(!ret, "keeper session %s with %d memfds\n", KEEP, KEEP_FILES);
}

static int keeper_ok(int sfd)
{
	uint8_t buf[KEEP_SIZE];
	size_t i;
	int k, fd, ok = 1;

	for (k = 1; k <= KEEP_FILES && ok; k++) {
		fd = luo_session_retrieve_fd(sfd, 1000 + k);
		if (fd < 0 || pread(fd, buf, sizeof(buf), 0) != sizeof(buf))
			ok = 0;
		for (i = 0; i < sizeof(buf) && ok; i++)
			ok = buf[i] == keep_byte(k, i);
		if (fd >= 0)
			close(fd);
	}
	return ok;
}

static void stage1(void)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	long long shmem, nr_shmem;
	int i, fd, bad = 0;
	struct timespec t0, t1;
	pid_t pid;

	make_keeper();
	shmem = counter("/proc/meminfo", "Shmem");
	nr_shmem = counter("/proc/vmstat", "nr_shmem");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_threads();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close_pool();
	ksft_test_result(1, "round 1: %u calls over %u threads, seed %llu, %.1f s\n", calls,
			 nthreads, (unsigned long long)seed,
			 (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);

	ksft_test_result(counter("/proc/meminfo", "Shmem") == shmem &&
			 counter("/proc/vmstat", "nr_shmem") == nr_shmem,
			 "round 1: Shmem %lld kB (was %lld), nr_shmem %lld (was %lld)\n",
			 counter("/proc/meminfo", "Shmem"), shmem,
			 counter("/proc/vmstat", "nr_shmem"), nr_shmem);

	for (i = 0; i < NNAMES; i++) {
		fuzz_name(name, i);
		fd = luo_create_session(luo_fd, name);
		if (fd < 0 && bad++ < 3)
			ksft_print_msg("%s still taken: %s\n", name, strerror(-fd));
		if (fd >= 0)
			close(fd);
	}
	fd = open(LUO_DEVICE, O_RDWR);
	ksft_test_result(!bad && fd < 0 && errno == EBUSY,
			 "round 1: every fuzz name free again (%d taken), %s busy\n", bad, LUO_DEVICE);
	if (fd >= 0)
		close(fd);
	ksft_test_result(!luo_get_session_name(keep_fds[0], name, sizeof(name)) &&
			 !strcmp(name, KEEP), "round 1: the keeper session answers GET_NAME\n");

	/* Round 2, with the kexec at a random point: a child keeps fuzzing. */
	pid = fork();
	if (pid == 0) {
		seed = seed * 31 + 7;
		calls = 1000000;
		run_threads();
		for (;;)
			pause();
	}
	usleep(1000 * (seed % 50));
}

static void stage2(void)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	long long shmem, nr_shmem;
	int i, t, sfd, fd, found = 0, files = 0, bad = 0;
	uint8_t buf[4096];

	sfd = luo_retrieve_session(luo_fd, KEEP);
	ksft_test_result(sfd >= 0 && keeper_ok(sfd) && !luo_session_finish(sfd),
			 "the keeper's %d memfds came through the fuzzing whole\n", KEEP_FILES);
	if (sfd >= 0)
		close(sfd);

	shmem = counter("/proc/meminfo", "Shmem");
	nr_shmem = counter("/proc/vmstat", "nr_shmem");
	for (i = 0; i < NNAMES; i++) {
		fuzz_name(name, i);
		sfd = luo_retrieve_session(luo_fd, name);
		if (sfd < 0) {
			if (sfd != -ENOENT && bad++ < 3)
				ksft_print_msg("retrieve %s: %s\n", name, strerror(-sfd));
			continue;
		}
		found++;
		for (t = 0; t < NTOKENS; t++) {
			fd = luo_session_retrieve_fd(sfd, t);
			if (fd < 0)
				continue;
			files++;
			pread(fd, buf, sizeof(buf), 0);
			close(fd);
		}
		if (luo_session_finish(sfd) && bad++ < 3)
			ksft_print_msg("finish %s failed\n", name);
		close(sfd);
	}
	ksft_test_result(!bad, "%d fuzz sessions and %d files came back, retrieved, finished\n",
			 found, files);
	ksft_test_result(counter("/proc/meminfo", "Shmem") == shmem &&
			 counter("/proc/vmstat", "nr_shmem") == nr_shmem,
			 "after finish and close: Shmem %lld kB (was %lld), nr_shmem %lld (was %lld)\n",
			 counter("/proc/meminfo", "Shmem"), shmem,
			 counter("/proc/vmstat", "nr_shmem"), nr_shmem);

	/* A normal live update after all that. */
	sfd = luo_create_session(luo_fd, "fuzz-after");
	fd = memfd_create("after", 0);
	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = keep_byte(9, i);
	ksft_test_result(sfd >= 0 && fd >= 0 && pwrite(fd, buf, sizeof(buf), 0) == sizeof(buf) &&
			 !luo_session_preserve_fd(sfd, fd, 9),
			 "a normal session with a memfd for the next kexec\n");
}

static void stage3(void)
{
	uint8_t buf[4096];
	int sfd, fd, i, ok;

	sfd = luo_retrieve_session(luo_fd, "fuzz-after");
	fd = sfd >= 0 ? luo_session_retrieve_fd(sfd, 9) : -1;
	ok = fd >= 0 && pread(fd, buf, sizeof(buf), 0) == sizeof(buf);
	for (i = 0; i < (int)sizeof(buf) && ok; i++)
		ok = buf[i] == keep_byte(9, i);
	ksft_test_result(ok && !luo_session_finish(sfd),
			 "the live update after the fuzzing carried its memfd whole\n");
}

int main(int argc, char **argv)
{
	int stage = 0, nstages = 0, opt, i;
	struct rlimit nofile = { 4096, 4096 };

	while ((opt = getopt(argc, argv, "s:n:S:c:T:")) != -1) {
		switch (opt) {
		case 's': stage = atoi(optarg); break;
		case 'n': nstages = atoi(optarg); break;
		case 'S': seed = strtoull(optarg, NULL, 0) ?: 1; break;
		case 'c': calls = strtoul(optarg, NULL, 0); break;
		case 'T': nthreads = strtoul(optarg, NULL, 0); break;
		}
	}
	if (stage < 1 || stage > 3 || nstages != 3 || !nthreads || nthreads > 16) {
		fprintf(stderr, "usage: %s -s 1|2|3 -n 3 [-S SEED] [-c CALLS] [-T THREADS]\n",
			argv[0]);
		return 2;
	}
	setrlimit(RLIMIT_NOFILE, &nofile);
	for (i = 0; i < POOL; i++)
		pool[i] = -1;
	ksft_print_header();
	ksft_set_plan(stage == 1 ? 5 : stage == 2 ? 4 : 1);
	ksft_print_msg("stage %d/%d, seed %llu\n", stage, nstages, (unsigned long long)seed);
	luo_fd = luo_open_device();
	if (luo_fd < 0)
		ksft_exit_fail_msg("open %s: %s\n", LUO_DEVICE, strerror(errno));
	if (stage == 1) {
		stage1();
		ksft_print_cnts();
		return ksft_get_fail_cnt() ? 1 : 0;
	}
	if (stage == 2) {
		stage2();
		if (ksft_get_fail_cnt())
			ksft_exit_fail();
		ksft_print_cnts();
		daemonize_and_wait();
	}
	stage3();
	ksft_finished();
}
