// prog-type: tc
// check_ld_abs: R6 != pointer to skb
r6 = 0
r0 = *(u8 *)skb[0]
exit
