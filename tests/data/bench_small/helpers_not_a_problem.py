"""Not a problem file (no module class, no get_inputs): discovery must skip it."""

SCALE = 2.0
