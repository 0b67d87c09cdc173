// prog-type: tc
// sign-extending load from ctx
r0 = *(s8 *)(r1 + 0)
exit
