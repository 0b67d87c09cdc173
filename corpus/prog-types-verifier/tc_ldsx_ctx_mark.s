// prog-type: tc
// a sign-extending load of a scalar __sk_buff field is valid
r2 = *(s16 *)(r1 + 8)
r0 = r2
r0 += 3
exit
