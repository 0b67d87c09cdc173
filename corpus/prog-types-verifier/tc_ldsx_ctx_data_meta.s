// prog-type: tc
// a sign-extending load of __sk_buff->data_meta (a pointer field) is not
// a valid ctx access
r2 = *(s32 *)(r1 + 140)
r0 = 0
exit
