// prog-type: syscall
// may_access_skb: not for syscall
r6 = r1
r0 = *(u8 *)skb[0]
exit
