// prog-type: socket
// LD_IND with a negative offset exits with 0
r6 = r1
r7 = -1
r0 = *(u8 *)skb[r7 + 0]
r0 = 42
exit
