// SPDX-License-Identifier: GPL-2.0
/*
 * tbprof: a QEMU TCG plugin that counts the guest instructions executed
 * at each kernel translation-block address, between marks.
 *
 *   -plugin tbprof.so,begin=ADDR,end=ADDR,out=PREFIX
 *
 * BEGIN and END are the addresses of two functions of the guest program
 * (selftests/luo_bench.c's luo_bench_mark_begin/end, called around each
 * timed ioctl).  Each BEGIN..END window is written to PREFIX.N (N from 1)
 * as "ADDRESS COUNT" lines; harness/tbprof.py sums them by kernel symbol.
 * With -icount shift=0 an instruction is a nanosecond of guest time, so
 * the windows add up to what make bench reports.
 *
 * Only the few plugin API calls below are used; they are declared here
 * (QEMU_PLUGIN_VERSION 1, QEMU 7.2) so the plugin builds without QEMU's
 * headers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
	void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
	enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
	void (*cb)(unsigned int, void *), enum qemu_plugin_cb_flags flags,
	void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define NENT (1u << 20)
#define KERNEL_START 0xffff800000000000ULL

struct ent {
	uint64_t vaddr, count, runs;
};

static struct ent *tab, *snap;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t begin_addr, end_addr;
static const char *out = "tbprof";
static int window, open_window;

static struct ent *lookup(uint64_t va)
{
	uint64_t h = (va * 0x9E3779B97F4A7C15ULL) >> 44;

	for (;; h = (h + 1) & (NENT - 1)) {
		if (tab[h].vaddr == va || !tab[h].vaddr) {
			tab[h].vaddr = va;
			return &tab[h];
		}
	}
}

static void mark(unsigned int vcpu, void *is_end)
{
	char path[4096];
	unsigned int i;
	FILE *f;

	pthread_mutex_lock(&lock);
	if (!is_end) {
		memcpy(snap, tab, NENT * sizeof(*tab));
		open_window = 1;
	} else if (open_window) {
		open_window = 0;
		snprintf(path, sizeof(path), "%s.%d", out, ++window);
		f = fopen(path, "w");
		for (i = 0; f && i < NENT; i++)
			if (tab[i].count != snap[i].count)
				fprintf(f, "%llx %llu %llu\n",
					(unsigned long long)tab[i].vaddr,
					(unsigned long long)(tab[i].count - snap[i].count),
					(unsigned long long)(tab[i].runs - snap[i].runs));
		if (f)
			fclose(f);
	}
	pthread_mutex_unlock(&lock);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t va = qemu_plugin_tb_vaddr(tb);
	struct ent *e;

	if (va == begin_addr || va == end_addr) {
		qemu_plugin_register_vcpu_tb_exec_cb(tb, mark, QEMU_PLUGIN_CB_NO_REGS,
						     va == end_addr ? (void *)1 : NULL);
		return;
	}
	if (va < KERNEL_START)
		return;
	pthread_mutex_lock(&lock);
	e = lookup(va);
	pthread_mutex_unlock(&lock);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &e->count, qemu_plugin_tb_n_insns(tb));
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &e->runs, 1);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
			int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "begin=", 6))
			begin_addr = strtoull(argv[i] + 6, NULL, 0);
		else if (!strncmp(argv[i], "end=", 4))
			end_addr = strtoull(argv[i] + 4, NULL, 0);
		else if (!strncmp(argv[i], "out=", 4))
			out = argv[i] + 4;
	}
	tab = calloc(NENT, sizeof(*tab));
	snap = calloc(NENT, sizeof(*snap));
	if (!tab || !snap || !begin_addr || !end_addr) {
		fprintf(stderr, "tbprof: begin=ADDR,end=ADDR[,out=PREFIX] needed\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	return 0;
}
