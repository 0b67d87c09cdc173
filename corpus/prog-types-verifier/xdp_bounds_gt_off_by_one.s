// prog-type: xdp
// check_packet_access: off 14 size 1 beyond r=14
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto l_out
r0 = *(u8 *)(r2 + 14)
exit
l_out:
r0 = 1
exit
