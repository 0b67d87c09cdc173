// prog-type: tc
// LD_IND with an index register
r6 = r1
r7 = 10
r0 = *(u8 *)skb[r7 + 3]
r0 += 1
exit
