// SPDX-License-Identifier: GPL-2.0
/*
 * luo_scale: many sessions and many files across a kexec, every one checked.
 *
 *   luo_scale -s STAGE -n 2 [-N COUNT]      (COUNT: default 20000)
 *
 * Stage 1:
 *   sessions   COUNT sessions "scale-I" created and kept open; creating
 *              the first, the middle and the last one again gives EEXIST;
 *              every 7th is closed (removed from the middle of the list),
 *              and every 14th of those created again (now at its end).
 *   files      COUNT one-page memfds, memfd I holding word(I), preserved
 *              into session "scale-files" under token(I), tokens spread
 *              over 64 bits in an order unlike I's; a token already used
 *              gives EEXIST and a memfd already preserved EBUSY.
 * Stage 2:
 *   sessions   each "scale-I" retrieved by name: the ones closed at stage 1
 *              and not created again give ENOENT, every other one gives a
 *              session whose GET_NAME is its name; retrieving one again
 *              gives EINVAL;
 *   files      "scale-files" retrieved, every token(I) gives a memfd of one
 *              word, word(I); a second RETRIEVE_FD of a token gives the
 *              same file; an unknown token gives ENOENT; FINISH succeeds.
 *
 * The point is scale: with lists searched from the start, the checks above
 * cost O(COUNT^2) per stage (upstream: luo_session_insert() says so).
 * Output: KTAP (kselftest.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libliveupdate.h>

#define FILES_SESSION "scale-files"

static unsigned int count = 20000;

static void name_of(char name[LIVEUPDATE_SESSION_NAME_LENGTH], unsigned int i)
{
	snprintf(name, LIVEUPDATE_SESSION_NAME_LENGTH, "scale-%u", i);
}

/* Session I is closed at stage 1, and not created again. */
static int is_gone(unsigned int i)
{
	return i % 7 == 0 && i % 14 != 0;
}

/* Token of memfd I: distinct for distinct I, spread over 64 bits. */
static uint64_t token(unsigned int i)
{
	return ((uint64_t)i + 1) * 0x9e3779b97f4a7c15ULL;
}

/* The word memfd I holds. */
static uint64_t word(unsigned int i)
{
	return 0x5ca1e00000000000ULL | i;
}

static void stage1_sessions(int luo, int *fds)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	unsigned int i, bad = 0, dup_bad = 0, reopen_bad = 0;
	unsigned int probes[3] = { 0, count / 2, count - 1 };

	for (i = 0; i < count; i++) {
		name_of(name, i);
		fds[i] = luo_create_session(luo, name);
		if (fds[i] < 0 && bad++ < 3)
			ksft_print_msg("create %s: %s\n", name, strerror(-fds[i]));
	}
	ksft_test_result(!bad, "create %u sessions (%u failed)\n", count, bad);

	for (i = 0; i < 3; i++) {
		int ret;

		name_of(name, probes[i]);
		ret = luo_create_session(luo, name);
		if (ret != -EEXIST) {
			ksft_print_msg("create %s again: %d, want -EEXIST\n", name, ret);
			dup_bad++;
			if (ret >= 0)
				close(ret);
		}
	}
	ksft_test_result(!dup_bad, "the first, middle and last name again: EEXIST\n");

	for (i = 0; i < count; i++) {
		if (i % 7 || fds[i] < 0)
			continue;
		close(fds[i]);
		fds[i] = -1;
		if (i % 14 == 0) {
			name_of(name, i);
			fds[i] = luo_create_session(luo, name);
			reopen_bad += fds[i] < 0;
		}
	}
	ksft_test_result(!reopen_bad, "every 7th session closed, every 14th created again (%u failed)\n",
			 reopen_bad);
}

static void stage1_files(int luo)
{
	unsigned int i, bad = 0, errno_bad = 0;
	int sess, fd, ret;

	sess = luo_create_session(luo, FILES_SESSION);
	if (sess < 0)
		ksft_exit_fail_msg("create %s: %s\n", FILES_SESSION, strerror(-sess));
	for (i = 0; i < count; i++) {
		uint64_t v = word(i);

		fd = memfd_create("scale", 0);
		if (fd < 0 || pwrite(fd, &v, sizeof(v), 0) != sizeof(v))
			ksft_exit_fail_msg("memfd %u: %s\n", i, strerror(errno));
		ret = luo_session_preserve_fd(sess, fd, token(i));
		if (ret && bad++ < 3)
			ksft_print_msg("preserve memfd %u: %s\n", i, strerror(-ret));
		/* A token in use, then this memfd again under a new token. */
		if (i % 1000 == 999) {
			int fd2 = memfd_create("scale-dup", 0);

			if (fd2 < 0)
				ksft_exit_fail_msg("memfd: %s\n", strerror(errno));
			ret = luo_session_preserve_fd(sess, fd2, token(i / 2));
			errno_bad += ret != -EEXIST;
			close(fd2);
			ret = luo_session_preserve_fd(sess, fd, token(count + i));
			errno_bad += ret != -EBUSY;
		}
		close(fd);
	}
	ksft_test_result(!bad, "preserve %u memfds into %s (%u failed)\n", count, FILES_SESSION,
			 bad);
	ksft_test_result(!errno_bad, "a used token: EEXIST; a preserved memfd again: EBUSY (%u wrong)\n",
			 errno_bad);
	/* sess stays open across the kexec. */
}

