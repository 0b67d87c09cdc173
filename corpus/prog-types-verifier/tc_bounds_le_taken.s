// prog-type: tc
// pkt' <= pkt_end taken gets r=off
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = r2
r4 += 4
if r4 <= r3 goto l_ok
r0 = 1
exit
l_ok:
r0 = *(u32 *)(r2 + 0)
exit
