// prog-type: xdp
// mark_pkt_end: a second compare is decided
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 1
if r4 > r3 goto l_out
if r4 > r3 goto l_bad
r0 = *(u8 *)(r2 + 0)
exit
l_bad:
r0 = *(u8 *)(r2 + 100)
exit
l_out:
r0 = 1
exit
