// SPDX-License-Identifier: GPL-2.0
/*
 * luo_fault: fault injection on every LUO path, across one live update.
 *
 *   luo_fault -s STAGE -n 2 [-o rust|c]
 *
 * Every allocation an operation makes is failed in turn: for n = 1, 2, ...
 * the test writes n to /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION),
 * so that the n-th allocation of this thread fails (failslab and
 * fail_page_alloc, set up through debugfs to fail GFP_KERNEL allocations
 * of every order), runs the operation once, and reads fail-nth back: 0
 * says the fault was injected.  The loop ends at the first n that injects
 * nothing: the operation then made fewer than n allocations.
 *
 * For each injected fault the operation must fail with ENOMEM or succeed
 * anyway (an allocation whose failure is handled), leave the state as it
 * was, and succeed when retried without a fault; a failed operation that
 * left something behind, or a retry that fails, counts against it.
 *
 * Stage 1 (outgoing): CREATE_SESSION; PRESERVE_FD of a sparse memfd;
 *   closing a session with a preserved memfd (which cannot fail: after it
 *   the name must be free and the memfd preservable again); Shmem back
 *   where it was.  Then it prepares the sessions stage 2 needs and
 *   reboots with a fault in turn until the kexec happens: each failed
 *   reboot must return ENOMEM with LUO still working.  What the reboots
 *   saw is kept in a preserved memfd (session "fault-results"), which
 *   stage 2 reports.
 * Stage 2 (incoming): the reboots of stage 1; RETRIEVE_SESSION;
 *   RETRIEVE_FD (every byte of the memfd after the retry); FINISH; closing
 *   a retrieved session (which finishes it); every memfd of every session
 *   intact; Shmem back where it was when every file is closed.
 *
 * -o c expects the C reference where it is known to differ (see the
 * RETRIEVE_FD test): a retrieve that failed is remembered and every retry
 * gives the same error, and the memfd is gone.
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
#include <unistd.h>
#include <linux/reboot.h>
#include <libliveupdate.h>

#include "luo_proc.h"

#define MAX_NTH 400		/* more allocations than this in one call: a failure */
#define NPAGES 16		/* memfd pages; pages HOLE_FIRST..HOLE_LAST are holes */
#define HOLE_FIRST 6
#define HOLE_LAST 9
#define PAGE 4096
#define MEMFD_SIZE (NPAGES * PAGE)

/* Sessions stage 1 leaves for stage 2: one per fault of each loop. */
#define NR_RETRIEVE 40		/* "fault-rs-%d": RETRIEVE_SESSION, token 1 */
#define NR_FD 64		/* "fault-fd": tokens 1..NR_FD, RETRIEVE_FD */
#define NR_FINISH 24		/* "fault-fin-%d": FINISH, tokens 1 (retrieved) and 2 */
#define NR_CLOSE 24		/* "fault-cl-%d": close of a retrieved session */
#define RESULTS "fault-results"
#define RESULTS_MAGIC 0x6c756f6661756c74ULL

static int luo;
static int nth_fd = -1;
static int c_ref;

/* What one fault loop saw. */
struct tally {
	int calls;		/* faults injected */
	int enomem;		/* ... after which the call failed with ENOMEM (or ENOSPC) */
	int survived;		/* ... after which the call succeeded */
	int other;		/* ... failed with another errno */
	int other_errno;	/* the first such errno */
	int state_bad;		/* ... left the state changed */
	int retry_bad;		/* ... a retry without a fault failed */
	int retry_errno;	/* the first errno of such a retry */
	int overrun;		/* still injecting after MAX_NTH */
};

struct results {
	uint64_t magic;
	struct tally reboot;
	int done;		/* the reboot that went through (n) */
};

/* ---- fail-nth ---------------------------------------------------------- */

static void write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	close(fd);
}

static void setup_injection(void)
{
	/* Fail GFP_KERNEL allocations too, and pages of every order. */
	write_str("/sys/kernel/debug/failslab/ignore-gfp-wait", "N");
	write_str("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N");
	write_str("/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N");
	write_str("/sys/kernel/debug/fail_page_alloc/min-order", "0");
	/* One line per injected fault, with the stack (rate-limited). */
	write_str("/sys/kernel/debug/failslab/verbose", "2");
	write_str("/sys/kernel/debug/fail_page_alloc/verbose", "2");
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth_fd < 0)
		ksft_exit_fail_msg("/proc/thread-self/fail-nth: %s\n", strerror(errno));
}

