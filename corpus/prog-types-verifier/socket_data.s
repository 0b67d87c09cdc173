// prog-type: socket
// sk_filter_is_valid_access: no data
r0 = *(u32 *)(r1 + 76)
exit
