// SPDX-License-Identifier: GPL-2.0
/*
 * luo_corrupt: handed-over LUO state corrupted on purpose at kexec (the
 * corruption knob of luo_test_handler.c, notes/handover-validation.md
 * section 3), and what userspace sees of it in the next kernel.
 *
 *   luo_corrupt -s STAGE -n 2 -m MODE[,MODE...]|none
 *
 * MODE is the K number of a corruption (notes section 3.4), with or without
 * the K: "-m 6", "-m K10,K14".  "-m none" arms nothing (the control run).
 * The kernel needs "luo_test_handler" on its command line for any mode.
 *
 * Stage 1: sessions "corrupt-a" (memfds with tokens 1 and 2), "corrupt-b"
 *   (tokens 1, 2 and 3) and "corrupt-c" (token 1).  Each memfd is 64 KiB of
 *   a pattern of its own (session, token), except corrupt-b's token 3: 1 MiB
 *   with pages 0..15 and 200..215 written and a hole between (several
 *   folios).  Then each MODE is armed through /dev/luo_test's
 *   LUO_TEST_CORRUPT, aimed at session "corrupt-b" and, for the file and
 *   memfd modes, its token 3.  A child keeps every session open for
 *   luo_init's kexec, during which the handler writes the corruptions (the
 *   old kernel's console says "luo_test_handler: corrupted K<n> ...").
 * Stage 2: reports what it finds, one KTAP test each, named so that a
 *   harness can grep the fact after the colon:
 *     "open /dev/liveupdate: ok" or ": <errno name>";
 *     for each session, "retrieve corrupt-X: ok", ": <errno name>" or
 *       ": not attempted" (no /dev/liveupdate);
 *     for each of its tokens, "corrupt-X token T: intact", ": <errno name>"
 *       (RETRIEVE_FD), ": wrong data (...)" (size or bytes differ; the
 *       parenthesis says where) or ": not attempted" (no session);
 *     for each session, "finish corrupt-X: ok", ": <errno name>" or
 *       ": not attempted".
 *   A test is "ok" exactly when its outcome is the one of an intact handover
 *   (open, retrieved, intact, finished).  Which outcome a corruption should
 *   give is the harness's business, not this program's.  Every retrieved
 *   session is finished and closed.
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
#include <sys/stat.h>
#include <unistd.h>
#include <libliveupdate.h>

#include "luo_test_handler.h"

#define NSESSIONS 3
#define SMALL_SIZE (64 * 1024)
#define PAGE 4096
#define BIG_SIZE (1024 * 1024)
/* corrupt-b's token 3: pages [0, 16) and [200, 216) written, a hole between. */
#define BIG_SESSION 1
#define BIG_TOKEN 3
#define TARGET_SESSION "corrupt-b"
#define TARGET_TOKEN 3

static const char *const names[NSESSIONS] = { "corrupt-a", "corrupt-b", "corrupt-c" };
static const int ntokens[NSESSIONS] = { 2, 3, 1 };

static int modes[LUO_TEST_CORRUPT_MAX];
static int nmodes;
static const char *mode_arg = "";

static const char *errname(int e)
{
	static char buf[32];

	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ERANGE: return "ERANGE";
	case ENOTTY: return "ENOTTY";
	case ENODATA: return "ENODATA";
	case EOVERFLOW: return "EOVERFLOW";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ESTALE: return "ESTALE";
	}
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

static int big(int s, int t)
{
	return s == BIG_SESSION && t == BIG_TOKEN;
}

static size_t memfd_size(int s, int t)
{
	return big(s, t) ? BIG_SIZE : SMALL_SIZE;
}

/* Whether page p of memfd (s, t) was written (else it is a hole). */
static int written(int s, int t, size_t p)
{
	return !big(s, t) || p < 16 || (p >= 200 && p < 216);
}

/* The byte at offset i of the memfd of session s with token t. */
static uint8_t expected(int s, int t, size_t i)
{
	if (!written(s, t, i / PAGE))
		return 0;
	return (uint8_t)(i * 131 + s * 17 + t * 7 + (i >> 12) + 1);
}

