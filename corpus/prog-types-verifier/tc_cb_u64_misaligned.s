// prog-type: tc
// cb[]: off % size != 0 refused
r0 = *(u64 *)(r1 + 52)
exit
