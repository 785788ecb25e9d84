"""The opt-in attribute stage: face boxes, then age and gender bins. Importing this package loads no model.

The bins it returns indices into (``AGE_BANDS``, ``GENDERS``) are numbers-side names in ``edgeanon.counting.bins``.
"""
