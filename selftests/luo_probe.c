// SPDX-License-Identifier: GPL-2.0
/*
 * luo_probe: reports whether /dev/liveupdate can be opened, for the boot
 * parameter tests (liveupdate=off, kho=off).
 *
 * Prints "LUO-PROBE: open OK" or "LUO-PROBE: open <errno name>", and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	int fd = open("/dev/liveupdate", O_RDWR);

	if (fd >= 0) {
		printf("LUO-PROBE: open OK\n");
		close(fd);
	} else {
		printf("LUO-PROBE: open %s\n", errno == ENOENT ? "ENOENT" :
		       errno == EIO ? "EIO" : errno == EBUSY ? "EBUSY" : strerror(errno));
	}
	return 0;
}
