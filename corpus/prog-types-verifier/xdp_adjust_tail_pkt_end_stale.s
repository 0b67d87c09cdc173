// prog-type: xdp
// clear_all_pkt_pointers also clears PTR_TO_PACKET_END: comparing a fresh packet pointer with the old data_end no longer gives a range
r6 = r1
r8 = *(u32 *)(r1 + 4)
r1 = r6
r2 = -10
call 65
r2 = *(u32 *)(r6 + 0)
r4 = r2
r4 += 4
if r4 > r8 goto l_out
r0 = *(u32 *)(r2 + 0)
exit
l_out:
r0 = 1
exit
