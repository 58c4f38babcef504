# Generates the .npy/.npz fixtures in this directory with real NumPy
# (Debian python3-numpy 1.24): cd npy/testdata && /usr/bin/python3 gen.py
# The expected values in npy_test.go are written out by hand from the
# arrays below, not produced by the Go code under test.
import numpy as np
from numpy.lib import format as fmt

np.save("f4.npy", np.array([[0, -1.5, 3.25], [np.inf, -np.inf, 1e-40]], dtype="<f4"))
np.save("f8_be.npy", np.array([1.5, -2.0, 1e300], dtype=">f8"))
np.save("f2.npy", np.array([[0.5, -2], [65504, 2**-24]], dtype="<f2"))
np.save("i1.npy", np.array([-128, 0, 127], dtype="i1"))
np.save("i2_be.npy", np.array([-32768, 1, 32767], dtype=">i2"))
np.save("i4.npy", np.array([[-(2**31), 7], [2**31 - 1, 0]], dtype="<i4"))
np.save("i8.npy", np.array([-(2**63), 42, 2**63 - 1], dtype="<i8"))
np.save("u1.npy", np.array([0, 200, 255], dtype="u1"))
np.save("u2.npy", np.array([0, 65535], dtype="<u2"))
np.save("u4_be.npy", np.array([1, 4294967295], dtype=">u4"))
np.save("u8.npy", np.array([18446744073709551615, 3], dtype="<u8"))
np.save("b1.npy", np.array([[True, False, True]]))
np.save("scalar.npy", np.float32(2.5))
np.save("empty.npy", np.zeros((0, 3), dtype="<i8"))
np.save("unicode.npy", np.array([["a", "h\u00e9llo"], ["", "\u65e5\u672c"]]))
np.save("bytes.npy", np.array([b"ab", b"c"]))
with open("v2.npy", "wb") as f:
    fmt.write_array(f, np.array([1, 2, 3], dtype="<i4"), version=(2, 0))
with open("v3.npy", "wb") as f:
    fmt.write_array(f, np.array([1, 2, 3], dtype="<i4"), version=(3, 0))
np.save("fortran.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
np.save("object.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
np.savez("stored.npz", x=np.array([1.0, 2.0], dtype="<f4"), ids=np.array([[1, 2]], dtype="<i8"))
np.savez_compressed("deflated.npz", x=np.array([1.0, 2.0], dtype="<f4"), ids=np.array([[1, 2]], dtype="<i8"))
