// prog-type: xdp
// pkt+14 >= pkt_end false: pkt+14 < pkt_end, byte 13 readable
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 >= r3 goto l_out
r0 = *(u8 *)(r2 + 13)
exit
l_out:
r0 = 1
exit
