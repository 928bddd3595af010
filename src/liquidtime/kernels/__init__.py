"""Backend-specific fast paths of the cells' equations, each tested against its reference form.

A kernel computes exactly what a cell's plain ``keras.ops`` form (its ``transition``
scanned by :class:`~liquidtime.layers.ContinuousTimeRNN`) computes, faster on one
backend. Cells choose between them with their ``implementation`` argument.
"""