static void arm(int n)
{
	char b[16];
	int l = snprintf(b, sizeof(b), "%d", n);

	if (pwrite(nth_fd, b, l, 0) != l)
		ksft_exit_fail_msg("fail-nth %d: %s\n", n, strerror(errno));
}

/* Disarms; whether the fault armed before was injected. */
static int disarm(void)
{
	char b[16] = "";

	if (pread(nth_fd, b, sizeof(b) - 1, 0) <= 0)
		ksft_exit_fail_msg("read fail-nth: %s\n", strerror(errno));
	arm(0);
	return atoi(b) == 0;
}

/* n = 1, 2, ... until the loop breaks, or past MAX_NTH (t.overrun). */
#define for_each_nth(n, t) for ((n) = 1; !((t).overrun = (n) > MAX_NTH); (n)++)

/*
 * One fault: the result of the call (-errno or >= 0) in *res; returns
 * whether the fault was injected.
 */
#define INJECT(n, res, call) ({ arm(n); (res) = (call); disarm(); })

static int err_of(int r)
{
	return r < 0 ? (r == -1 ? errno : -r) : 0;
}

static void count(struct tally *t, int err)
{
	t->calls++;
	if (!err)
		t->survived++;
	else if (err == ENOMEM || err == ENOSPC)
		/* shmem reports a failed inode allocation as ENOSPC, in both kernels. */
		t->enomem++;
	else if (!t->other++)
		t->other_errno = err;
}

static void retry_failed(struct tally *t, int err)
{
	if (!t->retry_bad++)
		t->retry_errno = err;
}

/* A call that allocates may fail; one that does not (a close) has nothing to inject. */
static int tally_ok(const struct tally *t)
{
	return t->calls > 0 && !t->other && !t->state_bad && !t->retry_bad && !t->overrun;
}

static int tally_ok_any(const struct tally *t)
{
	return !t->other && !t->state_bad && !t->retry_bad && !t->overrun;
}

static void report(const struct tally *t, int ok, const char *what)
{
	ksft_test_result(ok, "%s: %d faults: %d ENOMEM or ENOSPC, %d succeeded anyway, %d other (first %s), "
			 "%d changed the state, %d retries failed (first %s)%s\n", what, t->calls,
			 t->enomem, t->survived, t->other, t->other ? strerror(t->other_errno) : "-",
			 t->state_bad, t->retry_bad, t->retry_bad ? strerror(t->retry_errno) : "-",
			 t->overrun ? ", still injecting at the bound" : "");
}

/* ---- memfds ------------------------------------------------------------ */

static uint8_t pattern(int s, int t, size_t i)
{
	return (uint8_t)(i * 151 + s * 13 + t * 29 + (i >> 12));
}

static int hole(size_t page)
{
	return page >= HOLE_FIRST && page <= HOLE_LAST;
}

/* A sparse memfd: NPAGES pages, HOLE_FIRST..HOLE_LAST never written. */
static int make_memfd(int s, int t)
{
	uint8_t buf[PAGE];
	int fd = memfd_create("luo_fault", MFD_CLOEXEC);
	size_t p, i;

	if (fd < 0 || ftruncate(fd, MEMFD_SIZE))
		ksft_exit_fail_msg("memfd: %s\n", strerror(errno));
	for (p = 0; p < NPAGES; p++) {
		if (hole(p))
			continue;
		for (i = 0; i < PAGE; i++)
			buf[i] = pattern(s, t, p * PAGE + i);
		if (pwrite(fd, buf, PAGE, p * PAGE) != PAGE)
			ksft_exit_fail_msg("memfd write: %s\n", strerror(errno));
	}
	return fd;
}

/* Whether memfd fd holds (s, t), with page HOLE_FIRST written if @filled. */
static int memfd_has(int fd, int s, int t, int filled)
{
	uint8_t buf[PAGE];
	size_t p, i;

	if (lseek(fd, 0, SEEK_END) != MEMFD_SIZE)
		return 0;
	for (p = 0; p < NPAGES; p++) {
		int zero = hole(p) && !(filled && p == HOLE_FIRST);

		if (pread(fd, buf, PAGE, p * PAGE) != PAGE)
			return 0;
		for (i = 0; i < PAGE; i++)
			if (buf[i] != (zero ? 0 : pattern(s, t, p * PAGE + i)))
				return 0;
	}
	return 1;
}

