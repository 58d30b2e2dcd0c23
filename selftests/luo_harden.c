// SPDX-License-Identifier: GPL-2.0
/*
 * luo_harden: a freeze that fails at reboot, then a live update that works,
 * with the test file handler (luo_test_handler.c, built into the kernel and
 * registered by "luo_test_handler" on the command line) beside memfds; a
 * session fd used by an unprivileged process; sessions frozen mid-flight.
 *
 *   luo_harden -s STAGE -n 2 [-o lifo|c]
 *
 * -o c expects the C reference's behaviour where it differs (below).
 *
 * Stage 1: sessions "freeze-a", "freeze-b", "freeze-c", each with a memfd
 *   (token 100) and handler files (tokens 1, 2, ...) whose values are
 *   a: 11 12, b: 21 22, c: 31; file 22 is told to fail its freeze.
 *   reboot(LINUX_REBOOT_CMD_KEXEC) must fail with that error (EBUSY) after
 *   freezing 11 12 21, and undo those freezes: the handler's log must read
 *   "F11 F12 F21 F22! U21 U12 U11" (-o lifo, every freeze undone in reverse
 *   order: the Rust LUO) or "F11 F12 F21 F22! U21 U11 U12" (-o c: the C
 *   reference undoes the files of a session in the order they were frozen,
 *   and the sessions last first).  Then the sessions must be usable: a
 *   second memfd (token 101) goes into "freeze-a", file 31's value becomes
 *   32 (handed over at freeze), file 22 stops failing, and the kexec
 *   (luo_init's) must go through.
 *   Permissions: a child that drops to uid/gid 1000 (no capabilities) and
 *   keeps only the fd of "freeze-b" cannot open /dev/liveupdate (EACCES)
 *   nor reboot (EPERM); through the session fd it can do exactly the
 *   session ioctls of an outgoing session: GET_NAME, and PRESERVE_FD of
 *   its own memfd (token 102); a /dev/liveupdate command or RETRIEVE_FD
 *   on that fd is EINVAL.
 *   Race: the test then leaves behind a process whose threads create
 *   sessions "race-T-I", preserve 1 + I % 3 memfds into each (tokens 1,
 *   2, 3) and close every odd one, while luo_init reboots: the reboot
 *   freezes them mid-flight.
 * Stage 2: every "race-T-I" that came back holds memfds 1..j for some j
 *   up to its count, each with its content, and nothing after j: no
 *   session is half released or half preserved; the first session of
 *   each thread (made before stage 1 ended) is there.  Every other
 *   session, memfd (every byte, the unprivileged child's too) and handler
 *   file (its value, 32 for the changed one) comes back; FINISH finishes
 *   every handler file once, and the handler's FLB, which nobody asks
 *   for, is retrieved with the first file finished and finished with the
 *   last (-o c: C never retrieves nor finishes it, after a refcount_t
 *   underflow WARN); an outgoing session with a handler file, closed,
 *   unpreserves it.
 * Output: KTAP (kselftest.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <linux/reboot.h>
#include <libliveupdate.h>

#include "luo_test_handler.h"

#define MEMFD_SIZE (256 * 1024)
#define NSESSIONS 3

static const char *const names[NSESSIONS] = { "freeze-a", "freeze-b", "freeze-c" };
/* Handler file values per session, 0-terminated; the token is the index + 1. */
static const uint64_t values[NSESSIONS][3] = { { 11, 12 }, { 21, 22 }, { 31 } };
#define FAILING 22

/* /dev/liveupdate, for the race threads. */
static int race_luo;

static int test_file(uint64_t value, int fail)
{
	struct luo_test_set set = { .value = value, .fail_freeze = fail };
	int fd = open("/dev/luo_test", O_RDWR | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, LUO_TEST_SET, &set))
		ksft_exit_fail_msg("/dev/luo_test: %s\n", strerror(errno));
	return fd;
}

static int read_log(char *buf, size_t len)
{
	int fd = open("/dev/luo_test", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return n < 0 ? -errno : 0;
}

static void clear_log(void)
{
	int fd = open("/dev/luo_test", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, LUO_TEST_CLEAR))
		ksft_exit_fail_msg("clear the handler log: %s\n", strerror(errno));
	close(fd);
}

/* The byte at offset i of session s's memfd with token t. */
static uint8_t pattern(int s, int t, size_t i)
{
	return (uint8_t)(i * 131 + s * 17 + t * 7 + (i >> 12));
}

