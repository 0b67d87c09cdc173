// prog-type: tc
// check_mem_access: invalid mem access 'pkt_end'
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r0 = *(u8 *)(r3 + 0)
exit
