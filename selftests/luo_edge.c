// SPDX-License-Identifier: GPL-2.0
/*
 * luo_edge: refused creations at the edge of a KHO block, across a kexec.
 *
 *   luo_edge -s STAGE -n 2
 *
 * Session and file entries are written into KHO blocks of one page: a
 * 16-byte header, then 51 session entries (80 bytes) or 63 file entries
 * (64 bytes).  CREATE_SESSION and PRESERVE_FD grow the block set before
 * they check their argument.  Upstream's luo_session_create() leaves the
 * grown block in place when the name is taken (EEXIST), so a kexec right
 * after a refused 52nd session hands over an empty block, which the next
 * kernel's kho_block_set_restore() rejects; luo_session_setup_incoming()
 * fails and luo_restore_fail() panics: every preserved session is lost.
 * The Rust LUO gives the block back (issue 9, first defect).
 *
 * Stage 1:
 *   51 sessions (one full block): "edge-files" and "edge-1" .. "edge-50";
 *   63 one-page memfds (one full block) preserved into "edge-files";
 *   a 64th PRESERVE_FD with a bad fd: EBADF (the file block it grew is
 *   given back, in C too); a 52nd CREATE_SESSION with a taken name:
 *   EEXIST; then the kexec, with nothing closed in between.
 * Stage 2:
 *   every session retrieved by name, every memfd by token with its word,
 *   then FINISH.
 * Output: KTAP (kselftest.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libliveupdate.h>

#define FILES_SESSION "edge-files"
/* (KHO_BLOCK_SIZE - sizeof(struct kho_block_header_ser)) / entry size. */
#define SESSIONS_PER_BLOCK ((4096 - 16) / 80)
#define FILES_PER_BLOCK ((4096 - 16) / 64)

static void name_of(char name[LIVEUPDATE_SESSION_NAME_LENGTH], unsigned int i)
{
	if (i == 0)
		snprintf(name, LIVEUPDATE_SESSION_NAME_LENGTH, "%s", FILES_SESSION);
	else
		snprintf(name, LIVEUPDATE_SESSION_NAME_LENGTH, "edge-%u", i);
}

static uint64_t word(unsigned int i)
{
	return 0xed6e000000000000ULL | i;
}

static void stage1(int luo)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	unsigned int i, bad = 0;
	int fds[SESSIONS_PER_BLOCK], fd, ret;

	for (i = 0; i < SESSIONS_PER_BLOCK; i++) {
		name_of(name, i);
		fds[i] = luo_create_session(luo, name);
		if (fds[i] < 0 && bad++ < 3)
			ksft_print_msg("create %s: %s\n", name, strerror(-fds[i]));
	}
	ksft_test_result(!bad, "create %u sessions, one full block (%u failed)\n",
			 SESSIONS_PER_BLOCK, bad);

	bad = 0;
	for (i = 0; i < FILES_PER_BLOCK; i++) {
		uint64_t v = word(i);

		fd = memfd_create("edge", 0);
		if (fd < 0 || pwrite(fd, &v, sizeof(v), 0) != sizeof(v))
			ksft_exit_fail_msg("memfd %u: %s\n", i, strerror(errno));
		ret = luo_session_preserve_fd(fds[0], fd, i + 1);
		if (ret && bad++ < 3)
			ksft_print_msg("preserve memfd %u: %s\n", i, strerror(-ret));
		close(fd);
	}
	ksft_test_result(!bad, "preserve %u memfds, one full block (%u failed)\n",
			 FILES_PER_BLOCK, bad);

	ret = luo_session_preserve_fd(fds[0], -1, FILES_PER_BLOCK + 1);
	ksft_test_result(ret == -EBADF, "preserve fd -1 into the full file block: %d, want -EBADF\n",
			 ret);

	name_of(name, 1);
	ret = luo_create_session(luo, name);
	ksft_test_result(ret == -EEXIST, "create %s again with the session block full: %d, want -EEXIST\n",
			 name, ret);
	if (ret >= 0)
		close(ret);
	/* Every session stays open across the kexec. */
}

static void stage2(int luo)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH], got[LIVEUPDATE_SESSION_NAME_LENGTH];
	unsigned int i, bad = 0;
	int fds[SESSIONS_PER_BLOCK], fd, ret;
	struct stat st;
	uint64_t v;

	for (i = 0; i < SESSIONS_PER_BLOCK; i++) {
		name_of(name, i);
		fds[i] = luo_retrieve_session(luo, name);
		if (fds[i] < 0 || luo_get_session_name(fds[i], got, sizeof(got)) ||
		    strcmp(got, name)) {
			if (bad++ < 3)
				ksft_print_msg("%s: %d\n", name, fds[i]);
		}
	}
	ksft_test_result(!bad, "retrieve the %u sessions by name (%u wrong)\n", SESSIONS_PER_BLOCK,
			 bad);
	if (fds[0] < 0)
		ksft_exit_fail_msg("no %s\n", FILES_SESSION);

	bad = 0;
	for (i = 0; i < FILES_PER_BLOCK; i++) {
		v = 0;
		fd = luo_session_retrieve_fd(fds[0], i + 1);
		if (fd < 0 || fstat(fd, &st) || st.st_size != sizeof(v) ||
		    pread(fd, &v, sizeof(v), 0) != sizeof(v) || v != word(i)) {
			if (bad++ < 3)
				ksft_print_msg("memfd %u: fd %d, word %#llx\n", i, fd,
					       (unsigned long long)v);
		}
		if (fd >= 0)
			close(fd);
	}
	ksft_test_result(!bad, "retrieve the %u memfds, each its word (%u wrong)\n",
			 FILES_PER_BLOCK, bad);
	ret = luo_session_finish(fds[0]);
	ksft_test_result(ret == 0, "finish %s: %d\n", FILES_SESSION, ret);
	for (i = 0; i < SESSIONS_PER_BLOCK; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int main(int argc, char **argv)
{
	int stage = 0, nstages = 0, luo, opt;

	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		if (opt == 's')
			stage = atoi(optarg);
		else if (opt == 'n')
			nstages = atoi(optarg);
	}
	if (stage < 1 || stage > 2 || nstages != 2) {
		fprintf(stderr, "usage: %s -s 1|2 -n 2\n", argv[0]);
		return 2;
	}
	if (getpagesize() != 4096)
		ksft_exit_skip("the block sizes assume 4 KiB pages\n");
	ksft_print_header();
	ksft_set_plan(stage == 1 ? 4 : 3);
	ksft_print_msg("stage %d/%d\n", stage, nstages);
	luo = luo_open_device();
	if (luo < 0)
		ksft_exit_fail_msg("open %s: %s\n", LUO_DEVICE, strerror(errno));
	if (stage == 1) {
		stage1(luo);
		close(luo);
		if (ksft_get_fail_cnt())
			ksft_exit_fail();
		ksft_print_cnts();
		daemonize_and_wait();
	}
	stage2(luo);
	ksft_finished();
}
