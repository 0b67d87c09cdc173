// prog-type: socket
// LD_ABS of the last two bytes
r6 = r1
r0 = *(u16 *)skb[48]
r0 = 42
exit
