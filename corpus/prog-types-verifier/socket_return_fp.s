// prog-type: socket
// root may return the frame pointer
r0 = r10
exit