static int make_memfd(int s, int t)
{
	int fd = memfd_create("luo_harden", MFD_CLOEXEC);
	uint8_t *p;
	size_t i;

	if (fd < 0 || ftruncate(fd, MEMFD_SIZE))
		ksft_exit_fail_msg("memfd: %s\n", strerror(errno));
	p = mmap(NULL, MEMFD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	for (i = 0; i < MEMFD_SIZE; i++)
		p[i] = pattern(s, t, i);
	munmap(p, MEMFD_SIZE);
	return fd;
}

/* Whether memfd fd holds session s's pattern for token t, every byte. */
static int memfd_ok(int fd, int s, int t)
{
	uint8_t *p;
	size_t i;
	int ok = 1;

	p = mmap(NULL, MEMFD_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 0;
	for (i = 0; i < MEMFD_SIZE && ok; i++)
		ok = p[i] == pattern(s, t, i);
	munmap(p, MEMFD_SIZE);
	return ok;
}

/* Checks of the unprivileged child, one bit each when they hold. */
enum {
	NO_OPEN = 1 << 0,	/* open(/dev/liveupdate): EACCES */
	NO_REBOOT = 1 << 1,	/* reboot(KEXEC): EPERM */
	GOT_NAME = 1 << 2,	/* SESSION_GET_NAME: the session's name */
	PRESERVED = 1 << 3,	/* SESSION_PRESERVE_FD of its own memfd */
	NO_CREATE = 1 << 4,	/* CREATE_SESSION on the session fd: EINVAL */
	NO_RETRIEVE = 1 << 5,	/* SESSION_RETRIEVE_FD on an outgoing session: EINVAL */
	ALL_CHECKS = (1 << 6) - 1,
};

static int unprivileged_child(int sfd)
{
	struct liveupdate_ioctl_create_session create = { .size = sizeof(create) };
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int fd, got = 0;

	if (setgroups(0, NULL) || setgid(1000) || setuid(1000))
		return 0;
	fd = open(LUO_DEVICE, O_RDWR);
	if (fd < 0 && errno == EACCES)
		got |= NO_OPEN;
	if (reboot(LINUX_REBOOT_CMD_KEXEC) == -1 && errno == EPERM)
		got |= NO_REBOOT;
	if (!luo_get_session_name(sfd, name, sizeof(name)) && !strcmp(name, names[1]))
		got |= GOT_NAME;
	fd = make_memfd(1, 102);
	if (!luo_session_preserve_fd(sfd, fd, 102))
		got |= PRESERVED;
	close(fd);
	strcpy((char *)create.name, "freeze-unprivileged");
	if (ioctl(sfd, LIVEUPDATE_IOCTL_CREATE_SESSION, &create) == -1 && errno == EINVAL)
		got |= NO_CREATE;
	if (luo_session_retrieve_fd(sfd, 1) == -EINVAL)
		got |= NO_RETRIEVE;
	return got;
}

/* Runs unprivileged_child() in a child that keeps only fd sfd. */
static int run_unprivileged(int sfd)
{
	int status, fd;
	pid_t pid = fork();

	if (pid < 0)
		return 0;
	if (pid == 0) {
		for (fd = 3; fd < 1024; fd++)
			if (fd != sfd)
				close(fd);
		_exit(unprivileged_child(sfd));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 0;
	return WEXITSTATUS(status);
}

#define RACE_THREADS 4
#define RACE_ITERS 1000

static void race_name(char *name, int t, int i)
{
	snprintf(name, LIVEUPDATE_SESSION_NAME_LENGTH, "race-%d-%d", t, i);
}

/* Memfd token k of race session (t, i): one page, its first word set. */
static uint64_t race_word(int t, int i, int k)
{
	return 0x7ace000000000000ULL | (uint64_t)t << 32 | (uint64_t)i << 8 | k;
}

static int race_ready;

static void *race_thread(void *arg)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int t = (int)(long)arg, i, k, sfd, fd;
	uint64_t v;

	for (i = 0; i < RACE_ITERS; i++) {
		race_name(name, t, i);
		sfd = luo_create_session(race_luo, name);
		if (sfd < 0)
			continue;
		for (k = 1; k <= 1 + i % 3; k++) {
			v = race_word(t, i, k);
			fd = memfd_create("race", MFD_CLOEXEC);
			if (fd < 0)
				break;
			if (pwrite(fd, &v, sizeof(v), 0) == sizeof(v))
				luo_session_preserve_fd(sfd, fd, k);
			close(fd);
		}
		if (i == 0)
			__atomic_add_fetch(&race_ready, 1, __ATOMIC_SEQ_CST);
		if (i % 2)
			close(sfd);
	}
	return NULL;
}

/*
 * Leaves a process whose threads make and close sessions while luo_init
 * reboots; returns once each thread has made its first session.
 */
static void start_race(void)
{
	struct rlimit nofile = { 8192, 8192 };
	pthread_t th;
	int p[2], t;
	char c;

	if (pipe(p))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	if (fork() == 0) {
		close(p[0]);
		setrlimit(RLIMIT_NOFILE, &nofile);
		for (t = 0; t < RACE_THREADS; t++)
			pthread_create(&th, NULL, race_thread, (void *)(long)t);
		while (__atomic_load_n(&race_ready, __ATOMIC_SEQ_CST) < RACE_THREADS)
			usleep(100);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		ksft_exit_fail_msg("the race process did not start\n");
}

/* Stage 2: each race session that came back is whole, as far as it got. */
static void check_race(int luo)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int t, i, k, sfd, fd, bad = 0, found = 0, files = 0, firsts = 0;
	uint64_t v;

	for (t = 0; t < RACE_THREADS; t++) {
		for (i = 0; i < RACE_ITERS; i++) {
			race_name(name, t, i);
			sfd = luo_retrieve_session(luo, name);
			if (sfd < 0) {
				if (sfd != -ENOENT && bad++ < 3)
					ksft_print_msg("%s: %s\n", name, strerror(-sfd));
				continue;
			}
			found++;
			firsts += i == 0;
			/* Tokens 1..j come back, each with its word; none after. */
			for (k = 1; k <= 1 + i % 3; k++) {
				fd = luo_session_retrieve_fd(sfd, k);
				if (fd < 0)
					break;
				v = 0;
				if (pread(fd, &v, sizeof(v), 0) != sizeof(v) ||
				    v != race_word(t, i, k)) {
					if (bad++ < 3)
						ksft_print_msg("%s token %d: %#llx\n", name, k,
							       (unsigned long long)v);
				}
				files++;
				close(fd);
			}
			for (k++; k <= 1 + i % 3; k++) {
				fd = luo_session_retrieve_fd(sfd, k);
				if (fd >= 0) {
					if (bad++ < 3)
						ksft_print_msg("%s: token %d after a missing one\n",
							       name, k);
					close(fd);
				}
			}
			if (luo_session_finish(sfd) && bad++ < 3)
				ksft_print_msg("%s: finish failed\n", name);
			close(sfd);
		}
	}
	ksft_test_result(!bad && firsts == RACE_THREADS,
			 "race: %d sessions and %d memfds back, each whole (%d wrong, %d of %d first sessions)\n",
			 found, files, bad, firsts, RACE_THREADS);
}

static void stage1(int luo, int lifo)
{
	int sfd[NSESSIONS], tfd[NSESSIONS][3], fd, s, i, ret, bad = 0;
	char log[512], want[512];

	for (s = 0; s < NSESSIONS; s++) {
		sfd[s] = luo_create_session(luo, names[s]);
		if (sfd[s] < 0)
			ksft_exit_fail_msg("create %s: %s\n", names[s], strerror(-sfd[s]));
		fd = make_memfd(s, 100);
		bad |= luo_session_preserve_fd(sfd[s], fd, 100) != 0;
		close(fd);
		for (i = 0; values[s][i]; i++) {
			tfd[s][i] = test_file(values[s][i], values[s][i] == FAILING);
			bad |= luo_session_preserve_fd(sfd[s], tfd[s][i], i + 1) != 0;
		}
	}
	ksft_test_result(!bad, "three sessions, each a memfd and handler files\n");

	clear_log();
	errno = 0;
	ret = reboot(LINUX_REBOOT_CMD_KEXEC);
	ksft_test_result(ret == -1 && errno == EBUSY,
			 "reboot with file 22's freeze failing: %d (%s), want EBUSY\n", ret,
			 strerror(errno));

	snprintf(want, sizeof(want), "%s",
		 lifo ? "F11 F12 F21 F22! U21 U12 U11" : "F11 F12 F21 F22! U21 U11 U12");
	ret = read_log(log, sizeof(log));
	ksft_test_result(!ret && !strcmp(log, want),
			 "handler calls: \"%s\", want \"%s\" (%s)\n", log, want,
			 lifo ? "every freeze undone, last first" : "the C reference's order");

	/* The sessions are usable again. */
	fd = make_memfd(0, 101);
	ret = luo_session_preserve_fd(sfd[0], fd, 101);
	close(fd);
	ksft_test_result(!ret, "preserve a second memfd into %s after the failed reboot: %d\n",
			 names[0], ret);

	struct luo_test_set set = { .value = 22 }, set32 = { .value = 32 };

	ret = ioctl(tfd[1][1], LUO_TEST_SET, &set) | ioctl(tfd[2][0], LUO_TEST_SET, &set32);
	ksft_test_result(!ret, "file 22 stops failing, file 31 becomes 32\n");

	ret = run_unprivileged(sfd[1]);
	ksft_test_result(ret == ALL_CHECKS,
			 "uid 1000 with the fd of %s: checks held %#x of %#x (no open, no reboot, name, preserve, no create, no retrieve)\n",
			 names[1], ret, ALL_CHECKS);
	/* Every fd stays open across luo_init's kexec. */
}

static void stage2(int luo, int lifo)
{
	int sfd[NSESSIONS], fd, s, i, ret, bad = 0;
	uint64_t v, want;
	char log[512];

	check_race(luo);
	for (s = 0; s < NSESSIONS; s++) {
		sfd[s] = luo_retrieve_session(luo, names[s]);
		if (sfd[s] < 0)
			ksft_exit_fail_msg("retrieve %s: %s\n", names[s], strerror(-sfd[s]));
	}
	for (s = 0; s < NSESSIONS; s++) {
		for (i = 100; i <= (s == 0 ? 101 : s == 1 ? 102 : 100); i++) {
			if (s == 1 && i == 101)
				continue;
			fd = luo_session_retrieve_fd(sfd[s], i);
			if (fd < 0 || !memfd_ok(fd, s, i)) {
				ksft_print_msg("%s memfd %d: %d\n", names[s], i, fd);
				bad++;
			}
			if (fd >= 0)
				close(fd);
		}
	}
	ksft_test_result(!bad, "every memfd back, every byte (%d wrong)\n", bad);

	clear_log();
	bad = 0;
	for (s = 0; s < NSESSIONS; s++) {
		for (i = 0; values[s][i]; i++) {
			want = values[s][i] == 31 ? 32 : values[s][i];
			v = 0;
			fd = luo_session_retrieve_fd(sfd[s], i + 1);
			if (fd < 0 || ioctl(fd, LUO_TEST_GET, &v) || v != want) {
				ksft_print_msg("%s file %d: fd %d, value %llu, want %llu\n", names[s],
					       i + 1, fd, (unsigned long long)v,
					       (unsigned long long)want);
				bad++;
			}
			if (fd >= 0)
				close(fd);
		}
	}
	ksft_test_result(!bad, "every handler file back with its value (%d wrong)\n", bad);

	for (s = 0; s < NSESSIONS; s++)
		bad |= luo_session_finish(sfd[s]) != 0;
	/*
	 * The handler's FLB, which nobody asked for, is retrieved by LUO when
	 * the first of its files finishes and finished with the last.  C puts
	 * a reference count of 0 (a refcount_t underflow WARN) and never
	 * retrieves nor finishes it.
	 */
	const char *want_finish = lifo ?
		"R11 R12 R21 R22 R32 D12 flb-retrieve D11 D22 D21 D32 flb-finish" :
		"R11 R12 R21 R22 R32 D12 D11 D22 D21 D32";

	ret = read_log(log, sizeof(log));
	ksft_test_result(!bad && !ret && !strcmp(log, want_finish),
			 "retrieve and finish: handler calls \"%s\", want \"%s\"%s\n", log,
			 want_finish, lifo ? "" : " (the C reference: its FLB never finished)");
	for (s = 0; s < NSESSIONS; s++)
		close(sfd[s]);

	/* An outgoing session in this kernel: closing it unpreserves its file. */
	clear_log();
	s = luo_create_session(luo, "freeze-next");
	fd = test_file(41, 0);
	ret = s < 0 ? s : luo_session_preserve_fd(s, fd, 1);
	close(fd);
	if (s >= 0)
		close(s);
	read_log(log, sizeof(log));
	ksft_test_result(!ret && !strcmp(log, "flb-preserve P41 X41 flb-unpreserve"),
			 "preserve and close a new session: handler calls \"%s\"\n", log);
	close(luo);
}

int main(int argc, char **argv)
{
	int stage = 0, nstages = 0, lifo = 1, luo, opt;

	while ((opt = getopt(argc, argv, "s:n:o:")) != -1) {
		if (opt == 's')
			stage = atoi(optarg);
		else if (opt == 'n')
			nstages = atoi(optarg);
		else if (opt == 'o')
			lifo = strcmp(optarg, "c");
	}
	if (stage < 1 || stage > 2 || nstages != 2) {
		fprintf(stderr, "usage: %s -s 1|2 -n 2 [-o lifo|c]\n", argv[0]);
		return 2;
	}
	ksft_print_header();
	ksft_set_plan(stage == 1 ? 6 : 5);
	ksft_print_msg("stage %d/%d\n", stage, nstages);
	luo = luo_open_device();
	if (luo < 0)
		ksft_exit_fail_msg("open %s: %s\n", LUO_DEVICE, strerror(errno));
	if (stage == 1) {
		stage1(luo, lifo);
		if (ksft_get_fail_cnt())
			ksft_exit_fail();
		/* The race process keeps the sessions above (and luo) open. */
		race_luo = luo;
		start_race();
		ksft_print_cnts();
		return 0;
	}
	stage2(luo, lifo);
	ksft_finished();
}
