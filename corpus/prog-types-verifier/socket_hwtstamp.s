// prog-type: socket
// hwtstamp not for socket filters
r0 = *(u64 *)(r1 + 184)
exit
