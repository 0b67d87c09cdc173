// prog-type: tc
// check_return_code: R0 !read_ok
r2 = 1
exit
