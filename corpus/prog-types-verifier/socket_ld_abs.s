// prog-type: socket
// LD_ABS at 0 is the network header
r6 = r1
r0 = *(u8 *)skb[0]
r0 += 5
exit
