# expect: runtime
# problem: add_scale.py
# Uses Triton's own C-extension helper (triton.runtime.build.compile_module_from_src) at import time to
# compile and load C code whose module init creates a marker file; a failed fopen raises OSError.
import torch
import torch.nn as nn
import triton
import triton.language as tl
import triton.runtime.build as tbuild

SRC = r"""
#include <Python.h>
#include <stdio.h>
static struct PyModuleDef hostile_def = {PyModuleDef_HEAD_INIT, "hostile_native_build", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_hostile_native_build(void) {
    const char *path = "/tmp/tritonize-hostile-native-cbuild";
    FILE *f = fopen(path, "w");
    if (!f) return PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
    fputs("native code ran\n", f);
    fclose(f);
    return PyModule_Create(&hostile_def);
}
"""
tbuild.compile_module_from_src(SRC, "hostile_native_build")


@triton.jit
def add_scale_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x * 2.0 + y, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        x = x.contiguous()
        y = y.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        add_scale_kernel[(triton.cdiv(n, 1024),)](x, y, out, n, BLOCK=1024)
        return out
