// prog-type: tc
// check_ld_abs: R6 must be readable
r0 = *(u8 *)skb[0]
exit
