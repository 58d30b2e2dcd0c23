// SPDX-License-Identifier: GPL-2.0
/*
 * PID 1 of the luo-rs test VMs: a multi-stage live update driver.
 *
 * Stage N (from "luo_stage=N" on the kernel command line, 1 when absent):
 *
 *   1. mount devtmpfs, proc, sysfs and debugfs;
 *   2. if /next/kernel exists, kexec_file_load() it with /next/initrd.img and
 *      this command line with luo_stage=N+1 (each stage's initramfs carries
 *      the next stage's kernel and initramfs, so a chain A -> B -> C is a
 *      nesting of initramfs images);
 *   3. run /test_binary with the words of /test_args, "@STAGE@" replaced by N
 *      (or, when there is no /test_binary, an interactive /bin/sh);
 *   4. on a kernel with kmemleak (DEBUG=1), scan and print what leaked;
 *   5. on success kexec into stage N+1, or end the VM after the last stage.
 *
 * Every outcome is printed as a "LUO-INIT:" line the harness looks for.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/reboot.h>

#define CMDLINE_MAX 2048
#define MAX_ARGS 32

static char cmdline[CMDLINE_MAX];

static void end_vm(int ok)
{
	printf("LUO-INIT: %s\n", ok ? "END OK" : "END FAILED");
	fflush(stdout);
	sync();
	/* With qemu -no-reboot a reboot ends the VM. */
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

static void read_cmdline(void)
{
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	cmdline[n] = 0;
	if (n > 0 && cmdline[n - 1] == '\n')
		cmdline[n - 1] = 0;
}

static int current_stage(void)
{
	const char *p = strstr(cmdline, "luo_stage=");

	return p ? atoi(p + strlen("luo_stage=")) : 1;
}

/* The command line for the next stage: this one with luo_stage=N+1. */
static void next_cmdline(char *buf, size_t len, int next)
{
	char *w, *save = NULL, copy[CMDLINE_MAX];
	size_t off = 0;

	snprintf(copy, sizeof(copy), "%s", cmdline);
	buf[0] = 0;
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (!strncmp(w, "luo_stage=", 10))
			continue;
		off += snprintf(buf + off, len - off, "%s ", w);
		if (off >= len)
			break;
	}
	snprintf(buf + off, len - off, "luo_stage=%d", next);
}

static int load_next(int stage)
{
	char next[CMDLINE_MAX];
	int kfd, ifd;
	long ret;

	next_cmdline(next, sizeof(next), stage + 1);
	kfd = open("/next/kernel", O_RDONLY);
	ifd = open("/next/initrd.img", O_RDONLY);
	if (kfd < 0 || ifd < 0) {
		perror("LUO-INIT: open /next");
		return -1;
	}
	ret = syscall(SYS_kexec_file_load, kfd, ifd, strlen(next) + 1, next, 0UL);
	close(kfd);
	close(ifd);
	if (ret) {
		perror("LUO-INIT: kexec_file_load");
		return -1;
	}
	printf("LUO-INIT: stage %d loaded the next kernel\n", stage);
	return 0;
}

static int run_test(int stage)
{
	char args[1024] = "", *argv[MAX_ARGS + 2], stagestr[16], *w, *save = NULL;
	int fd, argc = 0, status;
	pid_t pid;

	snprintf(stagestr, sizeof(stagestr), "%d", stage);
	fd = open("/test_args", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, args, sizeof(args) - 1);

		args[n > 0 ? n : 0] = 0;
		close(fd);
	}
	argv[argc++] = "/test_binary";
	for (w = strtok_r(args, " \t\n", &save); w && argc < MAX_ARGS;
	     w = strtok_r(NULL, " \t\n", &save))
		argv[argc++] = strcmp(w, "@STAGE@") ? w : stagestr;
	argv[argc] = NULL;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		char *envp[] = { "PATH=/bin:/sbin", "HOME=/", NULL };

		execve(argv[0], argv, envp);
		perror("LUO-INIT: execve /test_binary");
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (WIFSIGNALED(status)) {
		printf("LUO-INIT: stage %d test killed by signal %d\n", stage,
		       WTERMSIG(status));
		return -1;
	}
	printf("LUO-INIT: stage %d test exit status %d\n", stage,
	       WEXITSTATUS(status));
	return WEXITSTATUS(status) ? -1 : 0;
}

/*
 * On a kernel with kmemleak (DEBUG=1): the objects leaked so far, once
 * they are old enough to count (kmemleak's minimum age is 5 s), as
 * "LUO-KMEMLEAK: " lines after a "LUO-INIT: stage N kmemleak: M
 * unreferenced objects" line.  Nothing without kmemleak.
 */
static void kmemleak_report(int stage)
{
	static char buf[1 << 16];
	int fd = open("/sys/kernel/debug/kmemleak", O_RDWR), n = 0, objects = 0;
	char *line, *save = NULL;
	ssize_t len = 0, r;

	if (fd < 0)
		return;
	sleep(6);
	if (write(fd, "scan", 4) != 4) {
		close(fd);
		return;
	}
	lseek(fd, 0, SEEK_SET);
	while (len < (ssize_t)sizeof(buf) - 1 &&
	       (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	buf[len] = '\0';
	close(fd);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "unreferenced object"))
			objects++;
		if (n++ < 400)
			printf("LUO-KMEMLEAK: %s\n", line);
	}
	printf("LUO-INIT: stage %d kmemleak: %d unreferenced objects\n", stage, objects);
}

int main(void)
{
	struct utsname u;
	int stage, has_next;

	mkdir("/dev", 0755);
	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	mkdir("/tmp", 01777);
	mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	read_cmdline();
	stage = current_stage();
	uname(&u);
	has_next = access("/next/kernel", R_OK) == 0;
	printf("LUO-INIT: stage %d kernel %s %s\n", stage, u.release,
	       has_next ? "(a next stage follows)" : "(last stage)");

	if (access("/test_binary", X_OK)) {
		char *argv[] = { "/bin/busybox", "sh", "-c",
				 "/bin/busybox --install -s /bin && exec /bin/sh -i",
				 NULL };
		char *envp[] = { "PATH=/bin:/sbin", "HOME=/", "PS1=luo# ", NULL };

		printf("LUO-INIT: no /test_binary: starting /bin/sh (exit to end the VM)\n");
		if (fork() == 0) {
			setsid();
			ioctl(0, TIOCSCTTY, 0);
			execve(argv[0], argv, envp);
			_exit(127);
		}
		wait(NULL);
		end_vm(1);
	}

	if (has_next && load_next(stage))
		end_vm(0);
	if (run_test(stage))
		end_vm(0);
	kmemleak_report(stage);
	if (!has_next) {
		printf("LUO-INIT: stage %d passed, all stages passed\n", stage);
		end_vm(1);
	}
	printf("LUO-INIT: stage %d passed, kexec into stage %d\n", stage, stage + 1);
	fflush(stdout);
	sync();
	reboot(RB_KEXEC);
	perror("LUO-INIT: reboot(RB_KEXEC)");
	end_vm(0);
	return 1;
}
