// prog-type: tc
// LD_ABS reads from skb->data (l2 for tc)
r6 = r1
r0 = *(u16 *)skb[12]
exit
