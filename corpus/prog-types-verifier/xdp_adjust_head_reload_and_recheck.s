// prog-type: xdp
// after bpf_xdp_adjust_head the program reloads data and data_end from the ctx and checks again: accepted, and reads the packet at the new data
r6 = r1
r2 = -8
call 44
if r0 != 0 goto l_out
r2 = *(u32 *)(r6 + 0)
r3 = *(u32 *)(r6 + 4)
r4 = r2
r4 += 8
if r4 > r3 goto l_out
r0 = *(u64 *)(r2 + 0)
r0 += 7
exit
l_out:
r0 = 1
exit
