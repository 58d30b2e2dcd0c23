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
 * open by a child process, as closing an outgoing session unpreserves it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/liveupdate.h>

#define PAGE 4096UL

static const char *const session_names[] = { "chain-a", "chain-b", "chain-c" };
#define NSESSIONS (sizeof(session_names) / sizeof(session_names[0]))

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
#define NFILES (sizeof(specs) / sizeof(specs[0]))

static int stage, nstages;

static void fail(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	printf("LUO-CHAIN: FAIL at stage %d: ", stage);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %d: %s)\n", e, strerror(e));
	exit(1);
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
		fail("ftruncate %#llx", (unsigned long long)s->token);
	for (off = 0; off < s->size; off += n) {
		n = s->size - off < PAGE ? s->size - off : PAGE;
		if (s->sparse && off / PAGE != 10 && off / PAGE != 40)
			continue;
		for (i = 0; i < n; i++)
			buf[i] = expected(s, off + i);
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			fail("pwrite %#llx", (unsigned long long)s->token);
	}
	if (lseek(fd, s->pos, SEEK_SET) != s->pos)
		fail("lseek %#llx", (unsigned long long)s->token);
	if (s->seals != F_SEAL_SEAL && s->seals && fcntl(fd, F_ADD_SEALS, s->seals))
		fail("F_ADD_SEALS %#llx", (unsigned long long)s->token);
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
		fail("fstat %#llx", (unsigned long long)s->token);
	if ((size_t)st.st_size != s->size)
		fail("token %#llx: size %lld, expected %zu",
		     (unsigned long long)s->token, (long long)st.st_size, s->size);
	pos = lseek(fd, 0, SEEK_CUR);
	if (pos != s->pos)
		fail("token %#llx: position %lld, expected %lld",
		     (unsigned long long)s->token, (long long)pos, (long long)s->pos);
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (unsigned int)seals != s->seals)
		fail("token %#llx: seals %#x, expected %#x",
		     (unsigned long long)s->token, seals, s->seals);
	for (off = 0; off < s->size; off += n) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n <= 0)
			fail("pread %#llx at %zu", (unsigned long long)s->token, off);
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != expected(s, off + i))
				fail("token %#llx: byte %zu is %#x, expected %#x",
				     (unsigned long long)s->token, off + i,
				     buf[i], expected(s, off + i));
	}
	if (pread(fd, buf, 1, s->size) != 0)
		fail("token %#llx: data past the end", (unsigned long long)s->token);
}

/* A session fd is an anonymous-inode file named "[luo_session] NAME". */
static void check_session_file(int fd, const char *name)
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
}

static int create_session(int luo, const char *name)
{
	struct liveupdate_ioctl_create_session a = { .size = sizeof(a) };

	snprintf((char *)a.name, sizeof(a.name), "%s", name);
	if (ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &a))
		fail("CREATE_SESSION %s", name);
	check_session_file(a.fd, name);
	return a.fd;
}

static int retrieve_session(int luo, const char *name)
{
	struct liveupdate_ioctl_retrieve_session a = { .size = sizeof(a) };
	struct liveupdate_session_get_name g = { .size = sizeof(g) };

	snprintf((char *)a.name, sizeof(a.name), "%s", name);
	if (ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a))
		fail("RETRIEVE_SESSION %s", name);
	if (ioctl(a.fd, LIVEUPDATE_SESSION_GET_NAME, &g))
		fail("GET_NAME %s", name);
	if (strcmp((char *)g.name, name))
		fail("GET_NAME returned '%s' for '%s'", g.name, name);
	check_session_file(a.fd, name);
	return a.fd;
}

static void preserve(int session, int fd, uint64_t token)
{
	struct liveupdate_session_preserve_fd a = {
		.size = sizeof(a), .fd = fd, .token = token };

	if (ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &a))
		fail("PRESERVE_FD token %#llx", (unsigned long long)token);
}

static int retrieve(int session, uint64_t token)
{
	struct liveupdate_session_retrieve_fd a = { .size = sizeof(a), .token = token };

	if (ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &a))
		fail("RETRIEVE_FD token %#llx", (unsigned long long)token);
	return a.fd;
}

static void finish(int session, const char *name)
{
	struct liveupdate_session_finish a = { .size = sizeof(a) };

	if (ioctl(session, LIVEUPDATE_SESSION_FINISH, &a))
		fail("SESSION_FINISH %s", name);
}

/* Keep the session fds open across the reboot in a child process. */
static void hold_and_exit(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0)
		for (;;)
			pause();
	exit(0);
}

int main(int argc, char **argv)
{
	int sess[NSESSIONS], fds[NFILES], luo, opt;
	unsigned long long bytes = 0;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
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

	luo = open("/dev/liveupdate", O_RDWR);
	if (luo < 0)
		fail("open /dev/liveupdate");

	if (stage == 1) {
		for (i = 0; i < NSESSIONS; i++)
			sess[i] = create_session(luo, session_names[i]);
		for (i = 0; i < NFILES; i++) {
			const struct spec *s = &specs[i];
			int fd = memfd_create("luo-chain", s->seals == F_SEAL_SEAL ?
					      0 : MFD_ALLOW_SEALING);

			if (fd < 0)
				fail("memfd_create");
			fill(fd, s);
			verify(fd, s);
			preserve(sess[s->session], fd, s->token);
			printf("LUO-CHAIN: stage 1 preserved %s/%#llx: %s\n",
			       session_names[s->session],
			       (unsigned long long)s->token, s->what);
			close(fd);
		}
		printf("LUO-CHAIN: stage 1/%d OK: preserved %zu memfds in %zu sessions\n",
		       nstages, NFILES, NSESSIONS);
		close(luo);
		hold_and_exit();
	}

	for (i = 0; i < NSESSIONS; i++)
		sess[i] = retrieve_session(luo, session_names[i]);
	for (i = 0; i < NFILES; i++) {
		const struct spec *s = &specs[i];

		fds[i] = retrieve(sess[s->session], s->token);
		verify(fds[i], s);
		bytes += s->size;
		printf("LUO-CHAIN: stage %d verified %s/%#llx: %s\n", stage,
		       session_names[s->session], (unsigned long long)s->token, s->what);
	}
	for (i = 0; i < NSESSIONS; i++) {
		finish(sess[i], session_names[i]);
		close(sess[i]);
	}
	printf("LUO-CHAIN: stage %d/%d OK: verified %zu memfds (%llu bytes) in %zu sessions\n",
	       stage, nstages, NFILES, bytes, NSESSIONS);
	if (stage == nstages)
		return 0;

	/* Middle stage: preserve the retrieved memfds again for the next kernel. */
	for (i = 0; i < NSESSIONS; i++)
		sess[i] = create_session(luo, session_names[i]);
	for (i = 0; i < NFILES; i++) {
		preserve(sess[specs[i].session], fds[i], specs[i].token);
		close(fds[i]);
	}
	printf("LUO-CHAIN: stage %d re-preserved %zu memfds for stage %d\n",
	       stage, NFILES, stage + 1);
	close(luo);
	hold_and_exit();
	return 0;
}
