// SPDX-License-Identifier: GPL-2.0
/*
 * luo_probe: whether /dev/liveupdate can be opened, for the boot parameter
 * tests (liveupdate=off, kho=off).
 *
 *   luo_probe [EXPECTED]
 *
 * Prints KTAP (kselftest.h) with one test, "open_dev_liveupdate", whose
 * diagnostic is "<result> expected <EXPECTED>": the result is "0" when the
 * open succeeds, else the errno name (ENOENT, ...).  EXPECTED defaults to 0.
 */
#define _GNU_SOURCE
#include <libliveupdate.h>

int main(int argc, char **argv)
{
	const char *want = argc > 1 ? argv[1] : "0";
	int fd = luo_open_device();
	const char *got = fd >= 0 ? "0" : strerrorname_np(errno) ?: "EUNKNOWN";

	ksft_print_header();
	ksft_set_plan(1);
	if (fd >= 0)
		close(fd);
	ksft_test_result_code(strcmp(got, want) ? KSFT_FAIL : KSFT_PASS, "open_dev_liveupdate",
			      "%s expected %s", got, want);
	ksft_finished();
}
