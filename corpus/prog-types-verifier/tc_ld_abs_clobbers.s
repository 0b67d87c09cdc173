// prog-type: tc
// check_ld_abs clobbers r1-r5
r6 = r1
r0 = *(u8 *)skb[0]
r0 = r1
exit