static int memfd_ok(int fd, int s, int t)
{
	return memfd_has(fd, s, t, 0);
}

/* Writes page HOLE_FIRST of memfd (s, t), a hole until now. */
static void write_hole(int fd, int s, int t)
{
	uint8_t buf[PAGE];
	size_t i;

	for (i = 0; i < PAGE; i++)
		buf[i] = pattern(s, t, HOLE_FIRST * PAGE + i);
	if (pwrite(fd, buf, PAGE, HOLE_FIRST * PAGE) != PAGE)
		ksft_exit_fail_msg("memfd write: %s\n", strerror(errno));
}

/* Shmem in KiB, with the per-cpu counters folded in. */
static long long shmem_kib(void)
{
	int r = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (r >= 0) {
		if (write(r, "1", 1) < 0)
			ksft_print_msg("stat_refresh: %s\n", strerror(errno));
		close(r);
	}
	return luo_meminfo_kib("Shmem");
}

static int create(const char *name)
{
	int fd = luo_create_session(luo, name);

	if (fd < 0)
		ksft_exit_fail_msg("create %s: %s\n", name, strerror(-fd));
	return fd;
}

static void preserve(int sfd, int fd, uint64_t token)
{
	int r = luo_session_preserve_fd(sfd, fd, token);

	if (r)
		ksft_exit_fail_msg("preserve token %llu: %s\n", (unsigned long long)token,
				   strerror(-r));
}

/* ---- stage 1 ----------------------------------------------------------- */

static void fault_create(void)
{
	struct tally t = {};
	int n, r, fd, injected;

	for_each_nth(n, t) {
		injected = INJECT(n, r, luo_create_session(luo, "fault-create"));
		if (!injected) {
			if (r >= 0)
				close(r);
			else
				retry_failed(&t, -r);
			break;
		}
		count(&t, err_of(r));
		if (r >= 0) {
			close(r);
			continue;
		}
		/* The name must be free: a retry creates it. */
		fd = luo_create_session(luo, "fault-create");
		if (fd < 0) {
			retry_failed(&t, -fd);
			t.state_bad += fd == -EEXIST;
			break;
		}
		close(fd);
	}
	report(&t, tally_ok(&t), "CREATE_SESSION");
}

static void fault_preserve(void)
{
	struct tally t = {};
	int n, r, sfd, fd, injected;

	for_each_nth(n, t) {
		sfd = create("fault-preserve");
		fd = make_memfd(1, n);
		injected = INJECT(n, r, luo_session_preserve_fd(sfd, fd, 7));
		if (injected) {
			count(&t, err_of(r));
			/* Failed: the token is free and the memfd preservable; a retry works. */
			if (r) {
				r = luo_session_preserve_fd(sfd, fd, 7);
				if (r)
					retry_failed(&t, -r);
			}
		}
		if (!memfd_ok(fd, 1, n))
			t.state_bad++;
		close(fd);
		close(sfd);
		if (!injected)
			break;
	}
	report(&t, tally_ok(&t), "PRESERVE_FD of a sparse memfd");
}

static void fault_close(void)
{
	struct tally t = {};
	int n, r, sfd, fd, injected;

	for_each_nth(n, t) {
		sfd = create("fault-close");
		fd = make_memfd(2, n);
		preserve(sfd, fd, 1);
		injected = INJECT(n, r, close(sfd));
		if (injected)
			count(&t, err_of(r));
		/* Released whatever happened: the name is free, the memfd is not preserved. */
		sfd = luo_create_session(luo, "fault-close");
		if (sfd < 0 || luo_session_preserve_fd(sfd, fd, 1))
			t.state_bad++;
		if (!memfd_ok(fd, 2, n))
			t.state_bad++;
		if (sfd >= 0)
			close(sfd);
		close(fd);
		if (!injected)
			break;
	}
	report(&t, tally_ok_any(&t), "close of a session with a preserved memfd");
}

static int results_fd = -1;
static struct results results = { .magic = RESULTS_MAGIC };

static void save_results(void)
{
	if (pwrite(results_fd, &results, sizeof(results), 0) != sizeof(results))
		ksft_exit_fail_msg("results memfd: %s\n", strerror(errno));
}

