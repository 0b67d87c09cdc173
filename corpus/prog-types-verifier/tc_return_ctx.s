// prog-type: tc
// root may return a pointer (allow_ptr_leaks)
r0 = r1
exit
