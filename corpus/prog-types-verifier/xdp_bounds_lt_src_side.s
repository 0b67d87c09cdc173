// prog-type: xdp
// pkt_end < pkt' taken / fallthrough gets r=off
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 8
if r3 < r4 goto l_out
r0 = *(u64 *)(r2 + 0)
exit
l_out:
r0 = 1
exit