static int make_memfd(int s, int t)
{
	size_t size = memfd_size(s, t), p, i;
	uint8_t page[PAGE];
	int fd;

	fd = memfd_create("luo_corrupt", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, size))
		ksft_exit_fail_msg("memfd %s token %d: %s\n", names[s], t, strerror(errno));
	for (p = 0; p < size / PAGE; p++) {
		if (!written(s, t, p))
			continue;
		for (i = 0; i < PAGE; i++)
			page[i] = expected(s, t, p * PAGE + i);
		if (pwrite(fd, page, PAGE, p * PAGE) != PAGE)
			ksft_exit_fail_msg("write %s token %d: %s\n", names[s], t,
					   strerror(errno));
	}
	return fd;
}

/*
 * "intact" if memfd fd has the size and every byte of (s, t); otherwise
 * "wrong data (...)" in buf, saying what differs first.
 */
static const char *check_memfd(int fd, int s, int t, char *buf, size_t len)
{
	size_t size = memfd_size(s, t), off, i;
	uint8_t page[PAGE];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st)) {
		snprintf(buf, len, "wrong data (fstat: %s)", errname(errno));
		return buf;
	}
	if (st.st_size != (off_t)size) {
		snprintf(buf, len, "wrong data (size %lld, want %zu)", (long long)st.st_size,
			 size);
		return buf;
	}
	for (off = 0; off < size; off += PAGE) {
		n = pread(fd, page, PAGE, off);
		if (n != PAGE) {
			snprintf(buf, len, "wrong data (read at %zu: %zd, %s)", off, n,
				 n < 0 ? errname(errno) : "short");
			return buf;
		}
		for (i = 0; i < PAGE; i++) {
			if (page[i] != expected(s, t, off + i)) {
				snprintf(buf, len, "wrong data (byte %zu: %#x, want %#x)", off + i,
					 page[i], expected(s, t, off + i));
				return buf;
			}
		}
	}
	return "intact";
}

/* -m: "none", or K numbers separated by commas ("6", "K6,K10"). */
static int parse_modes(const char *arg)
{
	char *copy, *w, *save = NULL, *end;
	long m;

	mode_arg = arg;
	if (!strcmp(arg, "none"))
		return 0;
	copy = strdup(arg);
	if (!copy)
		return -1;
	for (w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (*w == 'K' || *w == 'k')
			w++;
		errno = 0;
		m = strtol(w, &end, 10);
		if (errno || end == w || *end || m < 1 || m > 255 ||
		    nmodes == LUO_TEST_CORRUPT_MAX) {
			free(copy);
			return -1;
		}
		modes[nmodes++] = (int)m;
	}
	free(copy);
	return nmodes ? 0 : -1;
}

static void stage1(int luo)
{
	int sfd[NSESSIONS], fd, s, t, i, ret, bad = 0, dev = -1, dev_err = 0;

	for (s = 0; s < NSESSIONS; s++) {
		sfd[s] = luo_create_session(luo, names[s]);
		if (sfd[s] < 0) {
			ksft_print_msg("create %s: %s\n", names[s], errname(-sfd[s]));
			bad++;
			continue;
		}
		for (t = 1; t <= ntokens[s]; t++) {
			fd = make_memfd(s, t);
			ret = luo_session_preserve_fd(sfd[s], fd, t);
			if (ret) {
				ksft_print_msg("preserve %s token %d: %s\n", names[s], t,
					       errname(-ret));
				bad++;
			}
			close(fd);
		}
	}
	ksft_test_result(!bad, "create corrupt-a (2 memfds), corrupt-b (3), corrupt-c (1)\n");

	if (nmodes) {
		dev = open("/dev/luo_test", O_RDWR | O_CLOEXEC);
		dev_err = errno;
		if (dev < 0)
			ksft_print_msg("open /dev/luo_test: %s (no luo_test_handler?)\n",
				       errname(dev_err));
	}
	for (i = 0; i < nmodes; i++) {
		struct luo_test_corrupt req = {
			.mode = modes[i],
			.token = TARGET_TOKEN,
		};

		snprintf(req.session, sizeof(req.session), "%s", TARGET_SESSION);
		if (dev < 0)
			ret = -dev_err;	/* the open's error */
		else
			ret = ioctl(dev, LUO_TEST_CORRUPT, &req) ? -errno : 0;
		ksft_test_result(!ret, "arm K%d on %s token %d: %s\n", modes[i], TARGET_SESSION,
				 TARGET_TOKEN, ret ? errname(-ret) : "ok");
	}
	if (dev >= 0)
		close(dev);
	/* Every session stays open across the kexec: daemonize_and_wait(). */
}

