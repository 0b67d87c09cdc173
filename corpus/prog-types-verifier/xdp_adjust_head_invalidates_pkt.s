// prog-type: xdp
// clear_all_pkt_pointers: bpf_xdp_adjust_head changes packet data, so a checked packet pointer in a register becomes a scalar (privileged load)
r6 = r1
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 4
if r4 > r3 goto l_out
r7 = r2
r1 = r6
r2 = 0
call 44
r0 = *(u32 *)(r7 + 0)
exit
l_out:
r0 = 1
exit
