// prog-type: xdp
// r2-r5 are NOT_INIT at entry
r0 = r2
exit
