// prog-type: xdp
// may_access_direct_pkt_data: tc and xdp may write
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto l_out
r5 = 7
*(u8 *)(r2 + 3) = r5
*(u16 *)(r2 + 6) = 0x1234
r0 = *(u8 *)(r2 + 3)
exit
l_out:
r0 = 1
exit
