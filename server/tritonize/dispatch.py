"""A shape-specialised kernel as a drop-in replacement: the kernels for the shapes they were made and
verified for, the original module's own forward for every other shape.

Chosen only with `shape_specialised` (a kernel made for the recipe's shapes, e.g. a static Inductor
export that raises on any other shape). The inserted class keeps the verified kernel class as its base
(`<Name>TritonKernels`) and adds a forward that checks the tensor arguments' dtypes and shapes: equal
to the recipe's → the kernels; otherwise → an instance of the original class that shares every
parameter and buffer with this one (tied again before each such call, so `load_state_dict`, `.to()`
and training updates are seen). Nothing here is a guess: the kernel path is the verified candidate, the
other path is the user's own module on the same weights; the state_dict is the kernel class's (which
verification loaded the original's state_dict into, so it is the original's).

Pure text work: runs in the server process.
"""

from __future__ import annotations

import re

_DESCRIBED = re.compile(r"^(?P<dtype>[a-z0-9_]+)\[(?P<dims>[0-9, ]*)\]$")


def parse_shapes(described: list[str]) -> list[tuple[str, tuple[int, ...]]] | None:
    """["float32[1024, 8192]", ...] (worker/trees.describe) → [("float32", (1024, 8192)), ...] for the
    tensor arguments; None when an entry is neither a tensor nor a plain value we can skip."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for text in described:
        m = _DESCRIBED.match(text.strip())
        if m is None:
            continue  # a non-tensor argument ("int 5"): not part of the check
        dims = tuple(int(d) for d in m.group("dims").split(",") if d.strip())
        out.append((m.group("dtype"), dims))
    return out or None


def kernels_name(generated: str) -> str:
    return f"{generated}Kernels"


def wrapper_class(original: str, shapes: list[tuple[str, tuple[int, ...]]], kernels: str = "ModelNewKernels",
                  name: str = "ModelNew") -> str:
    """The dispatching class `name`, subclass of the kernel class `kernels`, falling back to `original`."""
    shown = ", ".join(f"{dtype}[{', '.join(str(d) for d in dims)}]" for dtype, dims in shapes)
    table = ", ".join(f"(torch.{dtype}, {dims!r})" for dtype, dims in shapes)
    return f'''

class {name}({kernels}):
    """{original} with Triton kernels for inputs {shown} (the shapes they were made and verified
    for); any other shape runs {original}'s own forward on the same parameters and buffers."""

    KERNEL_SHAPES = ({table},)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Not a submodule (a list hides it), so the state_dict stays the kernels' (= {original}'s).
        self._original = [{original}(*args, **kwargs)]
        self._tie_original()

    def forward(self, *args):
        shapes = tuple((a.dtype, tuple(a.shape)) for a in args if isinstance(a, torch.Tensor))
        if shapes == self.KERNEL_SHAPES:
            return super().forward(*args)
        self._tie_original()
        return self._original[0](*args)

    def _tie_original(self):
        """The original module computes with this module's parameters and buffers (no copies)."""
        original = self._original[0]
        original.train(self.training)
        for name, tensor in [*self.named_parameters(), *self.named_buffers()]:
            owner_name, _, leaf = name.rpartition(".")
            owner = original.get_submodule(owner_name) if owner_name else original
            setattr(owner, leaf, tensor)  # nn.Module keeps a parameter a parameter, a buffer a buffer
'''
