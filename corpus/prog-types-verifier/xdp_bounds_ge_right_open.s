// prog-type: xdp
// JGE fallthrough: strict pkt+14 < pkt_end
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 >= r3 goto l_out
r0 = *(u8 *)(r2 + 12)
exit
l_out:
r0 = 1
exit
