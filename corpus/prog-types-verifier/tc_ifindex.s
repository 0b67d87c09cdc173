// prog-type: tc
// test run skb on loopback: ifindex 1
r0 = *(u32 *)(r1 + 40)
exit
