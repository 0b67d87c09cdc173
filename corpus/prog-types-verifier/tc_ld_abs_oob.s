// prog-type: tc
// LD_ABS out of bounds exits with 0
r6 = r1
r0 = *(u32 *)skb[62]
r0 = 42
exit
