// prog-type: xdp
// test_run_xdp: loopback ifindex 1
r0 = *(u32 *)(r1 + 12)
exit
