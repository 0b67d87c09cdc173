// prog-type: socket
// socket filter skb was pulled past ETH_HLEN
r0 = *(u32 *)(r1 + 0)
exit