/* The sessions stage 2 needs; every fd stays open until the kexec. */
static void prepare(void)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int i, t, sfd, fd;

	for (i = 0; i < NR_RETRIEVE; i++) {
		snprintf(name, sizeof(name), "fault-rs-%d", i);
		sfd = create(name);
		preserve(sfd, make_memfd(100 + i, 1), 1);
	}
	sfd = create("fault-fd");
	for (t = 1; t <= NR_FD; t++)
		preserve(sfd, make_memfd(200, t), t);
	for (i = 0; i < NR_FINISH; i++) {
		snprintf(name, sizeof(name), "fault-fin-%d", i);
		sfd = create(name);
		for (t = 1; t <= 2; t++)
			preserve(sfd, make_memfd(300 + i, t), t);
	}
	for (i = 0; i < NR_CLOSE; i++) {
		snprintf(name, sizeof(name), "fault-cl-%d", i);
		sfd = create(name);
		for (t = 1; t <= 2; t++)
			preserve(sfd, make_memfd(400 + i, t), t);
	}
	/*
	 * A page written into a hole after PRESERVE_FD: the freeze at reboot
	 * preserves it (the Rust LUO preserves only the folios a memfd has, so
	 * its freeze allocates; C filled every hole with a page at preserve).
	 */
	sfd = create("fault-freeze");
	fd = make_memfd(5, 1);
	preserve(sfd, fd, 1);
	write_hole(fd, 5, 1);
	sfd = create(RESULTS);
	fd = memfd_create("results", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, PAGE))
		ksft_exit_fail_msg("results memfd: %s\n", strerror(errno));
	results_fd = fd;
	save_results();
	preserve(sfd, fd, 1);
	ksft_test_result(1, "%d sessions with %d memfds for stage 2\n",
			 NR_RETRIEVE + 1 + NR_FINISH + NR_CLOSE + 2,
			 NR_RETRIEVE + NR_FD + 2 * NR_FINISH + 2 * NR_CLOSE + 2);
}

/*
 * Reboots with the n-th allocation failing, n = 1, 2, ..., until one goes
 * through.  A reboot that fails must fail with ENOMEM and leave LUO as it
 * was: a session can be created, filled and closed.
 */
static void fault_reboot(void)
{
	struct tally *t = &results.reboot;
	int n, r, sfd, fd, injected;

	ksft_print_cnts();
	for (n = 1; n <= MAX_NTH; n++) {
		results.done = n;
		save_results();
		fflush(stdout);
		sync();
		injected = INJECT(n, r, reboot(LINUX_REBOOT_CMD_KEXEC));
		if (!injected) {
			/* Nothing injected, yet it failed. */
			retry_failed(t, err_of(r));
			break;
		}
		count(t, err_of(r));
		ksft_print_msg("reboot with allocation %d failing: %s\n", n,
			       r ? strerror(err_of(r)) : "went through?");
		sfd = luo_create_session(luo, "fault-after-reboot");
		fd = make_memfd(3, n);
		if (sfd < 0 || luo_session_preserve_fd(sfd, fd, 1))
			t->state_bad++;
		close(fd);
		if (sfd >= 0)
			close(sfd);
	}
	t->overrun = n > MAX_NTH;
	save_results();
	ksft_print_msg("reboot: no kexec (%d faults)\n", t->calls);
	ksft_exit_fail();
}

/* ---- stage 2 ----------------------------------------------------------- */

static int retrieve(const char *name)
{
	int fd = luo_retrieve_session(luo, name);

	if (fd < 0)
		ksft_exit_fail_msg("retrieve %s: %s\n", name, strerror(-fd));
	return fd;
}

/* Whether token t of session sfd comes back with memfd (s, t); closes it. */
static int token_ok(int sfd, int s, int t)
{
	int fd = luo_session_retrieve_fd(sfd, t);
	int ok = fd >= 0 && memfd_ok(fd, s, t);

	if (fd >= 0)
		close(fd);
	return ok;
}

static void report_reboot(void)
{
	struct results r = {};
	int sfd = retrieve(RESULTS), fd = luo_session_retrieve_fd(sfd, 1);

	if (fd < 0 || pread(fd, &r, sizeof(r), 0) != sizeof(r) || r.magic != RESULTS_MAGIC)
		ksft_exit_fail_msg("results of stage 1: %s\n", strerror(errno));
	close(fd);
	luo_session_finish(sfd);
	close(sfd);
	sfd = retrieve("fault-freeze");
	fd = luo_session_retrieve_fd(sfd, 1);
	if (fd < 0 || !memfd_has(fd, 5, 1, 1))
		r.reboot.state_bad++;
	if (fd >= 0)
		close(fd);
	luo_session_finish(sfd);
	close(sfd);
	report(&r.reboot, tally_ok_any(&r.reboot) && r.done == r.reboot.calls + 1,
	       "reboot(KEXEC), the serialization (stage 1), with a page written after PRESERVE_FD");
}

