// prog-type: xdp
// clear_all_pkt_pointers: bpf_xdp_adjust_tail changes packet data, so a packet pointer spilled to the stack becomes a scalar too
r6 = r1
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 4
if r4 > r3 goto l_out
*(u64 *)(r10 - 8) = r2
r1 = r6
r2 = -4
call 65
r5 = *(u64 *)(r10 - 8)
r0 = *(u32 *)(r5 + 0)
exit
l_out:
r0 = 1
exit
