// prog-type: xdp
// test_run_xdp: rx queue 0
r0 = *(u32 *)(r1 + 16)
exit