static void fault_retrieve_session(void)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct tally t = {};
	int i, r, injected, bad = 0;

	for (i = 0; i < NR_RETRIEVE; i++) {
		snprintf(name, sizeof(name), "fault-rs-%d", i);
		injected = INJECT(i + 1, r, luo_retrieve_session(luo, name));
		if (injected) {
			count(&t, err_of(r));
			if (r < 0) {
				r = luo_retrieve_session(luo, name);
				if (r < 0)
					retry_failed(&t, -r);
			}
		}
		if (r >= 0) {
			bad += !token_ok(r, 100 + i, 1) || luo_session_finish(r);
			close(r);
		} else if (!injected) {
			retry_failed(&t, -r);
		}
		if (!injected)
			break;
	}
	t.overrun = i == NR_RETRIEVE;
	/* The sessions no fault reached. */
	for (i++; i < NR_RETRIEVE; i++) {
		snprintf(name, sizeof(name), "fault-rs-%d", i);
		r = retrieve(name);
		bad += !token_ok(r, 100 + i, 1) || luo_session_finish(r);
		close(r);
	}
	t.state_bad += bad;
	report(&t, tally_ok(&t), "RETRIEVE_SESSION, then each memfd");
}

/*
 * RETRIEVE_FD of token n with the n-th allocation failing.  The C
 * reference remembers a failed retrieve and gives its error to every
 * retry, and its memfd is gone (-o c expects that).
 */
static void fault_retrieve_fd(void)
{
	struct tally t = {};
	int sfd = retrieve("fault-fd");
	int n, r, injected, bad = 0, lost = 0;

	for (n = 1; n <= NR_FD; n++) {
		injected = INJECT(n, r, luo_session_retrieve_fd(sfd, n));
		if (injected) {
			count(&t, err_of(r));
			if (r < 0) {
				r = luo_session_retrieve_fd(sfd, n);
				if (r < 0) {
					retry_failed(&t, -r);
					lost++;
				}
			}
		} else if (r < 0) {
			retry_failed(&t, -r);
		}
		if (r >= 0) {
			bad += !memfd_ok(r, 200, n);
			close(r);
		}
		if (!injected)
			break;
	}
	t.overrun = n > NR_FD;
	for (n++; n <= NR_FD; n++)
		bad += !token_ok(sfd, 200, n);
	t.state_bad += bad;
	r = luo_session_finish(sfd);
	close(sfd);
	if (c_ref) {
		/*
		 * C: every fault that fails the retrieve (ENOMEM, ENOSPC, or EINVAL
		 * when kho_restore_vmalloc() fails) loses the memfd: the retry
		 * gives the same error.
		 */
		int failed = t.enomem + t.other;
		int c_ok = t.calls > 0 && !bad && !t.overrun && !r && failed > 0 &&
			   t.retry_bad == failed && lost == failed;
		report(&t, c_ok, "RETRIEVE_FD (C reference: each failed retrieve remembered, its memfd lost)");
	} else {
		report(&t, tally_ok(&t) && !r, "RETRIEVE_FD, every byte after the retry");
	}
}

/*
 * MemTotal grows by the pages KHO gives back as they are restored; a finish
 * that frees a memfd nobody retrieved restores its folios, array and
 * memfd_luo_ser.  An injected fault whose finish gave back less than the
 * clean finish of the same layout (the last one) leaked them: they stay
 * reserved for good.  C's finish does when kho_restore_vmalloc() fails.
 */
static long long memtotal(void)
{
	return luo_meminfo_kib("MemTotal");
}

static int leaks(const long long *gain, int n)
{
	int i, leaked = 0;

	for (i = 0; i + 1 < n; i++)
		leaked += gain[i] < gain[n - 1];
	return leaked;
}

static int finish_ok(const struct tally *t, int leaked, int n, const char *what)
{
	if (c_ref) {
		/* C: every allocation of a finish is kho_restore_vmalloc()'s: each one leaked. */
		int ok = !t->other && !t->state_bad && !t->retry_bad && !t->overrun &&
			 t->calls > 0 && leaked == t->calls;

		ksft_print_msg("%s: C reference: %d of %d faults leaked a memfd's folios\n", what,
			       leaked, t->calls);
		return ok;
	}
	ksft_print_msg("%s: %d of %d finishes leaked (MemTotal)\n", what, leaked, n);
	return tally_ok_any(t) && !leaked;
}

