0: (b7) r0 = 0
1: (a5) if r2 < 0x2 goto pc+8
2: (69) r3 = *(u16 *)(r1 +0)
3: (dc) r3 = be16 r3
4: (15) if r3 == 0x0 goto pc+5
5: (2d) if r3 > r2 goto pc+4
6: (bf) r4 = r1
7: (0f) r4 += r3
8: (71) r0 = *(u8 *)(r4 -1)
9: (47) r0 |= 256
10: (95) exit
