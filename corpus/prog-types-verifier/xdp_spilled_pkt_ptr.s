// prog-type: xdp
// find_good_pkt_pointers widens spilled pointers too
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
*(u64 *)(r10 - 8) = r2
r4 = r2
r4 += 4
if r4 > r3 goto l_out
r5 = *(u64 *)(r10 - 8)
r0 = *(u32 *)(r5 + 0)
exit
l_out:
r0 = 1
exit
