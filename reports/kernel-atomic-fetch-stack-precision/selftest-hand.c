// SPDX-License-Identifier: GPL-2.0
/* A fetching atomic on a spilled stack slot must make the slot precise when
 * the fetched register is needed precise. Otherwise the path on which the
 * slot holds 5 is pruned as equivalent to the one on which it holds -1, and
 * "r0 = 1" is removed as dead code.
 *
 * Written for bpfdiff's report kernel-atomic-fetch-stack-precision, in the
 * style of tools/testing/selftests/bpf/progs/verifier_*.c (bpf_misc.h
 * annotations); not compiled in the bpfdiff tree.
 */

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf_misc.h"

SEC("socket")
__description("atomic fetch from a stack slot: fetched value keeps the slot precise")
__success __retval(1)
__naked void atomic_fetch_stack_slot_precise(void)
{
	asm volatile (
	"r6 = r1;"
	"call %[bpf_get_prandom_u32];"
	/* skb->len: unknown to the verifier, 64 in the test run */
	"r3 = *(u32 *)(r6 + 0);"
	"r2 = 5;"
	"*(u64 *)(r10 - 8) = r2;"
	"if r3 != 0 goto 1f;"
	"*(u64 *)(r10 - 8) = -1;"
"1:"
	/* r2 = old slot value: 5 when skb->len != 0 */
	".8byte %[fetch_xor];"
	"if r2 > 100 goto 2f;"
	"r0 = 1;"
	"exit;"
"2:"
	"r0 = 2;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32),
	  __imm_insn(fetch_xor,
		     BPF_ATOMIC_OP(BPF_DW, BPF_XOR | BPF_FETCH, BPF_REG_10, BPF_REG_2, -8))
	: __clobber_all);
}

char _license[] SEC("license") = "GPL";