static void stage2_sessions(int luo, int *fds)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH], got[LIVEUPDATE_SESSION_NAME_LENGTH];
	unsigned int i, bad = 0, gone = 0;
	int ret;

	for (i = 0; i < count; i++) {
		name_of(name, i);
		fds[i] = luo_retrieve_session(luo, name);
		if (is_gone(i)) {
			gone++;
			if (fds[i] != -ENOENT) {
				if (bad++ < 3)
					ksft_print_msg("%s (closed): %d, want -ENOENT\n", name, fds[i]);
				if (fds[i] >= 0)
					close(fds[i]);
			}
			fds[i] = -1;
			continue;
		}
		if (fds[i] < 0 || luo_get_session_name(fds[i], got, sizeof(got)) ||
		    strcmp(got, name)) {
			if (bad++ < 3)
				ksft_print_msg("%s: %d\n", name, fds[i]);
		}
	}
	ksft_test_result(!bad, "retrieve %u sessions by name, %u of them closed before the kexec (%u wrong)\n",
			 count, gone, bad);
	name_of(name, 1);
	ret = luo_retrieve_session(luo, name);
	ksft_test_result(ret == -EINVAL, "retrieve %s again: %d, want -EINVAL\n", name, ret);
	if (ret >= 0)
		close(ret);
}

static void stage2_files(int luo)
{
	unsigned int i, bad = 0;
	struct stat st, st2;
	int sess, fd, fd2, ret;
	uint64_t v;

	sess = luo_retrieve_session(luo, FILES_SESSION);
	if (sess < 0)
		ksft_exit_fail_msg("retrieve %s: %s\n", FILES_SESSION, strerror(-sess));
	for (i = 0; i < count; i++) {
		v = 0;
		fd = luo_session_retrieve_fd(sess, token(i));
		if (fd < 0 || fstat(fd, &st) || st.st_size != sizeof(v) ||
		    pread(fd, &v, sizeof(v), 0) != sizeof(v) || v != word(i)) {
			if (bad++ < 3)
				ksft_print_msg("memfd %u: fd %d, word %#llx\n", i, fd,
					       (unsigned long long)v);
		} else if (i % 1000 == 0) {
			fd2 = luo_session_retrieve_fd(sess, token(i));
			if (fd2 < 0 || fstat(fd2, &st2) || st2.st_ino != st.st_ino)
				bad++;
			if (fd2 >= 0)
				close(fd2);
		}
		if (fd >= 0)
			close(fd);
	}
	ksft_test_result(!bad, "retrieve %u memfds by token, each its word; again: the same file (%u wrong)\n",
			 count, bad);
	ret = luo_session_retrieve_fd(sess, token(count));
	ksft_test_result(ret == -ENOENT, "an unknown token: %d, want -ENOENT\n", ret);
	ret = luo_session_finish(sess);
	ksft_test_result(ret == 0, "finish %s: %d\n", FILES_SESSION, ret);
	close(sess);
}

int main(int argc, char **argv)
{
	int stage = 0, nstages = 0, luo, opt, ret, *fds;

	while ((opt = getopt(argc, argv, "s:n:N:")) != -1) {
		if (opt == 's')
			stage = atoi(optarg);
		else if (opt == 'n')
			nstages = atoi(optarg);
		else if (opt == 'N')
			count = strtoul(optarg, NULL, 0);
	}
	if (stage < 1 || stage > 2 || nstages != 2 || count < 14 || count > 1000000) {
		fprintf(stderr, "usage: %s -s 1|2 -n 2 [-N COUNT (14 to 1000000)]\n", argv[0]);
		return 2;
	}
	ksft_print_header();
	ksft_set_plan(5);
	ksft_print_msg("stage %d/%d: %u sessions, %u files\n", stage, nstages, count, count);

	ret = luo_ensure_nofile_limit(count + 64);
	if (ret)
		ksft_exit_fail_msg("RLIMIT_NOFILE %u: %s\n", count + 64, strerror(-ret));
	fds = calloc(count, sizeof(*fds));
	if (!fds)
		ksft_exit_fail_msg("out of memory\n");
	luo = luo_open_device();
	if (luo < 0)
		ksft_exit_fail_msg("open %s: %s\n", LUO_DEVICE, strerror(errno));

	if (stage == 1) {
		stage1_sessions(luo, fds);
		stage1_files(luo);
		close(luo);
		if (ksft_get_fail_cnt())
			ksft_exit_fail();
		ksft_print_cnts();
		daemonize_and_wait();
	}
	stage2_sessions(luo, fds);
	stage2_files(luo);
	ksft_finished();
}