static void stage2(void)
{
	int luo, sfd[NSESSIONS], fd, s, t, ret;
	char buf[128];
	const char *what;

	ksft_print_msg("modes armed in stage 1: %s\n", mode_arg);
	luo = luo_open_device();
	if (luo < 0)
		ret = errno;
	else
		ret = 0;
	ksft_test_result(luo >= 0, "open /dev/liveupdate: %s\n", luo >= 0 ? "ok" : errname(ret));

	for (s = 0; s < NSESSIONS; s++) {
		if (luo < 0) {
			sfd[s] = -ENODEV;
			ksft_test_result(0, "retrieve %s: not attempted\n", names[s]);
			continue;
		}
		sfd[s] = luo_retrieve_session(luo, names[s]);
		ksft_test_result(sfd[s] >= 0, "retrieve %s: %s\n", names[s],
				 sfd[s] >= 0 ? "ok" : errname(-sfd[s]));
	}

	for (s = 0; s < NSESSIONS; s++) {
		for (t = 1; t <= ntokens[s]; t++) {
			if (sfd[s] < 0) {
				ksft_test_result(0, "%s token %d: not attempted\n", names[s], t);
				continue;
			}
			fd = luo_session_retrieve_fd(sfd[s], t);
			if (fd < 0) {
				ksft_test_result(0, "%s token %d: %s\n", names[s], t,
						 errname(-fd));
				continue;
			}
			what = check_memfd(fd, s, t, buf, sizeof(buf));
			ksft_test_result(!strcmp(what, "intact"), "%s token %d: %s\n", names[s], t,
					 what);
			close(fd);
		}
	}

	for (s = 0; s < NSESSIONS; s++) {
		if (sfd[s] < 0) {
			ksft_test_result(0, "finish %s: not attempted\n", names[s]);
			continue;
		}
		ret = luo_session_finish(sfd[s]);
		ksft_test_result(!ret, "finish %s: %s\n", names[s], ret ? errname(-ret) : "ok");
		close(sfd[s]);
	}
	if (luo >= 0)
		close(luo);
}

int main(int argc, char **argv)
{
	int stage = 0, nstages = 0, have_modes = 0, luo, opt, t, s;

	while ((opt = getopt(argc, argv, "s:n:m:")) != -1) {
		if (opt == 's') {
			stage = atoi(optarg);
		} else if (opt == 'n') {
			nstages = atoi(optarg);
		} else if (opt == 'm') {
			if (parse_modes(optarg)) {
				fprintf(stderr, "%s: bad -m %s\n", argv[0], optarg);
				return 2;
			}
			have_modes = 1;
		}
	}
	if (stage < 1 || stage > 2 || nstages != 2 || (stage == 1 && !have_modes)) {
		fprintf(stderr, "usage: %s -s 1|2 -n 2 -m MODE[,MODE...]|none\n", argv[0]);
		return 2;
	}
	if (getpagesize() != PAGE)
		ksft_exit_skip("the memfd layout assumes 4 KiB pages\n");
	ksft_print_header();
	for (t = 0, s = 0; s < NSESSIONS; s++)
		t += ntokens[s];
	ksft_set_plan(stage == 1 ? 1 + nmodes : 1 + NSESSIONS + t + NSESSIONS);
	ksft_print_msg("stage %d/%d, modes %s\n", stage, nstages, mode_arg);
	if (stage == 2) {
		stage2();
		ksft_finished();
	}

	luo = luo_open_device();
	if (luo < 0)
		ksft_exit_fail_msg("open %s: %s\n", LUO_DEVICE, strerror(errno));
	stage1(luo);
	if (ksft_get_fail_cnt())
		ksft_exit_fail();
	ksft_print_cnts();
	/* The child keeps luo and the sessions open; the parent exits 0. */
	daemonize_and_wait();
	return 0;
}
