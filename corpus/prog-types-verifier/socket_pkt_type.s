// prog-type: socket
// pkt_type of the test skb
r0 = *(u32 *)(r1 + 4)
exit
