// prog-type: xdp
// a sign-extending load of xdp_md->data_end (a pointer field) is not a
// valid ctx access
r2 = *(s32 *)(r1 + 4)
r0 = 2
exit