static void fault_finish(void)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct tally t = {};
	long long gain[NR_FINISH], m0;
	int i, r, sfd, fd, injected, bad = 0, leaked;

	for (i = 0; i < NR_FINISH; i++) {
		snprintf(name, sizeof(name), "fault-fin-%d", i);
		sfd = retrieve(name);
		fd = luo_session_retrieve_fd(sfd, 1);
		m0 = memtotal();
		injected = INJECT(i + 1, r, luo_session_finish(sfd));
		if (injected) {
			count(&t, err_of(r));
			if (r) {
				/* Nothing finished: token 2 is still there and the retry works. */
				bad += !token_ok(sfd, 300 + i, 2);
				r = luo_session_finish(sfd);
				if (r)
					retry_failed(&t, -r);
			}
		} else if (r) {
			retry_failed(&t, -r);
		}
		gain[i] = memtotal() - m0;
		bad += fd < 0 || !memfd_ok(fd, 300 + i, 1);
		if (fd >= 0)
			close(fd);
		close(sfd);
		if (!injected)
			break;
	}
	t.overrun = i == NR_FINISH;
	t.state_bad += bad;
	leaked = t.overrun ? 0 : leaks(gain, i + 1);
	report(&t, finish_ok(&t, leaked, i, "FINISH"),
	       "FINISH of a session with a retrieved and an unretrieved memfd");
}

static void fault_close_incoming(void)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct tally t = {};
	long long gain[NR_CLOSE], m0;
	int i, r, sfd, fd, injected, bad = 0, leaked;

	for (i = 0; i < NR_CLOSE; i++) {
		snprintf(name, sizeof(name), "fault-cl-%d", i);
		sfd = retrieve(name);
		fd = luo_session_retrieve_fd(sfd, 1);
		m0 = memtotal();
		injected = INJECT(i + 1, r, close(sfd));
		gain[i] = memtotal() - m0;
		if (injected)
			count(&t, err_of(r));
		/* Finished and gone either way; the retrieved memfd is intact. */
		r = luo_retrieve_session(luo, name);
		bad += r != -ENOENT;
		if (r >= 0)
			close(r);
		bad += fd < 0 || !memfd_ok(fd, 400 + i, 1);
		if (fd >= 0)
			close(fd);
		if (!injected)
			break;
	}
	t.overrun = i == NR_CLOSE;
	t.state_bad += bad;
	leaked = t.overrun ? 0 : leaks(gain, i + 1);
	report(&t, finish_ok(&t, leaked, i, "close"), "close of a retrieved session (finishes it)");
}

int main(int argc, char **argv)
{
	int stage = 0, nstages = 0, opt;
	long long shmem;

	while ((opt = getopt(argc, argv, "s:n:o:")) != -1) {
		if (opt == 's')
			stage = atoi(optarg);
		else if (opt == 'n')
			nstages = atoi(optarg);
		else if (opt == 'o')
			c_ref = !strcmp(optarg, "c");
	}
	if (stage < 1 || stage > 2 || nstages != 2) {
		fprintf(stderr, "usage: %s -s 1|2 -n 2 [-o rust|c]\n", argv[0]);
		return 2;
	}
	ksft_print_header();
	ksft_set_plan(stage == 1 ? 5 : 6);
	ksft_print_msg("stage %d/%d\n", stage, nstages);
	luo = luo_open_device();
	if (luo < 0)
		ksft_exit_fail_msg("open %s: %s\n", LUO_DEVICE, strerror(errno));
	setup_injection();
	shmem = shmem_kib();
	if (stage == 1) {
		fault_create();
		fault_preserve();
		fault_close();
		ksft_test_result(shmem_kib() == shmem, "Shmem back: %lld kB, was %lld kB\n",
				 shmem_kib(), shmem);
		prepare();
		if (ksft_get_fail_cnt())
			ksft_exit_fail();
		fault_reboot();
	}
	report_reboot();
	fault_retrieve_session();
	fault_retrieve_fd();
	fault_finish();
	fault_close_incoming();
	ksft_test_result(shmem_kib() == shmem, "every file closed: Shmem %lld kB, was %lld kB\n",
			 shmem_kib(), shmem);
	ksft_finished();
}
