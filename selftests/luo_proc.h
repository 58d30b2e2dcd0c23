/* SPDX-License-Identifier: GPL-2.0 */
/*
 * luo_proc.h: the counters of /proc and cgroup files that the luo-rs guest
 * programs read (luo_chain, luo_leak, luo_bench).  Each returns -1 when the
 * file or the key is missing; the caller decides whether that fails.
 */
#ifndef LUO_PROC_H
#define LUO_PROC_H

#include <stdio.h>
#include <string.h>

/* The value after @key in a file of "key value" lines (/proc/vmstat, memory.stat). */
static long long luo_keyed(const char *path, const char *key)
{
	char name[64];
	long long v, val = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &v) == 2)
		if (!strcmp(name, key)) {
			val = v;
			break;
		}
	fclose(f);
	return val;
}

/* The line "@key: N kB" of /proc/meminfo, in KiB. */
static long long luo_meminfo_kib(const char *key)
{
	char line[128], name[64];
	long long v, val = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63[^:]: %lld kB", name, &v) == 2 && !strcmp(name, key)) {
			val = v;
			break;
		}
	fclose(f);
	return val;
}

#endif /* LUO_PROC_H */
