// prog-type: socket
// LD_ABS past len (50) exits with 0
r6 = r1
r0 = *(u16 *)skb[49]
r0 = 42
exit
