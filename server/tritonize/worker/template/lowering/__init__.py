"""The pieces of the fx → IR lowering (runs in the torch worker): `builder.py` makes IR nodes, one
module per op family turns calls into them, `inplace.py` functionalises in-place ops. `lower.py`
(one folder up) walks the fx graph and dispatches to them."""
