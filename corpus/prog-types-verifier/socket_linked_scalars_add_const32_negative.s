// prog-type: socket
// linked scalars with a constant delta (6.18 BPF_ADD_CONST64/32): add_const32_negative;
// the load through r9 is dead only when the link holds
call 7
r0 &= 0xff
r1 = r0
w1 += -20
if r0 > 10 goto out
if r1 > 0xfffffff6 goto bad
goto out
bad:
r0 = *(u64 *)(r9 + 0)
out:
r0 = 0
exit
