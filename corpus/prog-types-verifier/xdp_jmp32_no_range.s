// prog-type: xdp
// try_match_pkt_pointers: JMP32 compares learn nothing
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if w4 > w3 goto l_out
r0 = *(u8 *)(r2 + 0)
exit
l_out:
r0 = 1
exit
