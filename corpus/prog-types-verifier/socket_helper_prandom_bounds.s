// prog-type: socket
// helper result is unknown: mask and branch
call 7
r0 &= 1
r0 += 10
exit
