"""Conversion: a group's UVH5 subband files -> one Measurement Set (no stage code).

:func:`~contimg.conversion.ms.convert_group` does the work; the conversion stage
(:mod:`contimg.stages.convert`) adapts a stage context to it and records the
``ms_index`` row.
"""
