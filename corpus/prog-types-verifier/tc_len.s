// prog-type: tc
// test_run_skb: tc is l2, len = packet length
r0 = *(u32 *)(r1 + 0)
exit
