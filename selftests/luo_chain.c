// SPDX-License-Identifier: GPL-2.0
/*
 * luo_chain: memfds of known contents carried through a chain of live
 * updates (kernel A -> B -> C ...), every byte checked at every stage.
 *
 *   luo_chain -s STAGE -n NSTAGES
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <libliveupdate.h>

#define PAGE 4096UL

static const char *const session_names[] = { "chain-a", "chain-b", "chain-c" };
#define NSESSIONS ARRAY_SIZE(session_names)

struct spec {
	unsigned int session;
	uint64_t token;
	size_t size;
	off_t pos;
	unsigned int seals;	/* F_SEAL_SEAL alone: made without MFD_ALLOW_SEALING */
	int sparse;		/* only pages 10 and 40 are ever written */
	const char *what;
};

static const struct spec specs[] = {
	{ 0, 0x100, (1UL << 20) + 123, 0, F_SEAL_SEAL, 0,
	  "1 MiB + 123 bytes, no MFD_ALLOW_SEALING" },
	{ 0, 0x101, 0, 0, 0, 0, "empty" },
	{ 0, 0x102, 3 * PAGE, PAGE + 1, 0, 0, "3 pages, position 4097" },
	{ 1, 0x200, 64 * 1024, 0,
	  F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE, 0,
	  "64 KiB sealed (seal, shrink, grow, write)" },
	{ 1, 0x201, 256 * 1024, 100, 0, 1, "256 KiB sparse, position 100" },
	{ 2, 0x300, 4UL << 20, 12345, 0, 0, "4 MiB, position 12345" },
};
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

/* The byte at offset @off of the file @s: a function of token and offset. */
static uint8_t expected(const struct spec *s, size_t off)
{
	uint64_t x;

	if (s->sparse && off / PAGE != 10 && off / PAGE != 40)
		return 0;
	x = (off + 1) * 0x9E3779B97F4A7C15ULL ^ (s->token * 0xBF58476D1CE4E5B9ULL);
	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 8));
}

static void fill(int fd, const struct spec *s)
{
	static uint8_t buf[PAGE];
	size_t off, n, i;

	if (ftruncate(fd, s->size))
		fail("ftruncate");
	for (off = 0; off < s->size; off += n) {
		n = s->size - off < PAGE ? s->size - off : PAGE;
		if (s->sparse && off / PAGE != 10 && off / PAGE != 40)
			continue;
		for (i = 0; i < n; i++)
			buf[i] = expected(s, off + i);
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			fail("pwrite");
	}
	if (lseek(fd, s->pos, SEEK_SET) != s->pos)
		fail("lseek");
	if (s->seals != F_SEAL_SEAL && s->seals && fcntl(fd, F_ADD_SEALS, s->seals))
		fail("F_ADD_SEALS");
}

static void verify(int fd, const struct spec *s)
{
	static uint8_t buf[PAGE];
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
		if (n <= 0)
			fail("pread at %zu", off);
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != expected(s, off + i))
				fail("byte %zu is %#x, expected %#x", off + i, buf[i],
				     expected(s, off + i));
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

int main(int argc, char **argv)
{
	int sess[NSESSIONS], fds[NFILES], luo, opt;
	unsigned long long bytes = 0;
	size_t i;

	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		if (opt == 's')
			stage = atoi(optarg);
		else if (opt == 'n')
			nstages = atoi(optarg);
	}
	if (stage < 1 || nstages < 2 || stage > nstages) {
		fprintf(stderr, "usage: %s -s STAGE -n NSTAGES (NSTAGES >= 2)\n", argv[0]);
		return 2;
	}
	ksft_print_header();
	/* Stage 1: create, preserve; later: retrieve, verify, finish (and again). */
	ksft_set_plan(stage == 1 ? NSESSIONS + NFILES :
		      2 * NSESSIONS + NFILES + (stage < nstages) * (NSESSIONS + NFILES));
	begin("open %s", LUO_DEVICE);
	luo = luo_open_device();
	if (luo < 0)
		fail("open");

	if (stage == 1) {
		for (i = 0; i < NSESSIONS; i++) {
			sess[i] = create_session(luo, session_names[i]);
			pass();
		}
		for (i = 0; i < NFILES; i++) {
			const struct spec *s = &specs[i];
			int fd;

			begin("preserve %s/%#llx (%s)", session_names[s->session],
			      (unsigned long long)s->token, s->what);
			fd = memfd_create("luo-chain",
					  s->seals == F_SEAL_SEAL ? 0 : MFD_ALLOW_SEALING);
			if (fd < 0)
				fail("memfd_create");
			fill(fd, s);
			verify(fd, s);
			check(luo_session_preserve_fd(sess[s->session], fd, s->token),
			      "PRESERVE_FD");
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
	for (i = 0; i < NFILES; i++) {
		const struct spec *s = &specs[i];

		begin("verify %s/%#llx (%s)", session_names[s->session],
		      (unsigned long long)s->token, s->what);
		fds[i] = check(luo_session_retrieve_fd(sess[s->session], s->token), "RETRIEVE_FD");
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
		       stage, nstages, NFILES, bytes, NSESSIONS);
	if (stage == nstages)
		ksft_finished();

	/* Middle stage: preserve the retrieved memfds again for the next kernel. */
	for (i = 0; i < NSESSIONS; i++) {
		sess[i] = create_session(luo, session_names[i]);
		pass();
	}
	for (i = 0; i < NFILES; i++) {
		begin("re-preserve %s/%#llx for stage %d", session_names[specs[i].session],
		      (unsigned long long)specs[i].token, stage + 1);
		check(luo_session_preserve_fd(sess[specs[i].session], fds[i], specs[i].token),
		      "PRESERVE_FD");
		close(fds[i]);
		pass();
	}
	close(luo);
	hold_and_exit();
	return 0;
}
